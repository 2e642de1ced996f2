"""What each piece of hand-written SQL saves against the ORM doing the same, per call and per request.

A quick measurement, not a test: ``python scripts/sql_gains.py`` against the PostgreSQL of
``DATABASE_URL`` (migrated; it writes scratch rows there, so never point it at a real site's).
Each use is timed against its ORM equivalent, interleaved, and the two requests that use
them (an approval: ``milestone_approve``; a clearance batch of 1,000 earnings:
``earnings_clear_batch``) are timed whole, once as written and once with every use replaced by
its ORM equivalent. docs/ARCHITECTURE.md ("When to write SQL") holds the table it printed.
"""

from __future__ import annotations

import gc
import logging
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings_test")

import django

django.setup()
logging.disable(logging.INFO)  # the tasks published after each approval are not the point here

from django.db import IntegrityError, connection, transaction  # noqa: E402
from django.db.models import Case, F, Q, Value, When  # noqa: E402
from django.utils import timezone  # noqa: E402
from djmoney.money import Money  # noqa: E402

import milestones.models as milestone_models  # noqa: E402
import notifications.services as notification_services  # noqa: E402
import payments.ledger as ledger  # noqa: E402
from milestones.models import OPEN_STATES, Milestone, MilestoneState  # noqa: E402
from notifications.models import Notification  # noqa: E402
from orders.models import Order  # noqa: E402
from payments.models import GUARDED_KINDS, Account, AccountKind, Earning, Entry, Transaction  # noqa: E402

# --- the ORM equivalents ---------------------------------------------------------------------------------------


def orm_lock_milestone(milestone_id: int) -> Milestone:
    order = Order.objects.select_for_update(of=("self",)).select_related("buyer", "seller").get(milestones=milestone_id)
    milestone = Milestone.objects.select_for_update().get(pk=milestone_id)
    milestone.order = order
    milestone._locked_values = milestone_models._values(milestone)  # type: ignore[attr-defined]
    return milestone


def orm_lock_open_milestones(order: Order) -> list[Milestone]:
    found = list(Milestone.objects.select_for_update().filter(order=order, state__in=OPEN_STATES).order_by("position"))
    for milestone in found:
        milestone.order = order
        milestone._locked_values = milestone_models._values(milestone)  # type: ignore[attr-defined]
    return found


def orm_accounts_read(wants: Any, *, currency: str, lock: bool) -> list[Account]:
    def condition(group: list) -> Q:
        q = Q(pk__in=[])
        for want in group:
            if want.kind == AccountKind.ESCROW:
                q |= Q(kind=want.kind, milestone_id=want.milestone.pk)
            elif want.user is not None:
                q |= Q(kind=want.kind, user_id=want.user.pk, currency=currency)
            else:
                q |= Q(kind=want.kind, currency=currency, user__isnull=True, milestone__isnull=True)
        return q

    guarded = [w for w in wants if w.kind in GUARDED_KINDS]
    other = [w for w in wants if w.kind not in GUARDED_KINDS]
    found = list(Account.objects.select_for_update().filter(condition(guarded)).order_by("pk")) if guarded else []
    return found + (list(Account.objects.filter(condition(other))) if other else [])


def orm_insert_transactions(txns: list[Transaction], *, on_conflict_nothing: bool = False) -> bool:
    try:
        with transaction.atomic():
            Transaction.objects.bulk_create(txns)
    except IntegrityError:
        if on_conflict_nothing:
            return False
        raise
    return True


def orm_insert_entries(entries: list[tuple[int, int, Money]]) -> None:
    Entry.objects.bulk_create(Entry(transaction_id=t, account_id=a, amount=m) for t, a, m in entries)


def orm_add_to_balances(deltas: dict[int, Decimal]) -> None:
    deltas = {pk: delta for pk, delta in deltas.items() if delta != 0}
    if deltas:
        Account.objects.filter(pk__in=deltas).update(
            balance=F("balance") + Case(*(When(pk=pk, then=Value(delta)) for pk, delta in deltas.items()))
        )


def orm_insert_notifications(notices: list) -> list[int]:
    made = Notification.objects.bulk_create(
        Notification(recipient_id=n.recipient_id, event=n.event, message=n.message[:300], url=n.url) for n in notices
    )
    return [n.pk for n in made]


