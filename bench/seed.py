# ruff: noqa: S105, S608
# (SQL built from the bench's own constants; a throwaway password for bench users)
"""Seed the benchmark database quickly, with a ledger that stays true.

Two kinds of data:

* **Bulk history** (`bulk_block`): tens of thousands of orders, each with one
  milestone, written with set-based SQL. Every funded milestone gets the same
  ledger rows the services would post: a balanced ``fund`` transaction
  (gateway -> escrow + platform fees) and, once approved, a balanced
  ``release`` transaction (escrow -> seller pending + platform fees) with its
  pending ``Earning``. The cached balances of the guarded accounts are then
  recomputed from the entries, and ``ledger_audit`` must pass at the end.
* **Showcase orders** built through the real services (`showcase_order`): the
  order page's 50 milestones in mixed states, with their activity log and
  notifications exactly as users would produce them.

Ids are allocated explicitly (``reserve``) and each table's ids start at a
different multiple of ten million, so an id of one table can never be mistaken
for an id of another when the approve SQL is turned into a pgbench script.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone
from djmoney.money import Money

PASSWORD = "bench-password-not-secret"
CURRENCY = "USD"

# Each table's ids live in their own range: 10M * n.
ID_RANGES = {
    "marketplace_user": 10_000_000,
    "orders_order": 20_000_000,
    "milestones_milestone": 30_000_000,
    "payments_account": 40_000_000,
    "payments_transaction": 50_000_000,
    "payments_earning": 60_000_000,
    "milestones_delivery": 70_000_000,
    "orders_activity": 80_000_000,
    "marketplace_notification": 90_000_000,
    "payments_entry": 100_000_000,
    "orders_ordermessage": 110_000_000,
    "marketplace_gig": 120_000_000,
}


def _seq(cur, table: str) -> str:
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    return cur.fetchone()[0]


def separate_id_ranges() -> None:
    with connection.cursor() as cur:
        for table, start in ID_RANGES.items():
            cur.execute("SELECT setval(%s, %s, false)", [_seq(cur, table), start])


def reserve(cur, table: str, k: int) -> int:
    """Take ``k`` consecutive ids of ``table``'s sequence; returns the first."""
    seq = _seq(cur, table)
    cur.execute("SELECT nextval(%s)", [seq])
    base = cur.fetchone()[0]
    cur.execute("SELECT setval(%s, %s)", [seq, base + k - 1])
    return base


def create_users(prefix: str, k: int, *, method: str = "bank_transfer") -> int:
    password = make_password(PASSWORD)
    with transaction.atomic(), connection.cursor() as cur:
        base = reserve(cur, "marketplace_user", k)
        cur.execute(
            """
            INSERT INTO marketplace_user (id, password, is_superuser, username, first_name, last_name, email,
                is_staff, is_active, date_joined, withdrawal_method, payout_account, payout_token, bio, refund_to,
                rating_count, time_zone, email_notifications)
            SELECT %(base)s + i, %(password)s, false, %(prefix)s || i, '', '', %(prefix)s || i || '@example.com',
                false, true, now(), %(method)s, '•••• 5555', 'pdt_sandbox_bench', '', 'balance', 0, 'UTC', 'all'
            FROM generate_series(0, %(k)s - 1) AS i
            """,
            {"base": base, "password": password, "prefix": prefix, "k": k, "method": method},
        )
        # Confirmed addresses, as after allauth's link: paying and withdrawing need one.
        cur.execute(
            """
            INSERT INTO account_emailaddress (user_id, email, verified, "primary")
            SELECT %(base)s + i, %(prefix)s || i || '@example.com', true, true FROM generate_series(0, %(k)s - 1) AS i
            """,
            {"base": base, "prefix": prefix, "k": k},
        )
    return base


def create_block_accounts(seller0: int, buyer0: int, k: int) -> dict[str, int]:
    """Accounts of ``k`` dedicated seller/buyer pairs with consecutive ids
    (the pgbench script computes them from the row number)."""
    bases = {}
    with transaction.atomic(), connection.cursor() as cur:
        for kind, owner0 in (("seller_pending", seller0), ("seller_available", seller0), ("buyer_balance", buyer0)):
            base = reserve(cur, "payments_account", k)
            cur.execute(
                """
                INSERT INTO payments_account (id, kind, currency, balance, created_at, user_id, milestone_id)
                SELECT %s + i, %s, %s, 0, now(), %s + i, NULL FROM generate_series(0, %s - 1) AS i
                """,
                [base, kind, CURRENCY, owner0, k],
            )
            bases[kind] = base
    return bases


