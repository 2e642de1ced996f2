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
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from marketplace.errors import DomainError, InsufficientFunds, InvalidTransition
from marketplace.models import WithdrawalMethod
from milestones import services
from milestones.models import CLOSED_STATES, IN_WORK_STATES, Milestone
from milestones.models import MilestoneState as S
from orders.models import Order, OrderStatus
from orders.services import order_complete
from payments.audit import ledger_audit
from payments.models import AccountKind, Earning, EarningStatus, Withdrawal, WithdrawalStatus
from payments.money import buyer_service_fee
from payments.services import FundingSource, earning_clear, withdrawal_process, withdrawal_request
from tests.factories import CARD, OrderFactory, StaffFactory, UserFactory
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
                   (SELECT count(*) FROM payments_gatewayoperation),
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
    def __init__(self) -> None:
        super().__init__()
        # Each example runs in its own savepoint, rolled back in teardown: a clean start every time.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        methods = [WithdrawalMethod.INSTANT, WithdrawalMethod.PAYPAL, WithdrawalMethod.BANK_TRANSFER]
        self.users = [UserFactory(withdrawal_method=m) for m in methods]
        self.users[2].payout_account = "000111111116"  # the sandbox's failing bank account
        self.users[2].save(update_fields=["payout_account"])
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

    def _pick(self, i: int) -> Milestone:
        return Milestone.objects.select_related("order__buyer", "order__seller").get(
            pk=self.milestones[i % len(self.milestones)]
        )

    def _attempt(self, action: str, milestone: Milestone, call, allowed: bool) -> bool:
        """Call a service; it must succeed exactly when the model says so, and a refusal changes nothing."""
        before = footprint() if not allowed else None
        try:
            call()
        except DomainError as refused:
            assert not allowed, f"{action} on a {self.expected[milestone.pk]} milestone was refused: {refused}"
            assert footprint() == before, f"refused {action} changed something"
            return False
        assert allowed, f"{action} on a {self.expected[milestone.pk]} milestone was allowed"
        return True

    def _transition(self, action: str, i: int, call_for) -> None:
        milestone = self._pick(i)
        allowed = self.expected[milestone.pk] in SOURCES[action]
        if self._attempt(action, milestone, lambda: call_for(milestone), allowed):
            self.expected[milestone.pk] = TARGET[action]
            if TARGET[action] in CLOSED_STATES:
                self._activate_next(milestone.order_id)

    # --- rules ---------------------------------------------------------------------------

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
        self.milestones.append(milestone.pk)
        self.order_of[milestone.pk] = order.pk
        self.expected[milestone.pk] = S.AWAITING_ACCEPTANCE

    @precondition(lambda self: self.milestones)
    @rule(i=picks)
    def accept(self, i: int) -> None:
        milestone = self._pick(i)
        allowed = self.expected[milestone.pk] in SOURCES["accept"]
        call = lambda: services.milestone_accept(milestone=milestone, actor=milestone.order.seller)  # noqa: E731
        if self._attempt("accept", milestone, call, allowed):
            earlier = [m for m in self._open_of(milestone.order_id) if m < milestone.pk]
            self.expected[milestone.pk] = S.ACCEPTED if earlier else S.IN_PROGRESS

    @precondition(lambda self: self.milestones)
    @rule(i=picks)
    def decline(self, i: int) -> None:
        self._transition(
            "decline", i, lambda m: services.milestone_decline(milestone=m, actor=m.order.seller, reason="Busy")
        )

    @precondition(lambda self: self.milestones)
    @rule(i=picks)
    def cancel(self, i: int) -> None:
        self._transition("cancel", i, lambda m: services.milestone_cancel(milestone=m, actor=m.order.buyer))

    @precondition(lambda self: self.milestones)
    @rule(i=picks)
    def submit(self, i: int) -> None:
        self._transition(
            "submit", i, lambda m: services.milestone_submit(milestone=m, actor=m.order.seller, message="Done")
        )

    @precondition(lambda self: self.milestones)
    @rule(i=picks)
    def request_revision(self, i: int) -> None:
        self._transition(
            "revision",
            i,
            lambda m: services.milestone_request_revision(milestone=m, actor=m.order.buyer, feedback="More"),
        )

    @precondition(lambda self: self.milestones)
    @rule(i=picks)
    def approve(self, i: int) -> None:
        self._transition("approve", i, lambda m: services.milestone_approve(milestone=m, actor=m.order.buyer))

    @precondition(lambda self: self.milestones)
    @rule(i=picks)
    def auto_approve(self, i: int) -> None:
        milestone = self._pick(i)
        due = milestone.auto_approve_at is not None and milestone.auto_approve_at <= self.clock
        allowed = self.expected[milestone.pk] == S.IN_REVIEW and due
        call = lambda: services.milestone_approve(milestone=milestone, actor=None, now=self.clock)  # noqa: E731
        if self._attempt("auto-approve", milestone, call, allowed):
            self.expected[milestone.pk] = S.APPROVED
            self._activate_next(milestone.order_id)

    @precondition(lambda self: self.milestones)
    @rule(i=picks, by_buyer=st.booleans())
    def open_dispute(self, i: int, by_buyer: bool) -> None:
        self._transition(
            "dispute",
            i,
            lambda m: services.milestone_open_dispute(
                milestone=m, actor=m.order.buyer if by_buyer else m.order.seller, reason="Stuck"
            ),
        )

    @precondition(lambda self: self.milestones)
    @rule(i=picks, outcome=st.sampled_from(["release", "refund", "split"]), percent=st.integers(1, 99))
    def resolve(self, i: int, outcome: str, percent: int) -> None:
        milestone = self._pick(i)
        if self.expected[milestone.pk] != S.DISPUTED and not hasattr(milestone, "dispute"):
            return  # no dispute to resolve; the matrix test covers that refusal
        part = (milestone.amount.amount * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        self._transition(
            "resolve",
            i,
            lambda m: services.dispute_resolve(
                dispute=m.dispute,
                actor=self.staff,
                outcome=outcome,
                seller_amount=Money(part, "USD") if outcome == "split" else None,
            ),
        )

    @rule(days=st.integers(min_value=1, max_value=15))
    def time_passes(self, days: int) -> None:
        self.clock += timedelta(days=days)

    @rule()
    def clear_earnings(self) -> None:
        pending = list(Earning.objects.filter(status=EarningStatus.PENDING))
        for earning in pending:
            cleared = earning_clear(earning_id=earning.pk, now=self.clock)
            assert cleared == (earning.clears_at <= self.clock)
        for earning in pending:
            assert earning_clear(earning_id=earning.pk, now=self.clock) is False, "clearing twice moves nothing"

    @rule(u=picks, percent=st.integers(min_value=1, max_value=150))
    def withdraw(self, u: int, percent: int) -> None:
        seller = self.users[u % len(self.users)]
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

    @rule()
    def process_withdrawals(self) -> None:
        for withdrawal in Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED):
            done = withdrawal_process(withdrawal_id=withdrawal.pk, now=self.clock)
            assert done is not None
            failing = withdrawal.destination == "000111111116"
            assert done.status == (WithdrawalStatus.FAILED if failing else WithdrawalStatus.PAID)
            assert withdrawal_process(withdrawal_id=withdrawal.pk) is None, "a repeated task pays nothing"

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