# Every hand-written use and its ORM stand-in, by the module attribute that holds it.
SWAPS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "lock_milestone": (milestone_models.lock_milestone, orm_lock_milestone),
    "lock_open_milestones": (milestone_models.lock_open_milestones, orm_lock_open_milestones),
    "accounts_for": (ledger._accounts_read, orm_accounts_read),
    "insert_unnest (transactions)": (ledger._insert_transactions, orm_insert_transactions),
    "insert_unnest (entries)": (ledger._insert_entries, orm_insert_entries),
    "balances UPDATE ... unnest": (ledger._add_to_balances, orm_add_to_balances),
    "insert_unnest (notices)": (notification_services._insert_notifications, orm_insert_notifications),
}


@contextmanager
def orm_only(names: list[str] | None = None) -> Iterator[None]:
    """Every module that holds one of the hand-written functions (imported by name) holds its
    ORM stand-in for the time being."""
    chosen = {SWAPS[name][0]: SWAPS[name][1] for name in (names or SWAPS)}
    undo = []
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").split(".")[0] not in {
            "marketplace",
            "milestones",
            "payments",
            "orders",
            "notifications",
            "reviews",
            "inbox",
        }:
            continue
        for attr, value in list(vars(module).items()):
            if callable(value) and value in chosen:
                undo.append((module, attr, value))
                setattr(module, attr, chosen[value])
    try:
        yield
    finally:
        for module, attr, value in undo:
            setattr(module, attr, value)


# --- timing -----------------------------------------------------------------------------------------------------


def cpu_ns() -> int:
    """CPU time spent so far by this thread and by its PostgreSQL backend (``/proc/*/schedstat``,
    in ns): unlike the wall clock, it does not count the time spent waiting for a core that another
    process holds, so it can be measured on a busy machine."""
    with connection.cursor() as cursor:
        pid = cursor.connection.info.backend_pid
    ours = Path("/proc/thread-self/schedstat").read_text().split()[0]
    theirs = Path(f"/proc/{pid}/schedstat").read_text().split()[0]
    return int(ours) + int(theirs)