def create_all_user_accounts() -> None:
    """Every user's pending, available and buyer-balance account, as the
    services would create on first use; the platform's accounts too."""
    from payments.ledger import account_for
    from payments.models import AccountKind

    account_for(kind=AccountKind.GATEWAY, currency=CURRENCY)
    account_for(kind=AccountKind.PLATFORM_FEES, currency=CURRENCY)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO payments_account (kind, currency, balance, created_at, user_id, milestone_id)
            SELECT k.kind, %s, 0, now(), u.id, NULL
            FROM marketplace_user u
            CROSS JOIN (VALUES ('seller_pending'), ('seller_available'), ('buyer_balance')) AS k(kind)
            ORDER BY u.id, k.kind
            ON CONFLICT DO NOTHING
            """,
            [CURRENCY],
        )


@dataclass
class Block:
    name: str
    k: int
    orders: int
    milestones: int
    escrows: int
    fund_txns: int
    release_txns: int
    earnings: int
    deliveries: int


def bulk_block(
    name: str,
    k: int,
    *,
    seller: str,
    buyer: str,
    state: str,
    clears_at: str,
    amount: str = "100 + (i % 50) + (i % 7) * 0.25",
) -> Block:
    """``k`` orders with one milestone each. ``seller``, ``buyer``, ``state``,
    ``clears_at`` and ``amount`` are SQL expressions of the row number ``i``;
    ``state`` is one of approved (pending earning), in_progress or in_review."""
    from payments.models import Account, AccountKind

    def esc(expr: str) -> str:
        return expr.replace("%", "%%")

    gateway = Account.objects.get(kind=AccountKind.GATEWAY, currency=CURRENCY, user=None, milestone=None).pk
    fees = Account.objects.get(kind=AccountKind.PLATFORM_FEES, currency=CURRENCY, user=None, milestone=None).pk
    with transaction.atomic(), connection.cursor() as cur:
        b = Block(
            name=name,
            k=k,
            orders=reserve(cur, "orders_order", k),
            milestones=reserve(cur, "milestones_milestone", k),
            escrows=reserve(cur, "payments_account", k),
            fund_txns=reserve(cur, "payments_transaction", k),
            release_txns=reserve(cur, "payments_transaction", k),
            earnings=reserve(cur, "payments_earning", k),
            deliveries=reserve(cur, "milestones_delivery", k),
        )
        cur.execute("DROP TABLE IF EXISTS bench_plan")
        cur.execute(
            f"""
            CREATE TEMP TABLE bench_plan AS
            SELECT i, ({esc(seller)})::bigint AS seller_id, ({esc(buyer)})::bigint AS buyer_id,
                   ({esc(state)})::text AS state, ({esc(clears_at)})::timestamptz AS clears_at,
                   ({esc(amount)})::numeric(14, 2) AS amount,
                   now() - (i %% 5000) * interval '7 minutes' AS at
            FROM generate_series(0, %(k)s - 1) AS i
            """,
            {"k": k},
        )
        cur.execute(
            """
            ALTER TABLE bench_plan ADD COLUMN bf numeric(14, 2), ADD COLUMN sf numeric(14, 2);
            UPDATE bench_plan SET bf = round(amount * 0.055, 2), sf = round(amount * 0.20, 2);
            """
        )
        p = {
            "o": b.orders,
            "m": b.milestones,
            "e": b.escrows,
            "ft": b.fund_txns,
            "rt": b.release_txns,
            "ea": b.earnings,
            "d": b.deliveries,
            "gw": gateway,
            "fees": fees,
            "cur": CURRENCY,
            "name": name,
        }
        cur.execute(
            """
            INSERT INTO orders_order (id, title, brief, currency, status, created_at, updated_at, completed_at,
                buyer_id, gig_id, seller_id, completed_automatically)
            SELECT %(o)s + i, %(name)s || ' order ' || i, 'Bench brief.', %(cur)s,
                   CASE WHEN state = 'approved' THEN 'awaiting_milestone' ELSE 'active' END,
                   at, at, NULL, buyer_id, NULL, seller_id, false
            FROM bench_plan;

            INSERT INTO milestones_milestone (id, position, title, description, deadline, amount_currency, amount,
                buyer_fee_currency, buyer_fee, seller_fee_currency, seller_fee, state, funding_key, created_at,
                accepted_at, started_at, submitted_at, approved_at, closed_at, auto_approve_at, late_flagged_at,
                revision_count, decline_reason, order_id, buyer_id, seller_id)
            SELECT %(m)s + i, 1, 'Phase ' || i, 'Bench deliverables.', now() + interval '7 days',
                   %(cur)s, amount, %(cur)s, bf,
                   CASE WHEN state = 'approved' THEN %(cur)s END, CASE WHEN state = 'approved' THEN sf END,
                   state, 'bench-' || (%(m)s + i), at, at, at,
                   CASE WHEN state IN ('approved', 'in_review') THEN at END,
                   CASE WHEN state = 'approved' THEN at END, CASE WHEN state = 'approved' THEN at END,
                   CASE WHEN state = 'in_review' THEN now() + interval '7 days' END, NULL,
                   0, '', %(o)s + i, buyer_id, seller_id
            FROM bench_plan;

            INSERT INTO payments_account (id, kind, currency, balance, created_at, milestone_id, user_id)
            SELECT %(e)s + i, 'escrow', %(cur)s, 0, at, %(m)s + i, NULL FROM bench_plan;

            INSERT INTO payments_transaction (id, idempotency_key, kind, memo, created_at, actor_id, milestone_id, mac)
            SELECT %(ft)s + i, 'fund:bench-' || (%(m)s + i), 'fund', 'Card charge (bench seed)', at, buyer_id,
                   %(m)s + i, ''
            FROM bench_plan;

            INSERT INTO payments_entry (amount_currency, amount, account_id, transaction_id)
            SELECT %(cur)s, x.amount, x.account_id, %(ft)s + i
            FROM bench_plan
            CROSS JOIN LATERAL (VALUES (%(gw)s::bigint, -(amount + bf)), (%(e)s + i, amount), (%(fees)s, bf))
                AS x(account_id, amount);

            INSERT INTO payments_transaction (id, idempotency_key, kind, memo, created_at, actor_id, milestone_id, mac)
            SELECT %(rt)s + i, 'settle:' || (%(m)s + i), 'release', 'Milestone “Phase ' || i || '”', at,
                   buyer_id, %(m)s + i, ''
            FROM bench_plan WHERE state = 'approved';

            INSERT INTO payments_entry (amount_currency, amount, account_id, transaction_id)
            SELECT %(cur)s, x.amount, x.account_id, %(rt)s + i
            FROM bench_plan
            JOIN payments_account pa ON pa.user_id = bench_plan.seller_id AND pa.kind = 'seller_pending'
                 AND pa.currency = %(cur)s
            CROSS JOIN LATERAL (VALUES (%(e)s + i, -amount), (pa.id, amount - sf), (%(fees)s::bigint, sf))
                AS x(account_id, amount)
            WHERE state = 'approved';

            INSERT INTO payments_earning (id, gross_currency, gross, fee_currency, fee, net_currency, net, status,
                clears_at, cleared_at, created_at, milestone_id, seller_id, mac)
            SELECT %(ea)s + i, %(cur)s, amount, %(cur)s, sf, %(cur)s, amount - sf, 'pending', clears_at, NULL, at,
                   %(m)s + i, seller_id, ''
            FROM bench_plan WHERE state = 'approved';

            INSERT INTO milestones_delivery (id, number, message, links, created_at, author_id, milestone_id)
            SELECT %(d)s + i, 1, 'Done, see the link.', '["https://example.com/work"]'::jsonb, at, seller_id,
                   %(m)s + i
            FROM bench_plan WHERE state = 'in_review';
            """,
            p,
        )
        cur.execute("DROP TABLE bench_plan")
    return b


def recompute_cached_balances() -> None:
    """The cached balance of every guarded account, from its entries."""
    from payments.models import GUARDED_KINDS

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            UPDATE payments_account a SET balance = t.total
            FROM (SELECT account_id, SUM(amount) AS total FROM payments_entry GROUP BY account_id) t
            WHERE a.id = t.account_id AND a.kind = ANY(%s) AND a.balance <> t.total
            """,
            [[str(k) for k in GUARDED_KINDS]],
        )


