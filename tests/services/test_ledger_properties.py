"""Random sequences of everything users, staff and the system do, over several
orders and users; after every step the ledger audit passes, money is
conserved, and each milestone is in the state the rules predict.

The machine keeps its own model of the expected states (the table in
ARCHITECTURE.md plus "one phase in work at a time"), so a service that
allowed a move it should have refused, or refused one it should have allowed,
fails here even if the money happened to add up. Refused calls must leave the
world exactly as it was.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from djmoney.money import Money
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts.models import WithdrawalMethod
from marketplace.errors import DomainError, InsufficientFunds, InvalidTransition
from milestones import services
from milestones.models import CLOSED_STATES, IN_WORK_STATES, Milestone
from milestones.models import MilestoneState as S
from milestones.services import order_complete
from orders.models import Order, OrderStatus
from payments.audit import ledger_audit
from payments.fees import buyer_service_fee
from payments.models import AccountKind, Earning, EarningStatus, Withdrawal, WithdrawalStatus
from payments.services import FundingSource, earning_clear, withdrawal_process, withdrawal_request
from tests.factories import CARD, OrderFactory, StaffFactory, UserFactory, pay_checkout
from tests.services.ledger_checks import assert_money_conserved, balance

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")
SOURCES = {
    "accept": {S.AWAITING_ACCEPTANCE},
    "decline": {S.AWAITING_ACCEPTANCE},
    "cancel": {S.AWAITING_ACCEPTANCE, S.ACCEPTED},
    "submit": {S.IN_PROGRESS, S.REVISION_REQUESTED},
    "revision": {S.IN_REVIEW},
    "approve": {S.IN_REVIEW},
    "dispute": {S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED},
    "resolve": {S.DISPUTED},
}
TARGET = {
    "decline": S.DECLINED,
    "cancel": S.CANCELLED,
    "submit": S.IN_REVIEW,
    "revision": S.REVISION_REQUESTED,
    "approve": S.APPROVED,
    "dispute": S.DISPUTED,
    "resolve": S.RESOLVED,
}

picks = st.integers(min_value=0, max_value=10_000)
# The steps that take a new milestone towards each state (a queued accept makes the rest refusals).
PATHS = {
    S.AWAITING_ACCEPTANCE: [],
    S.IN_PROGRESS: ["accept"],
    S.IN_REVIEW: ["accept", "submit"],
    S.REVISION_REQUESTED: ["accept", "submit", "revision"],
    S.APPROVED: ["accept", "submit", "approve"],
    S.DECLINED: ["decline"],
    S.CANCELLED: ["cancel"],
    S.DISPUTED: ["accept", "submit", "dispute"],
    S.RESOLVED: ["accept", "dispute", "resolve"],
}


def footprint() -> tuple:
    """A cheap fingerprint of everything a service writes, in one query.

    The full ``world()`` comparison runs in the matrix tests; here, after
    every random step, this plus the state-model invariant keeps it fast.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT count(*) FROM payments_transaction),
                   (SELECT count(*) FROM payments_entry),
                   (SELECT count(*) FROM payments_account),
                   (SELECT coalesce(sum(balance * id), 0) FROM payments_account),
                   (SELECT count(*) FROM sandbox_sandboxoperation),
                   (SELECT count(*) FROM payments_earning),
                   (SELECT count(*) FROM payments_withdrawal),
                   (SELECT count(*) FROM orders_activity),
                   (SELECT count(*) FROM marketplace_notification),
                   (SELECT count(*) FROM milestones_milestone),
                   (SELECT count(*) FROM milestones_dispute),
                   (SELECT count(*) FROM milestones_delivery),
                   (SELECT count(*) FROM milestones_revisionrequest),
                   (SELECT string_agg(id || state || revision_count, ',' ORDER BY id) FROM milestones_milestone),
                   (SELECT string_agg(id || status, ',' ORDER BY id) FROM orders_order)
            """
        )
        return cursor.fetchone()


class Marketplace(RuleBasedStateMachine):
    def __init__(self):  # untyped: factories are not typed as their models
        super().__init__()
        # Each example runs in its own savepoint, rolled back in teardown: a clean start every time.
        self._atomic = transaction.atomic()
        # The harness's block, as a TestCase's: the provider may be called inside it
        # (payments.providers.assert_no_transaction), the services' own blocks not.
        self._atomic._from_testcase = True  # type: ignore[attr-defined]
        self._atomic.__enter__()
        methods = [WithdrawalMethod.PAYPAL, WithdrawalMethod.INSTANT, WithdrawalMethod.BANK_TRANSFER]
        self.users = [UserFactory(withdrawal_method=m) for m in methods]
        self.users[0].payout_account = "000111111116"  # the sandbox's failing bank account
        self.users[0].save(update_fields=["payout_account"])
        self.staff = StaffFactory()
        u = self.users
        # Everyone buys and sells: a ring of orders plus a second order on one pair.
        self.orders = [
            OrderFactory(buyer=u[0], seller=u[1]),
            OrderFactory(buyer=u[1], seller=u[2]),
            OrderFactory(buyer=u[2], seller=u[0]),
            OrderFactory(buyer=u[0], seller=u[1]),
        ]
        self.completed: set[int] = set()
        self.milestones: list[int] = []  # in creation order, so position order within an order
        self.order_of: dict[int, int] = {}
        self.expected: dict[int, str] = {}
        self.clock = timezone.now()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- the model ---------------------------------------------------------------------

    def _open_of(self, order_id: int) -> list[int]:
        return [m for m in self.milestones if self.order_of[m] == order_id and self.expected[m] not in CLOSED_STATES]

    def _activate_next(self, order_id: int) -> None:
        open_ones = self._open_of(order_id)
        if open_ones and self.expected[open_ones[0]] == S.ACCEPTED:
            self.expected[open_ones[0]] = S.IN_PROGRESS

    def _eligible(self, action: str) -> list[int]:
        return [m for m in self.milestones if self.expected[m] in SOURCES[action]]

    def _load(self, pk: int) -> Milestone:
        return Milestone.objects.select_related("order__buyer", "order__seller").get(pk=pk)

    def _call(self, action: str, milestone: Milestone, *, by_buyer: bool = True, outcome: str = "refund", part=None):
        buyer, seller = milestone.order.buyer, milestone.order.seller
        if action == "accept":
            return services.milestone_accept(milestone=milestone, actor=seller)
        if action == "decline":
            return services.milestone_decline(milestone=milestone, actor=seller, reason="Busy")
        if action == "cancel":
            return services.milestone_cancel(milestone=milestone, actor=buyer)
        if action == "submit":
            return services.milestone_submit(milestone=milestone, actor=seller, message="Done")
        if action == "revision":
            return services.milestone_request_revision(milestone=milestone, actor=buyer, feedback="More")
        if action == "approve":
            return services.milestone_approve(milestone=milestone, actor=buyer)
        if action == "dispute":
            return services.milestone_open_dispute(
                milestone=milestone, actor=buyer if by_buyer else seller, reason="Stuck"
            )
        if action == "resolve":
            return services.dispute_resolve(
                dispute=milestone.dispute, actor=self.staff, outcome=outcome, seller_amount=part
            )
        raise AssertionError(action)

    def _do(self, action: str, pk: int, **options) -> None:
        """Call a service; it must succeed exactly when the model says so, and a refusal changes nothing."""
        milestone = self._load(pk)
        state = self.expected[pk]
        allowed = state in SOURCES[action]
        if action == "resolve" and not hasattr(milestone, "dispute"):
            return  # never disputed: there is nothing for staff to resolve
        before = footprint()
        try:
            self._call(action, milestone, **options)
        except DomainError as refused:
            assert not allowed, f"{action} on a {state} milestone was refused: {refused}"
            assert footprint() == before, f"refused {action} changed something"
            return
        assert allowed, f"{action} on a {state} milestone was allowed"
        event(f"{action} done")
        if action == "accept":
            earlier = [m for m in self._open_of(milestone.order_id) if m < pk]
            self.expected[pk] = S.ACCEPTED if earlier else S.IN_PROGRESS
        else:
            self.expected[pk] = TARGET[action]
        if self.expected[pk] in CLOSED_STATES:
            self._activate_next(milestone.order_id)

    # --- rules: mostly the right moment, so the sequences go deep ---------------------------

    @initialize(
        starts=st.lists(
            st.tuples(st.sampled_from(sorted(PATHS)), picks, st.sampled_from(["release", "refund", "split"])),
            min_size=1,
            max_size=5,
        )
    )
    def milestones_already_under_way(self, starts) -> None:
        """Start from milestones already driven, by the same checked steps, towards random states."""
        for target, o, outcome in starts:
            self.create(o=o, cents=1001 + o % 50_000, from_balance=False)
            pk = self.milestones[-1]
            for action in PATHS[target]:
                options = {"outcome": outcome, "part": Money("5.00", "USD") if outcome == "split" else None}
                self._do(action, pk, **(options if action == "resolve" else {}))

    @rule(
        o=picks,
        cents=st.one_of(st.integers(min_value=500, max_value=50_000), st.sampled_from([500, 700, 1001, 10_000_000])),
        from_balance=st.booleans(),
    )
    def create(self, o: int, cents: int, from_balance: bool) -> None:
        order = Order.objects.select_related("buyer", "seller").get(pk=self.orders[o % len(self.orders)].pk)
        amount = Money(Decimal(cents) / 100, "USD")
        total = amount + buyer_service_fee(amount)
        can_pay = not from_balance or balance(AccountKind.BUYER_BALANCE, user=order.buyer) >= total
        before = footprint()
        try:
            milestone = services.milestone_create(
                order=order,
                actor=order.buyer,
                title="Phase",
                description="Deliver it",
                deadline=timezone.now() + timedelta(days=10),
                amount=amount,
                source=FundingSource(method="balance") if from_balance else CARD,
                idempotency_key=uuid.uuid4().hex,
            )
        except InsufficientFunds:
            assert from_balance and not can_pay and order.pk not in self.completed
            assert footprint() == before
            return
        except InvalidTransition:
            assert order.pk in self.completed
            assert footprint() == before
            return
        assert can_pay and order.pk not in self.completed
        if milestone.state == S.AWAITING_PAYMENT:
            # By card: the buyer pays on the provider's page, the return page funds it.
            assert not from_balance
            pay_checkout(milestone)
            milestone.refresh_from_db()
        assert milestone.state == S.AWAITING_ACCEPTANCE
        event("create done")
        self.milestones.append(milestone.pk)
        self.order_of[milestone.pk] = order.pk
        self.expected[milestone.pk] = S.AWAITING_ACCEPTANCE

    @precondition(lambda self: self._eligible("accept"))
    @rule(i=picks)
    def accept(self, i: int) -> None:
        eligible = self._eligible("accept")
        self._do("accept", eligible[i % len(eligible)])

    @precondition(lambda self: self._eligible("decline"))
    @rule(i=picks)
    def decline(self, i: int) -> None:
        eligible = self._eligible("decline")
        self._do("decline", eligible[i % len(eligible)])

    @precondition(lambda self: self._eligible("cancel"))
    @rule(i=picks)
    def cancel(self, i: int) -> None:
        eligible = self._eligible("cancel")
        self._do("cancel", eligible[i % len(eligible)])

    @precondition(lambda self: self._eligible("submit"))
    @rule(i=picks)
    def submit(self, i: int) -> None:
        eligible = self._eligible("submit")
        self._do("submit", eligible[i % len(eligible)])

    @precondition(lambda self: self._eligible("revision"))
    @rule(i=picks)
    def request_revision(self, i: int) -> None:
        eligible = self._eligible("revision")
        self._do("revision", eligible[i % len(eligible)])

    @precondition(lambda self: self._eligible("approve"))
    @rule(i=picks)
    def approve(self, i: int) -> None:
        eligible = self._eligible("approve")
        self._do("approve", eligible[i % len(eligible)])

    @precondition(lambda self: self._eligible("approve"))
    @rule(i=picks, wait_until_due=st.booleans())
    def auto_approve(self, i: int, wait_until_due: bool) -> None:
        eligible = self._eligible("approve")
        milestone = self._load(eligible[i % len(eligible)])
        if wait_until_due and milestone.auto_approve_at is not None:
            self.clock = max(self.clock, milestone.auto_approve_at)  # the buyer stays silent
        due = milestone.auto_approve_at is not None and milestone.auto_approve_at <= self.clock
        before = footprint()
        try:
            services.milestone_approve(milestone=milestone, actor=None, now=self.clock)
        except InvalidTransition:
            assert not due, "the review period is over, yet the system could not approve"
            assert footprint() == before
            return
        assert due, "the system approved before the review period was over"
        event("auto-approve done")
        self.expected[milestone.pk] = S.APPROVED
        self._activate_next(milestone.order_id)

    @precondition(lambda self: self._eligible("dispute"))
    @rule(i=picks, by_buyer=st.booleans())
    def open_dispute(self, i: int, by_buyer: bool) -> None:
        eligible = self._eligible("dispute")
        self._do("dispute", eligible[i % len(eligible)], by_buyer=by_buyer)

    @precondition(lambda self: self._eligible("resolve"))
    @rule(i=picks, outcome=st.sampled_from(["release", "refund", "split"]), percent=st.integers(1, 99))
    def resolve(self, i: int, outcome: str, percent: int) -> None:
        eligible = self._eligible("resolve")
        pk = eligible[i % len(eligible)]
        amount = self._load(pk).amount.amount
        part = (amount * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        self._do("resolve", pk, outcome=outcome, part=Money(part, "USD") if outcome == "split" else None)

    @precondition(lambda self: self.milestones)
    @rule(action=st.sampled_from(sorted(set(SOURCES) - {"resolve"})), i=picks, by_buyer=st.booleans())
    def anything_at_any_moment(self, action: str, i: int, by_buyer: bool) -> None:
        """A stale tab or a second click: any action on any milestone, allowed or not."""
        self._do(action, self.milestones[i % len(self.milestones)], by_buyer=by_buyer)

    @rule(days=st.integers(min_value=1, max_value=15))
    def time_passes(self, days: int) -> None:
        self.clock += timedelta(days=days)

    @rule()
    def clear_earnings(self) -> None:
        pending = list(Earning.objects.filter(status=EarningStatus.PENDING))
        for earning in pending:
            cleared = earning_clear(earning_id=earning.pk, now=self.clock)
            assert cleared == (earning.clears_at <= self.clock)
            if cleared:
                event("clear done")
        for earning in pending:
            assert earning_clear(earning_id=earning.pk, now=self.clock) is False, "clearing twice moves nothing"

    @rule(u=picks, percent=st.integers(min_value=1, max_value=150))
    def withdraw(self, u: int, percent: int) -> None:
        funded = [s for s in self.users if balance(AccountKind.SELLER_AVAILABLE, user=s).amount > 0]
        candidates = funded or self.users
        seller = candidates[u % len(candidates)]
        available = balance(AccountKind.SELLER_AVAILABLE, user=seller).amount
        amount = max(CENT, (available * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP))
        before = footprint()
        try:
            withdrawal_request(seller=seller, amount=Money(amount, "USD"), key=uuid.uuid4().hex)
        except InsufficientFunds:
            assert amount > available
            assert footprint() == before
            return
        assert amount <= available
        event("withdraw done")

    @precondition(lambda self: Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED).exists())
    @rule()
    def process_withdrawals(self) -> None:
        for withdrawal in Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED):
            # The payout command is due from its creation (real time); the model's clock may lag behind it.
            done = withdrawal_process(withdrawal_id=withdrawal.pk, now=max(self.clock, timezone.now()))
            assert done is not None
            failing = withdrawal.destination == "000111111116"
            assert done.status == (WithdrawalStatus.FAILED if failing else WithdrawalStatus.PAID)
            assert withdrawal_process(withdrawal_id=withdrawal.pk) is None, "a repeated task pays nothing"
            event(f"payout {done.status}")

    @rule(o=picks)
    def complete_order(self, o: int) -> None:
        order = self.orders[o % len(self.orders)]
        allowed = order.pk not in self.completed and not self._open_of(order.pk)
        before = footprint()
        try:
            order_complete(order=order, actor=order.buyer)
        except DomainError:
            assert not allowed
            assert footprint() == before
            return
        assert allowed
        event("complete done")
        self.completed.add(order.pk)

    # --- after every step -------------------------------------------------------------------

    @invariant()
    def ledger_is_sound(self) -> None:
        report = ledger_audit()
        assert report.ok, report.summary()
        assert_money_conserved()

    @invariant()
    def milestones_are_where_the_rules_say(self) -> None:
        actual = dict(Milestone.objects.values_list("pk", "state"))
        assert actual == self.expected
        for order in Order.objects.filter(pk__in=[o.pk for o in self.orders]):
            states = [actual[m] for m in self.milestones if self.order_of[m] == order.pk]
            assert sum(s in IN_WORK_STATES for s in states) <= 1, f"two phases in work at once: {states}"
            if order.pk in self.completed:
                assert order.status == OrderStatus.COMPLETED
            elif any(s not in CLOSED_STATES for s in states):
                assert order.status == OrderStatus.ACTIVE
            else:
                assert order.status == OrderStatus.AWAITING_MILESTONE


@pytest.mark.timeout(900)
def test_random_sequences_of_everything_keep_the_ledger_true_and_the_rules_kept():
    run_state_machine_as_test(
        Marketplace,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
