"""Random sequences of everything users, staff and the system do, over several
orders and users; after every step what it wrote passes the ledger audit's
checks and each milestone is in the state the rules predict, and at the end of
each sequence the whole ledger audit passes and money is conserved.

The machine keeps its own model of the expected states (the table in
ARCHITECTURE.md plus "one phase in work at a time"), so a service that
allowed a move it should have refused, or refused one it should have allowed,
fails here even if the money happened to add up. Refused calls must leave the
world exactly as it was.

Terms change too: the seller offers milestones (accepted and paid, declined,
withdrawn, or expired by the sweep's clock), proposes other terms before
accepting (a higher, lower or the same amount), asks for more time, and either
party asks to cancel with a refund of any part; the other party answers, the
asker withdraws, or the timer lapses or accepts the request. The model keeps
each proposal's state as well, and what closing or disputing a milestone does
to its pending requests.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from djmoney.money import Money
from hypothesis import HealthCheck, currently_in_test_context, settings
from hypothesis import event as hypothesis_event
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
from demo.checkout import pay_continue_in_sandbox
from marketplace.errors import DomainError, InsufficientFunds, InvalidTransition
from milestones.models import (
    CLOSED_STATES,
    IN_WORK_STATES,
    OPEN_STATES,
    UNPAID_STATES,
    Milestone,
    Proposal,
    ProposalKind,
)
from milestones.models import MilestoneState as S
from milestones.models import ProposalState as P
from milestones.services.changes import changes_accept, changes_money, changes_request
from milestones.services.completion import order_complete
from milestones.services.creation import milestone_create
from milestones.services.disputes import dispute_resolve, milestone_open_dispute
from milestones.services.lifecycle import (
    milestone_accept,
    milestone_approve,
    milestone_cancel,
    milestone_decline,
    milestone_request_revision,
    milestone_submit,
)
from milestones.services.offers import offer_accept, offer_create, offer_decline, offer_expire, offer_withdraw
from milestones.services.packages import milestone_continue, order_stop, package_order_start
from milestones.services.proposals import (
    cancellation_request,
    extension_request,
    proposal_accept,
    proposal_decline,
    proposal_expire,
    proposal_withdraw,
)
from orders.models import Order, OrderStatus
from payments.audit import ledger_audit
from payments.fees import buyer_service_fee
from payments.models import AccountKind, Earning, EarningStatus, Transaction, Withdrawal, WithdrawalStatus
from payments.services import REFUND_TO_CARD, FundingSource, earning_clear, withdrawal_process, withdrawal_request
from tests.factories import (
    BALANCE,
    CARD,
    FAILING_PAYOUT,
    PHASES,
    SITE,
    OrderFactory,
    StaffFactory,
    UserFactory,
    packaged_gig,
    pay_checkout,
    payout_account_set,
)
from tests.services.ledger_checks import assert_money_conserved, balance, last_transaction_id, step_audit

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
    "offer_decline": {S.OFFERED},
    "offer_withdraw": {S.OFFERED},
}
TARGET = {
    "decline": S.DECLINED,
    "cancel": S.CANCELLED,
    "submit": S.IN_REVIEW,
    "revision": S.REVISION_REQUESTED,
    "approve": S.APPROVED,
    "dispute": S.DISPUTED,
    "resolve": S.RESOLVED,
    "offer_decline": S.OFFER_DECLINED,
    "offer_withdraw": S.CANCELLED,
}
# The seller's offers: closing one holds no money and no place in the queue.
OFFER_ACTIONS = {"offer_decline", "offer_withdraw"}
# Where each kind of request may be made, and accepted (the milestone's state).
REQUESTABLE: dict[str, set[str]] = {
    ProposalKind.CHANGES: {S.AWAITING_ACCEPTANCE, S.PLANNED},
    ProposalKind.EXTENSION: {S.IN_PROGRESS, S.REVISION_REQUESTED},
    # In a dispute too: the parties may still settle it themselves (accepted, the dispute is withdrawn).
    ProposalKind.CANCELLATION: {S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED, S.DISPUTED, S.PLANNED},
}
MIN_AMOUNT, MAX_AMOUNT = Decimal("5.00"), Decimal("100000.00")  # settings.MILESTONE_MIN/MAX_AMOUNT

picks = st.integers(min_value=0, max_value=10_000)
# Mostly the right party, sometimes the wrong one (who must be refused).
mostly = st.sampled_from([True, True, True, False])
rarely = st.sampled_from([False, False, False, True])
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


def event(value: str) -> None:
    """Hypothesis's statistics, and nothing in a replayed sequence run outside Hypothesis."""
    if currently_in_test_context():
        hypothesis_event(value)


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
                   (SELECT string_agg(id || state || revision_count || amount || buyer_fee || deadline
                                      || md5(description), ',' ORDER BY id) FROM milestones_milestone),
                   (SELECT string_agg(id || status, ',' ORDER BY id) FROM orders_order),
                   (SELECT string_agg(id || state, ',' ORDER BY id) FROM milestones_proposal),
                   (SELECT count(*) FROM payments_checkout)
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
        methods = [WithdrawalMethod.BANK_TRANSFER, WithdrawalMethod.INSTANT, WithdrawalMethod.PAYPAL]
        self.users = [UserFactory(withdrawal_method=m) for m in methods]
        payout_account_set(self.users[0], FAILING_PAYOUT)  # the sandbox's failing bank account
        # One buyer has refunds go to the card that paid (a lower amount agreed comes back there).
        self.users[2].refund_to = REFUND_TO_CARD
        self.users[2].save(update_fields=["refund_to"])
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
        # A package step's revisions still included (a milestone made by hand has no entry: unlimited).
        self.revisions_left: dict[int, int] = {}
        # Requests: the expected state, the milestone and kind, and whether the buyer asked.
        self.proposals: dict[int, str] = {}
        self.proposal_of: dict[int, tuple[int, str]] = {}
        self.asked_by_buyer: dict[int, bool] = {}
        # Whether a cancellation gives the buyer everything back (the silence rule reads it).
        self.refund_all: dict[int, bool] = {}
        self.offer_keys: list[str] = []
        self.clock = timezone.now()
        # The last transaction the step checks have seen (step_is_sound).
        self.checked = last_transaction_id()

    def teardown(self) -> None:
        """The whole ledger audited once the sequence is over, then rolled back."""
        try:
            self.ledger_is_sound()
        finally:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

    # --- the model ---------------------------------------------------------------------

    def _open_of(self, order_id: int) -> list[int]:
        """Open milestones hold money and the queue; an unpaid offer does neither."""
        return [m for m in self.milestones if self.order_of[m] == order_id and self.expected[m] in OPEN_STATES]

    def _waiting_of(self, order_id: int) -> list[int]:
        """What keeps an order from completing: open milestones, and unpaid ones (an offer)."""
        return [
            m
            for m in self.milestones
            if self.order_of[m] == order_id and self.expected[m] in OPEN_STATES | UNPAID_STATES
        ]

    def _must_queue(self, pk: int) -> bool:
        """Accepted, it waits if an earlier milestone is open, or another one is in work
        already (a later one may have started while an earlier offer waited unpaid)."""
        return any(
            (m < pk and self.expected[m] in OPEN_STATES) or self.expected[m] in IN_WORK_STATES
            for m in self.milestones
            if self.order_of[m] == self.order_of[pk] and m != pk
        )

    def _activate_next(self, order_id: int) -> None:
        """The earliest open milestone starts if it is queued and nothing else is in work."""
        open_ones = self._open_of(order_id)
        busy = any(self.expected[m] in IN_WORK_STATES for m in open_ones)
        if open_ones and not busy and self.expected[open_ones[0]] == S.ACCEPTED:
            self.expected[open_ones[0]] = S.IN_PROGRESS

    def _eligible(self, action: str) -> list[int]:
        return [m for m in self.milestones if self.expected[m] in SOURCES[action]]

    def _in_state(self, states) -> list[int]:
        return [m for m in self.milestones if self.expected[m] in states]

    def _pending(self, *kinds: str) -> list[int]:
        return [
            p
            for p, state in self.proposals.items()
            if state == P.PENDING and (not kinds or self.proposal_of[p][1] in kinds)
        ]

    def _free_to_ask(self) -> dict[str, list[int]]:
        """For each kind of request, the milestones where it may be asked now."""
        free = {
            kind: [m for m in self._in_state(states) if not self._pending_on(m, kind)]
            for kind, states in REQUESTABLE.items()
        }
        return {kind: milestones for kind, milestones in free.items() if milestones}

    def _pending_on(self, pk: int, kind: str) -> list[int]:
        return [p for p in self._pending(kind) if self.proposal_of[p][0] == pk]

    def _requests_withdrawn(self, pk: int) -> None:
        """Accepting, disputing or closing a milestone withdraws its pending requests."""
        for p in self._pending():
            if self.proposal_of[p][0] == pk:
                self.proposals[p] = P.WITHDRAWN

    def _cancelled_by_agreement(self, pk: int) -> None:
        self.expected[pk] = S.CANCELLED
        self._requests_withdrawn(pk)
        self._activate_next(self.order_of[pk])

    def _load(self, pk: int) -> Milestone:
        return Milestone.objects.select_related("order__buyer", "order__seller").get(pk=pk)

    def _try(self, allowed: bool, what: str, call) -> bool:
        """Call a service; it must succeed exactly when the model says so, and a refusal changes nothing."""
        before = footprint()
        try:
            call()
        except DomainError as refused:
            assert not allowed, f"{what} was refused: {refused}"
            assert footprint() == before, f"refused {what} changed something"
            return False
        assert allowed, f"{what} was allowed"
        event(f"{what.split(' on ')[0]} done")
        return True

    def _call(
        self,
        action: str,
        milestone: Milestone,
        *,
        by_buyer: bool = True,
        outcome: str = "refund",
        part=None,
        right_party: bool = True,
    ):
        buyer, seller = milestone.order.buyer, milestone.order.seller
        if action == "accept":
            return milestone_accept(milestone=milestone, actor=seller)
        if action == "decline":
            return milestone_decline(milestone=milestone, actor=seller, reason="Busy")
        if action == "cancel":
            return milestone_cancel(milestone=milestone, actor=buyer)
        if action == "submit":
            return milestone_submit(milestone=milestone, actor=seller, message="Done")
        if action == "revision":
            return milestone_request_revision(milestone=milestone, actor=buyer, feedback="More")
        if action == "approve":
            return milestone_approve(milestone=milestone, actor=buyer)
        if action == "dispute":
            return milestone_open_dispute(milestone=milestone, actor=buyer if by_buyer else seller, reason="Stuck")
        if action == "resolve":
            return dispute_resolve(dispute=milestone.dispute, actor=self.staff, outcome=outcome, seller_amount=part)
        if action == "offer_decline":
            return offer_decline(milestone=milestone, actor=buyer if right_party else seller, reason="No")
        if action == "offer_withdraw":
            return offer_withdraw(milestone=milestone, actor=seller if right_party else buyer)
        raise AssertionError(action)

    def _do(self, action: str, pk: int, *, right_party: bool = True, **options) -> None:
        """Call a service; it must succeed exactly when the model says so, and a refusal changes nothing."""
        milestone = self._load(pk)
        state = self.expected[pk]
        allowed = state in SOURCES[action] and right_party
        if action == "revision" and self.revisions_left.get(pk, 1) <= 0:
            allowed = False  # the step's included revisions are used up: "Buy a revision" instead
        if action == "resolve" and not hasattr(milestone, "dispute"):
            return  # never disputed: there is nothing for staff to resolve
        call = lambda: self._call(action, milestone, right_party=right_party, **options)  # noqa: E731
        if not self._try(allowed, f"{action} on a {state} milestone", call):
            return
        if action == "revision" and pk in self.revisions_left:
            self.revisions_left[pk] -= 1
        if action == "accept":
            self.expected[pk] = S.ACCEPTED if self._must_queue(pk) else S.IN_PROGRESS
        else:
            self.expected[pk] = TARGET[action]
        if action in ("accept", "dispute") or self.expected[pk] in CLOSED_STATES:
            self._requests_withdrawn(pk)
        if self.expected[pk] in CLOSED_STATES and action not in OFFER_ACTIONS:
            self._activate_next(milestone.order_id)

    # --- rules: mostly the right moment, so the sequences go deep ---------------------------

    @initialize(
        starts=st.lists(
            st.tuples(st.sampled_from(sorted(PATHS)), picks, st.sampled_from(["release", "refund", "split"])),
            min_size=1,
            max_size=5,
        ),
        offers=st.lists(st.tuples(picks, st.integers(min_value=500, max_value=50_000)), max_size=2),
        asks=st.lists(
            st.tuples(picks, st.sampled_from(sorted(REQUESTABLE)), st.sampled_from(["higher", "lower", "same"])),
            min_size=1,
            max_size=3,
        ),
    )
    def milestones_already_under_way(self, starts, offers, asks) -> None:
        """Start from milestones already driven, by the same checked steps, towards random states;
        with offers sent before them and requests waiting for an answer."""
        for o, cents in offers:
            self.offer(o=o, cents=cents, by_seller=True, same_key=False)
        for target, o, outcome in starts:
            self.create(o=o, cents=1001 + o % 50_000, from_balance=False)
            pk = self.milestones[-1]
            for action in PATHS[target]:
                options = {"outcome": outcome, "part": Money("5.00", "USD") if outcome == "split" else None}
                self._do(action, pk, **(options if action == "resolve" else {}))
        for i, kind, change in asks:
            if not self._free_to_ask():
                break
            self.ask(
                i=i,
                kind=kind,
                percent=i % 101,
                change=change,
                new_description=False,
                days=3,
                by_buyer=i % 2 == 0,
                stale=False,
            )

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
            milestone = milestone_create(
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
        # A cancellation request waiting for an answer holds the clock.
        due = due and not self._pending_on(milestone.pk, ProposalKind.CANCELLATION)
        before = footprint()
        try:
            milestone_approve(milestone=milestone, actor=None, now=self.clock)
        except InvalidTransition:
            assert not due, "the review period is over, yet the system could not approve"
            assert footprint() == before
            return
        assert due, "the system approved before the review period was over"
        event("auto-approve done")
        self.expected[milestone.pk] = S.APPROVED
        self._requests_withdrawn(milestone.pk)
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
        def withdrawable(user) -> Decimal:
            # Cleared earnings, then the balance a buyer's refunds left (``withdrawal_request``).
            return (
                balance(AccountKind.SELLER_AVAILABLE, user=user).amount
                + balance(AccountKind.BUYER_BALANCE, user=user).amount
            )

        funded = [s for s in self.users if withdrawable(s) > 0]
        candidates = funded or self.users
        seller = candidates[u % len(candidates)]
        available = withdrawable(seller)
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
            failing = withdrawal.seller_id == self.users[0].pk
            assert done.status == (WithdrawalStatus.FAILED if failing else WithdrawalStatus.PAID)
            assert withdrawal_process(withdrawal_id=withdrawal.pk) is None, "a repeated task pays nothing"
            event(f"payout {done.status}")

    @rule(o=picks)
    def complete_order(self, o: int) -> None:
        order = self.orders[o % len(self.orders)]
        has_milestone = any(self.order_of[m] == order.pk for m in self.milestones)  # none: nothing to complete
        allowed = order.pk not in self.completed and has_milestone and not self._waiting_of(order.pk)
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

    # --- the seller's offers ------------------------------------------------------------------

    @rule(
        o=picks,
        cents=st.integers(min_value=499, max_value=50_000),  # 4.99 is below the minimum
        by_seller=mostly,
        same_key=rarely,
    )
    def offer(self, o: int, cents: int, by_seller: bool, same_key: bool) -> None:
        """ "Propose a milestone": nothing is charged until the buyer accepts and pays."""
        order = Order.objects.select_related("buyer", "seller").get(pk=self.orders[o % len(self.orders)].pk)
        amount = Decimal(cents) / 100
        key = self.offer_keys[-1] if same_key and self.offer_keys else uuid.uuid4().hex
        allowed = (
            by_seller
            and order.pk not in self.completed
            and key not in self.offer_keys
            and MIN_AMOUNT <= amount <= MAX_AMOUNT
        )
        made: list[Milestone] = []
        call = lambda: made.append(  # noqa: E731
            offer_create(
                order=order,
                actor=order.seller if by_seller else order.buyer,
                title="Add-on",
                description="Maintenance for a month",
                deadline=timezone.now() + timedelta(days=10),
                amount=Money(amount, "USD"),
                idempotency_key=key,
            )
        )
        if not self._try(allowed, "offer", call):
            return
        milestone = made[0]
        assert milestone.state == S.OFFERED and milestone.offer_expires_at is not None
        self.offer_keys.append(key)
        self.milestones.append(milestone.pk)
        self.order_of[milestone.pk] = order.pk
        self.expected[milestone.pk] = S.OFFERED

    @precondition(lambda self: self._in_state({S.OFFERED}))
    @rule(
        i=picks,
        answer=st.sampled_from(["accept from balance", "accept by card", "offer_decline", "offer_withdraw"]),
        right_party=mostly,
        stale=rarely,
    )
    def answer_offer(self, i: int, answer: str, right_party: bool, stale: bool) -> None:
        """ "Accept and pay" (from the balance, or by card on the provider's page), "Decline offer",
        or the seller's "Withdraw offer"; stale, on any milestone at all."""
        offers = self._in_state({S.OFFERED})
        candidates = offers if offers and not stale else self.milestones
        pk = candidates[i % len(candidates)]
        if answer in OFFER_ACTIONS:
            self._do(answer, pk, right_party=right_party)
            return
        milestone = self._load(pk)
        buyer = milestone.order.buyer
        from_balance = answer == "accept from balance"
        can_pay = not from_balance or balance(AccountKind.BUYER_BALANCE, user=buyer) >= milestone.total_charged
        allowed = self.expected[pk] == S.OFFERED and right_party and can_pay
        call = lambda: offer_accept(  # noqa: E731
            milestone=milestone,
            actor=buyer if right_party else milestone.order.seller,
            source=BALANCE if from_balance else CARD,
        )
        if not self._try(allowed, f"offer {answer} on a {self.expected[pk]} milestone", call):
            return
        if not from_balance:
            assert Milestone.objects.get(pk=pk).state == S.AWAITING_PAYMENT, "nothing is funded before the card pays"
            pay_checkout(milestone)
        # The seller proposed it: it starts at once, or queues, as if the seller had accepted it.
        self.expected[pk] = S.ACCEPTED if self._must_queue(pk) else S.IN_PROGRESS

    @precondition(lambda self: self._in_state({S.OFFERED}))
    @rule(i=picks, wait_until_due=st.booleans(), late=rarely)
    def offers_sweep(self, i: int, wait_until_due: bool, late: bool) -> None:
        """The ``offers`` sweep's call, on an offer (or, late, on any milestone at all)."""
        offers = self._in_state({S.OFFERED})
        candidates = self.milestones if late else offers
        milestone = self._load(candidates[i % len(candidates)])
        if wait_until_due and milestone.offer_expires_at is not None:
            self.clock = max(self.clock, milestone.offer_expires_at)  # the buyer stays silent
        due = (
            self.expected[milestone.pk] == S.OFFERED
            and milestone.offer_expires_at is not None
            and milestone.offer_expires_at <= self.clock
        )
        before = footprint()
        expired = offer_expire(milestone_id=milestone.pk, now=self.clock)
        assert expired == due, "an offer expired early" if expired else "an unanswered offer did not expire"
        if not expired:
            assert footprint() == before
            return
        event("offer expire done")
        self.expected[milestone.pk] = S.OFFER_EXPIRED

    # --- requests: changes before acceptance, extensions, cancellations ----------------------------

    def _parties(self, ppk: int, milestone: Milestone):
        """(the party who asked, the party who answers)."""
        buyer, seller = milestone.order.buyer, milestone.order.seller
        return (buyer, seller) if self.asked_by_buyer[ppk] else (seller, buyer)

    @precondition(lambda self: self._free_to_ask())
    @rule(
        i=picks,
        kind=st.sampled_from(sorted(REQUESTABLE)),
        percent=st.integers(min_value=0, max_value=101),  # a refund of 101% is refused
        change=st.sampled_from(["higher", "lower", "same"]),
        new_description=st.booleans(),
        days=st.sampled_from([0, 3, 7, 400]),  # an extension of 400 days is refused
        by_buyer=st.booleans(),
        stale=rarely,
    )
    def ask(
        self,
        i: int,
        kind: str,
        percent: int,
        change: str,
        new_description: bool,
        days: int,
        by_buyer: bool,
        stale: bool,
    ) -> None:
        """ "Propose changes" (a higher, lower or the same amount; maybe a new description or
        deadline), "Request extension", or "Request cancellation" with a refund of 0 to all
        of the amount (the seller asks for the first two; a buyer asking is refused)."""
        # Mostly where it can be asked and is not asked already; stale, anywhere (refused, or a second one).
        possible = self._free_to_ask()
        if kind not in possible and possible and not stale:
            kind = sorted(possible)[i % len(possible)]
        candidates = possible[kind] if kind in possible and not stale else self.milestones
        pk = candidates[i % len(candidates)]
        milestone = self._load(pk)
        buyer, seller = milestone.order.buyer, milestone.order.seller
        amount = milestone.amount.amount
        part = (amount * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        allowed = self.expected[pk] in REQUESTABLE[kind] and not self._pending_on(pk, kind)
        if kind != ProposalKind.CANCELLATION:
            by_buyer = by_buyer and stale  # the seller asks; a buyer asking (on a stale tab) is refused
        actor = buyer if by_buyer else seller
        if kind == ProposalKind.CHANGES:
            part = min(part, amount - CENT) if change == "lower" else part
            new_amount = {"higher": amount + part, "lower": amount - part, "same": amount}[change]
            changed = new_amount != amount or new_description or days > 0
            allowed = allowed and not by_buyer and changed and MIN_AMOUNT <= new_amount <= MAX_AMOUNT
            call = lambda: changes_request(  # noqa: E731
                milestone=milestone,
                actor=actor,
                new_deadline=milestone.deadline + timedelta(days=days) if days else None,
                new_amount=Money(new_amount, "USD"),
                new_description=f"{milestone.description} And a sitemap." if new_description else "",
            )
        elif kind == ProposalKind.EXTENSION:
            days = days or 1
            allowed = allowed and not by_buyer and days <= 365
            call = lambda: extension_request(  # noqa: E731
                milestone=milestone,
                actor=actor,
                new_deadline=milestone.deadline + timedelta(days=days),
                reason="The assets are late",
            )
        else:
            # A planned step's refund is not asked: nothing is held (any figure typed is ignored).
            allowed = allowed and (part <= amount or self.expected[pk] == S.PLANNED)
            call = lambda: cancellation_request(  # noqa: E731
                milestone=milestone, actor=actor, refund=Money(part, "USD"), reason="Plans changed"
            )
        made: list[Proposal] = []
        if not self._try(allowed, f"{kind} request on a {self.expected[pk]} milestone", lambda: made.append(call())):
            return
        assert made[0].state == P.PENDING
        self.proposals[made[0].pk] = P.PENDING
        self.proposal_of[made[0].pk] = (pk, kind)
        self.asked_by_buyer[made[0].pk] = by_buyer
        # A planned step holds nothing: its cancellation always gives the buyer "everything" (nothing moves).
        full = part == amount or self.expected[pk] == S.PLANNED
        self.refund_all[made[0].pk] = kind == ProposalKind.CANCELLATION and full

    @precondition(lambda self: self._pending())
    @rule(
        i=picks,
        answer=st.sampled_from(["accept", "accept", "decline", "withdraw"]),
        right_party=mostly,
        stale=rarely,
    )
    def answer_request(self, i: int, answer: str, right_party: bool, stale: bool) -> None:
        """The other party's "Accept …" (changes: paying a higher amount from the balance) or
        "Decline …"; the asker's "Withdraw request"; stale, on a request already answered."""
        pending = self._pending()
        candidates = pending if pending and not stale else sorted(self.proposals)
        ppk = candidates[i % len(candidates)]
        proposal = Proposal.objects.get(pk=ppk)
        pk, kind = self.proposal_of[ppk]
        milestone = self._load(pk)
        asker, answerer = self._parties(ppk, milestone)
        # The asker withdraws, the other party answers; the wrong one is refused.
        actor = asker if (answer == "withdraw") == right_party else answerer
        allowed = right_party and self.proposals[ppk] == P.PENDING
        what = f"{kind} {answer} on a {self.proposals[ppk]} request"
        if answer == "withdraw":
            if self._try(allowed, what, lambda: proposal_withdraw(proposal=proposal, actor=actor)):
                self.proposals[ppk] = P.WITHDRAWN
            return
        if answer == "decline":
            if self._try(allowed, what, lambda: proposal_decline(proposal=proposal, actor=actor)):
                self.proposals[ppk] = P.DECLINED
            return
        allowed = allowed and self.expected[pk] in REQUESTABLE[kind]
        if kind != ProposalKind.CHANGES:
            if not self._try(allowed, what, lambda: proposal_accept(proposal=proposal, actor=actor)):
                return
            self.proposals[ppk] = P.ACCEPTED
            if kind == ProposalKind.CANCELLATION:
                self._cancelled_by_agreement(pk)
            else:
                assert Milestone.objects.get(pk=pk).deadline == proposal.new_deadline
            return
        buyer = milestone.order.buyer
        money = changes_money(milestone, proposal)
        held = balance(AccountKind.BUYER_BALANCE, user=buyer)
        planned = self.expected[pk] == S.PLANNED
        allowed = allowed and (planned or not money.charges or held >= money.total)
        call = lambda: changes_accept(proposal=proposal, actor=actor, method="balance")  # noqa: E731
        if not self._try(allowed, what, call):
            return
        self.proposals[ppk] = P.ACCEPTED
        changed = Milestone.objects.get(pk=pk)
        assert (changed.amount, changed.buyer_fee) == (proposal.new_amount, money.new_fee)
        assert changed.deadline == proposal.new_deadline and changed.description == proposal.new_description
        if planned:
            # Nothing is held for a planned step: the new price is what continuing charges.
            assert balance(AccountKind.ESCROW, milestone=changed) == Money(0, "USD")
            assert balance(AccountKind.BUYER_BALANCE, user=buyer) == held
            return
        assert balance(AccountKind.ESCROW, milestone=changed) == changed.amount
        if money.charges or buyer.refund_to != REFUND_TO_CARD:
            # Charged the difference and its fee; or, lower, refunded both to the balance.
            assert balance(AccountKind.BUYER_BALANCE, user=buyer) == held - money.total

    @precondition(lambda self: self._pending())
    @rule(i=picks, wait_until_due=st.booleans(), late=rarely)
    def proposals_sweep(self, i: int, wait_until_due: bool, late: bool) -> None:
        """The ``proposals`` sweep's call: past respond_by a request lapses, and a cancellation
        is accepted where the silence rule allows (the seller's only with a full refund, the
        buyer's only while no delivery awaits review); before then, or once answered, nothing happens."""
        candidates = sorted(self.proposals) if late else self._pending()
        ppk = candidates[i % len(candidates)]
        proposal = Proposal.objects.get(pk=ppk)
        pk, kind = self.proposal_of[ppk]
        if wait_until_due:
            self.clock = max(self.clock, proposal.respond_by)  # the other party stays silent
        due = self.proposals[ppk] == P.PENDING and proposal.respond_by <= self.clock
        before = footprint()
        done = proposal_expire(proposal_id=ppk, now=self.clock)
        assert done == due, "a request lapsed early" if done else "an unanswered request did not lapse"
        if not done:
            assert footprint() == before
            return
        silence_accepts = self.expected[pk] != S.IN_REVIEW if self.asked_by_buyer[ppk] else self.refund_all[ppk]
        # Staff decide a dispute: only an answer, never silence, settles one by cancellation.
        silence_accepts = silence_accepts and self.expected[pk] != S.DISPUTED
        if kind == ProposalKind.CANCELLATION and self.expected[pk] in REQUESTABLE[kind] and silence_accepts:
            event("cancellation accepted by the timer")
            self.proposals[ppk] = P.ACCEPTED
            self._cancelled_by_agreement(pk)
        else:
            event(f"{kind} lapsed")
            self.proposals[ppk] = P.EXPIRED

    # --- ordered packages: planned steps, continue and stop (issue 35) ---------------------------

    @rule(o=picks, steps=st.integers(min_value=2, max_value=3), from_balance=st.booleans())
    def order_package(self, o: int, steps: int, from_balance: bool) -> None:
        """A buyer orders a package: the first step paid (from the balance, or by card), the rest planned."""
        buyer, seller = self.users[o % 3], self.users[(o + 1) % 3]
        gig, package = packaged_gig(seller=seller, steps=PHASES[:steps])
        first_total = Money(PHASES[0][1], "USD") + buyer_service_fee(Money(PHASES[0][1], "USD"))
        can_pay = not from_balance or balance(AccountKind.BUYER_BALANCE, user=buyer) >= first_total
        before = footprint()
        try:
            order = package_order_start(
                buyer=buyer,
                gig=gig,
                package=package,
                extra_ids=[],
                answers={},
                key=uuid.uuid4().hex,
                source=BALANCE if from_balance else CARD,
            )
        except InsufficientFunds:
            assert from_balance and not can_pay
            assert footprint() == before
            return
        assert can_pay
        made = list(Milestone.objects.filter(order=order).order_by("position"))
        if made[0].state == S.AWAITING_PAYMENT:
            pay_checkout(made[0])
        event("package order done")
        self.orders.append(order)
        for n, milestone in enumerate(made):
            self.milestones.append(milestone.pk)
            self.order_of[milestone.pk] = order.pk
            self.expected[milestone.pk] = S.AWAITING_ACCEPTANCE if n == 0 else S.PLANNED
            self.revisions_left[milestone.pk] = PHASES[n][3]

    @precondition(lambda self: self._in_state({S.PLANNED}))
    @rule(i=picks, from_balance=st.booleans(), stale=rarely)
    def continue_step(self, i: int, from_balance: bool, stale: bool) -> None:
        """ "Continue to next milestone": the next planned step is paid and starts (or queues); only
        once everything before it is closed; stale, on any milestone at all."""
        planned = self._in_state({S.PLANNED})
        candidates = self.milestones if stale else planned
        pk = candidates[i % len(candidates)]
        milestone = self._load(pk)
        order_id = self.order_of[pk]
        busy = OPEN_STATES | {S.AWAITING_PAYMENT, S.PLANNED}
        earlier_busy = any(self.expected[m] in busy for m in self.milestones if self.order_of[m] == order_id and m < pk)
        buyer = milestone.order.buyer
        can_pay = not from_balance or balance(AccountKind.BUYER_BALANCE, user=buyer) >= milestone.total_charged
        allowed = self.expected[pk] == S.PLANNED and not earlier_busy and order_id not in self.completed and can_pay
        made: list[object] = []
        call = lambda: made.append(  # noqa: E731
            milestone_continue(
                buyer=buyer, milestone=milestone, key=uuid.uuid4().hex, source=BALANCE if from_balance else CARD
            )
        )
        if not self._try(allowed, f"continue on a {self.expected[pk]} milestone", call):
            return
        if not from_balance:
            assert Milestone.objects.get(pk=pk).state == S.PLANNED, "nothing is funded before the card pays"
            pay_continue_in_sandbox(made[0], site=SITE)
        self.expected[pk] = S.ACCEPTED if self._must_queue(pk) else S.IN_PROGRESS
        self._requests_withdrawn(pk)

    @precondition(lambda self: self._in_state({S.PLANNED}))
    @rule(o=picks, right_party=mostly, stale=rarely)
    def stop(self, o: int, right_party: bool, stale: bool) -> None:
        """ "Stop the order here": every planned step cancelled, no money moved; the order completes
        if nothing else is open or unpaid."""
        with_plans = sorted({self.order_of[m] for m in self._in_state({S.PLANNED})})
        candidates = [order.pk for order in self.orders] if stale else with_plans
        order = Order.objects.select_related("buyer", "seller").get(pk=candidates[o % len(candidates)])
        planned = [m for m in self._in_state({S.PLANNED}) if self.order_of[m] == order.pk]
        allowed = right_party and bool(planned)
        actor = order.buyer if right_party else order.seller
        transactions = Transaction.objects.count()
        if not self._try(allowed, "stop", lambda: order_stop(buyer=actor, order=order)):
            return
        assert Transaction.objects.count() == transactions, "stopping moved money"
        for m in planned:
            self.expected[m] = S.CANCELLED
            self._requests_withdrawn(m)
        if not self._waiting_of(order.pk):
            self.completed.add(order.pk)

    # --- after every step -------------------------------------------------------------------

    @invariant()
    def step_is_sound(self) -> None:
        """What the step wrote: its transactions balanced, matching their MACs and shapes, and
        the balances they touched true (tests/services/ledger_checks.py, ``step_audit``)."""
        breaches, self.checked = step_audit(self.checked)
        assert not breaches, breaches

    def ledger_is_sound(self) -> None:
        """All of it (at the end of each sequence): the full audit, and money conserved."""
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
            elif any(s in OPEN_STATES for s in states):
                assert order.status == OrderStatus.ACTIVE
            else:
                assert order.status == OrderStatus.AWAITING_MILESTONE

    @invariant()
    def requests_are_where_the_rules_say(self) -> None:
        assert dict(Proposal.objects.values_list("pk", "state")) == self.proposals


# Ten sequences of twenty steps in every suite run (the database is off, so each run draws new
# ones); LEDGER_PROPERTY_EXAMPLES=200 for a long search before a release.
EXAMPLES = int(os.environ.get("LEDGER_PROPERTY_EXAMPLES") or 10)


@pytest.mark.timeout(900)
def test_random_sequences_of_everything_keep_the_ledger_true_and_the_rules_kept():
    run_state_machine_as_test(
        Marketplace,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_an_offer_queued_behind_a_later_milestone_in_work_waits_while_another_one_closes():
    """A sequence of the machine's own steps, replayed: an offer paid while a
    later milestone is in work queues behind it; when a third milestone is
    declined, the offer must go on waiting (one milestone in work at a time)."""
    machine = Marketplace()
    try:
        machine.offer(o=0, cents=1000, by_seller=True, same_key=False)  # position 1, unpaid
        machine.create(o=0, cents=2000, from_balance=False)  # position 2
        machine.accept(i=0)  # starts: the offer before it is unpaid
        machine.answer_offer(i=0, answer="accept by card", right_party=True, stale=False)  # queues
        machine.create(o=0, cents=3000, from_balance=False)  # position 3
        machine.decline(i=0)  # the seller declines position 3
        machine.milestones_are_where_the_rules_say()
        machine.ledger_is_sound()
    finally:
        machine.teardown()


def test_an_ordered_package_continued_changed_and_stopped_keeps_the_ledger_true():
    """The machine's own steps for issue 35, replayed: a package ordered by card, its first step
    approved, a change of price on a planned step, the second continued by card, then the order
    stopped before the third; the model and the ledger agree after every one."""
    machine = Marketplace()
    try:
        machine.order_package(o=0, steps=3, from_balance=False)
        first, second, third = machine.milestones[-3:]
        machine.stop(o=0, right_party=False, stale=False)  # the seller may not stop it
        machine.continue_step(i=machine._in_state({S.PLANNED}).index(second), from_balance=False, stale=False)
        machine._do("accept", first)
        machine._do("submit", first)
        machine.continue_step(i=machine._in_state({S.PLANNED}).index(second), from_balance=True, stale=False)
        machine._do("approve", first)
        machine.ask(
            i=machine._free_to_ask()[ProposalKind.CHANGES].index(second),
            kind=ProposalKind.CHANGES,
            percent=10,
            change="higher",
            new_description=False,
            days=0,
            by_buyer=False,
            stale=False,
        )
        machine.answer_request(i=0, answer="accept", right_party=True, stale=False)
        machine.continue_step(i=machine._in_state({S.PLANNED}).index(second), from_balance=False, stale=False)
        assert machine.expected[second] == S.IN_PROGRESS
        machine.stop(o=0, right_party=True, stale=False)
        assert machine.expected[third] == S.CANCELLED
        machine.milestones_are_where_the_rules_say()
        machine.requests_are_where_the_rules_say()
        machine.step_is_sound()
        machine.ledger_is_sound()
    finally:
        machine.teardown()