def per_call(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """µs per call: wall clock, and CPU (ours and the database's)."""
    cpu, start = cpu_ns(), time.perf_counter()
    for _ in range(n):
        fn()
    wall, cpu = time.perf_counter() - start, cpu_ns() - cpu
    return wall / n * 1e6, cpu / n / 1e3


def compare(
    name: str, hand: Callable[[], Any], orm: Callable[[], Any], n: int = 30, rounds: int = 15
) -> dict[str, Any]:
    """µs per call of each, the two interleaved round by round, inside one transaction rolled back
    after: the median CPU (this process's and its PostgreSQL backend's), and the fastest wall time."""
    hands, orms = [], []
    with rollback():
        hand(), orm()  # warm
        for _ in range(rounds):
            gc.collect()
            hands.append(per_call(hand, n))
            gc.collect()
            orms.append(per_call(orm, n))
    result: dict[str, Any] = {
        "use": name,
        "hand": statistics.median(c for _, c in hands),
        "orm": statistics.median(c for _, c in orms),
        "hand_wall": min(w for w, _ in hands),
        "orm_wall": min(w for w, _ in orms),
    }
    print(
        f"{name:34} CPU hand {result['hand']:8.1f} µs  ORM {result['orm']:8.1f} µs"
        f"  saved {result['orm'] - result['hand']:8.1f}"
        f"   | wall {result['hand_wall']:8.1f} / {result['orm_wall']:8.1f}",
        flush=True,
    )
    return result


class _Rollback(Exception):
    pass


@contextmanager
def rollback() -> Iterator[None]:
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


# --- data -------------------------------------------------------------------------------------------------------


def in_review(count: int) -> list[int]:
    from tests.factories import OrderFactory, UserFactory, milestone_in

    ids = []
    for _ in range(count):
        tag = uuid.uuid4().hex[:8]
        order: Any = OrderFactory(buyer=UserFactory(username=f"b{tag}"), seller=UserFactory(username=f"s{tag}"))
        ids.append(milestone_in(MilestoneState.IN_REVIEW, order=order).pk)
    return ids


def due_earnings(template: Milestone, count: int) -> list[int]:
    """``count`` pending earnings due now, each of its own approved milestone (copies of ``template``),
    for 100 sellers whose pending accounts hold enough."""
    from tests.factories import UserFactory

    sellers: list[Any] = [UserFactory(username=f"c{uuid.uuid4().hex[:8]}") for _ in range(100)]
    order = template.order
    last = Milestone.objects.filter(order=order).order_by("-position").values_list("position", flat=True)[0]
    copies = []
    for i in range(count):
        copy = Milestone.objects.get(pk=template.pk)
        copy.pk = None
        copy._state.adding = True
        copy.position = last + 1 + i
        copy.funding_key = uuid.uuid4().hex
        copies.append(copy)
    copies = Milestone.objects.bulk_create(copies)
    now = timezone.now()
    earnings = []
    for i, milestone in enumerate(copies):
        seller = sellers[i % len(sellers)]
        earning = Earning(
            seller=seller,
            milestone=milestone,
            gross=Money("100.00", "USD"),
            fee=Money("10.00", "USD"),
            net=Money("90.00", "USD"),
            clears_at=now - timedelta(minutes=1),
        )
        earning.seal()
        earnings.append(earning)
    made = Earning.objects.bulk_create(earnings)
    for seller in sellers:
        for kind in (AccountKind.SELLER_PENDING, AccountKind.SELLER_AVAILABLE):
            ledger.account_for(kind=kind, currency="USD", user=seller)
    Account.objects.filter(user__in=sellers, kind=AccountKind.SELLER_PENDING).update(balance=Decimal("1000000"))
    return [e.pk for e in made]


# --- the requests -------------------------------------------------------------------------------------------------


def time_approval(pk: int, orm: bool) -> float:
    from milestones.services.lifecycle import milestone_approve

    buyer = Milestone.objects.select_related("order__buyer").get(pk=pk).order.buyer
    gc.collect()
    with orm_only() if orm else _nothing():
        start = cpu_ns()
        milestone_approve(milestone=Milestone(pk=pk), actor=buyer)
        return (cpu_ns() - start) / 1e3


def time_clearance(template: Milestone, orm: list[str] | None) -> float:
    """One batch of 1,000 due earnings cleared; ``orm``: the uses replaced by the ORM (all if empty)."""
    from payments.services import earnings_clear_batch

    with rollback():
        ids = due_earnings(template, 1000)
        gc.collect()
        with orm_only(orm or None) if orm is not None else _nothing():
            start = cpu_ns()
            cleared = earnings_clear_batch(earning_ids=ids)
            spent = cpu_ns() - start
        assert len(cleared) == 1000, len(cleared)
    return spent / 1e3


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def main() -> None:
    assert connection.vendor == "postgresql", "measure on PostgreSQL, as production runs"
    print(f"PostgreSQL {connection.cursor().connection.info.server_version}", flush=True)
    ids = in_review(42)
    spare = in_review(1)[0]
    results = []
    with rollback():
        milestone = milestone_models.lock_milestone(spare)
    order = milestone.order
    results.append(
        compare(
            "lock_milestone",
            lambda: _atomic(milestone_models.lock_milestone, spare),
            lambda: _atomic(orm_lock_milestone, spare),
        )
    )
    results.append(
        compare(
            "lock_open_milestones",
            lambda: milestone_models.lock_open_milestones(order),
            lambda: orm_lock_open_milestones(order),
        )
    )
    wants = {
        "escrow": ledger.Want(AccountKind.ESCROW, milestone=milestone),
        "fees": ledger.Want(AccountKind.PLATFORM_FEES),
        "balance": ledger.Want(AccountKind.BUYER_BALANCE, user=order.buyer, optional=True),
        "pending": ledger.Want(AccountKind.SELLER_PENDING, user=order.seller),
    }
    ledger.accounts_for(wants, currency="USD")  # made once, outside the timing
    results.append(
        compare(
            "accounts_for (lock=True)",
            lambda: ledger._accounts_read(list(wants.values()), currency="USD", lock=True),
            lambda: orm_accounts_read(list(wants.values()), currency="USD", lock=True),
        )
    )
    accounts = ledger.accounts_for(wants, currency="USD")
    escrow, fees = accounts["escrow"], accounts["fees"]

    def txn() -> Transaction:
        return Transaction(
            idempotency_key=uuid.uuid4().hex,
            kind="release",
            memo="m",
            milestone_id=spare,
            created_at=timezone.now(),
            mac="x",
        )

    results.append(
        compare(
            "insert_unnest (1 transaction)",
            lambda: ledger._insert_transactions([txn()], on_conflict_nothing=True),
            lambda: orm_insert_transactions([txn()], on_conflict_nothing=True),
        )
    )
    with rollback():
        one = txn()
        ledger._insert_transactions([one])
        entries = [
            (one.pk, escrow.pk, Money("-10.00", "USD")),
            (one.pk, fees.pk, Money("10.00", "USD")),
            (one.pk, fees.pk, Money("0.00", "USD")),
        ]
        results.append(
            compare(
                "insert_unnest (3 entries)",
                lambda: ledger._insert_entries(entries),
                lambda: orm_insert_entries(entries),
            )
        )
        many_entries = [(one.pk, fees.pk, Money("1.00", "USD"))] * 2000
        results.append(
            compare(
                "insert_unnest (2,000 entries)",
                lambda: ledger._insert_entries(many_entries),
                lambda: orm_insert_entries(many_entries),
                n=1,
                rounds=9,
            )
        )
    results.append(
        compare(
            "insert_unnest (1,000 transactions)",
            lambda: ledger._insert_transactions([txn() for _ in range(1000)]),
            lambda: orm_insert_transactions([txn() for _ in range(1000)]),
            n=1,
            rounds=9,
        )
    )
    deltas = {escrow.pk: Decimal("0.01"), accounts["pending"].pk: Decimal("0.01")}
    results.append(
        compare(
            "balances UPDATE (2 accounts)", lambda: ledger._add_to_balances(deltas), lambda: orm_add_to_balances(deltas)
        )
    )
    with rollback():
        many = two_hundred_accounts()
        results.append(
            compare(
                "balances UPDATE (200 accounts)",
                lambda: ledger._add_to_balances(many),
                lambda: orm_add_to_balances(many),
                n=3,
                rounds=9,
            )
        )

    from notifications.services import Notice

    batch = [Notice(recipient_id=order.seller_id, event="money_cleared", message="Cleared.", url="/earnings/")] * 1000
    results.append(
        compare(
            "insert_unnest (1,000 notices)",
            lambda: notification_services._insert_notifications(batch),
            lambda: orm_insert_notifications(batch),
            n=1,
            rounds=9,
        )
    )

    print("\nWhole requests, CPU (ours and the database's; the least, and the median, of alternate runs):", flush=True)
    time_approval(ids.pop(), orm=False), time_approval(ids.pop(), orm=True)  # warm
    hand: list[float] = []
    orm: list[float] = []
    for i, pk in enumerate(ids):
        (orm if i % 2 else hand).append(time_approval(pk, orm=bool(i % 2)))
    report("milestone_approve", hand, orm)
    template = Milestone.objects.get(pk=ids[0])
    hand, orm = [], []
    for _ in range(5):
        hand.append(time_clearance(template, orm=None))
        orm.append(time_clearance(template, orm=[]))
    report("earnings_clear_batch (1,000)", hand, orm)


def two_hundred_accounts() -> dict[int, Decimal]:
    """200 sellers' pending accounts, each to move by a cent."""
    from accounts.models import User

    tag = uuid.uuid4().hex[:8]
    users = User.objects.bulk_create(User(username=f"a{tag}{i}", email=f"a{tag}{i}@example.com") for i in range(200))
    made = Account.objects.bulk_create(
        Account(kind=AccountKind.SELLER_PENDING, currency="USD", user=user) for user in users
    )
    return {account.pk: Decimal("0.01") for account in made}


def report(name: str, hand: list[float], orm: list[float]) -> None:
    print(
        f"{name:34} hand {min(hand):8.0f} µs (median {statistics.median(hand):8.0f})"
        f"   ORM {min(orm):8.0f} µs (median {statistics.median(orm):8.0f})",
        flush=True,
    )


def _atomic(fn: Callable[[int], Any], arg: int) -> Any:
    with transaction.atomic():
        return fn(arg)


if __name__ == "__main__":
    main()