def _pay_in_sandbox(milestone):
    """The buyer pays the milestone's checkout on the sandbox provider's page."""
    from demo.checkout import pay_in_sandbox

    pay_in_sandbox(milestone, site="http://bench.invalid", webhook=False)
    milestone.refresh_from_db()
    return milestone


def showcase_order(*, buyer, seller, milestones: int, approved: int, accepted: int, messages: int):
    """An order built through the services, like users would: ``approved``
    milestones approved one after another, the next one in review, then
    ``accepted`` queued ones, the rest awaiting acceptance."""
    from gigs.services import gig_create
    from milestones.services.creation import milestone_create
    from milestones.services.lifecycle import milestone_accept, milestone_approve, milestone_submit
    from orders.models import OrderMessage
    from orders.services import order_create
    from payments.services import FundingSource

    card = FundingSource(method="checkout")
    gig = gig_create(
        seller=seller,
        title="I will build your app, one milestone at a time",
        description="Design, build, test.",
        starting_price=Money("100.00", CURRENCY),
        delivery_days=14,
    )
    order = order_create(buyer=buyer, gig=gig, title=f"Showcase with {milestones} milestones", brief="The big one.")
    created = []
    for n in range(milestones):
        created.append(
            milestone_create(
                order=order,
                actor=buyer,
                title=f"Phase {n + 1}: screens and tests",
                description="Wireframes, then the screens, then tests for each.",
                deadline=timezone.now() + timedelta(days=7 + n),
                amount=Money(f"{120 + n}.50", CURRENCY),
                source=card,
                idempotency_key=uuid.uuid4().hex,
            )
        )
    created = [_pay_in_sandbox(m) for m in created]
    for m in created[: approved + 1 + accepted]:
        milestone_accept(milestone=m, actor=seller)
    for n, m in enumerate(created[: approved + 1]):
        milestone_submit(milestone=m, actor=seller, message="Done, see the link.", links=["https://example.com/w"])
        if n < approved:
            milestone_approve(milestone=m, actor=buyer)
    now = timezone.now()
    OrderMessage.objects.bulk_create(
        OrderMessage(
            order=order,
            author=buyer if n % 2 else seller,
            body=f"Message {n}: how is phase {n % milestones + 1} going? <b>not bold</b>",
            created_at=now,
        )
        for n in range(messages)
    )
    return order


def seal_bulk_rows() -> int:
    """The MACs ``ledger_post`` and ``Earning.save`` would have written, for the
    rows seeded in SQL: written with the triggers off (``session_replication_role``,
    the bench runs as a superuser), since transactions are append-only.
    Returns how many transactions it sealed."""
    from collections import defaultdict

    from marketplace.mac import content_mac
    from payments.integrity import TRANSACTION_HEAD, head_mac
    from payments.models import Earning, Entry, Transaction

    sealed = 0
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        last = 0
        while True:
            rows = list(
                Transaction.objects.filter(mac="", id__gt=last).order_by("id").values("id", *TRANSACTION_HEAD)[:5000]
            )
            if not rows:
                break
            last = rows[-1]["id"]
            entries = defaultdict(list)
            for txn_id, account_id, amount, currency in Entry.objects.filter(
                transaction_id__in=[r["id"] for r in rows]
            ).values_list("transaction_id", "account_id", "amount", "amount_currency"):
                entries[txn_id].append((account_id, amount, currency))
            macs = [head_mac([r[name] for name in TRANSACTION_HEAD], entries[r["id"]]) for r in rows]
            cur.execute(
                "UPDATE payments_transaction t SET mac = v.mac FROM unnest(%s::bigint[], %s::text[]) AS v(id, mac) "
                "WHERE t.id = v.id",
                [[r["id"] for r in rows], macs],
            )
            sealed += len(rows)
        last = 0
        while True:
            earnings = list(Earning.objects.filter(mac="", id__gt=last).order_by("id")[:5000])
            if not earnings:
                break
            last = earnings[-1].pk
            cur.execute(
                "UPDATE payments_earning e SET mac = v.mac FROM unnest(%s::bigint[], %s::text[]) AS v(id, mac) "
                "WHERE e.id = v.id",
                [[e.pk for e in earnings], [content_mac("earning", e.mac_content()) for e in earnings]],
            )
    return sealed
