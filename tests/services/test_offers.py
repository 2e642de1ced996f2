"""Seller offers: the seller proposes a milestone ("Propose a milestone", or a
custom offer from the gig page that opens the order), the buyer accepts and
pays it (from the balance at once, or by card on the provider's page) or
declines it, the seller may withdraw it, and an offer left unanswered expires
after OFFER_EXPIRY. Nothing is charged before the buyer pays; once paid the
offer starts, or queues behind an open milestone, without the seller
accepting again. Every refusal changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from djmoney.money import Money

from marketplace.errors import DuplicateRequest, InvalidInput, InvalidTransition, NotAllowed
from milestones.models import Milestone, MilestoneState, Proposal
from milestones.services.completion import order_complete
from milestones.services.lifecycle import milestone_approve, milestone_cancel, milestone_submit
from milestones.services.offers import (
    custom_offer_create,
    offer_accept,
    offer_create,
    offer_decline,
    offer_expire,
    offer_withdraw,
)
from milestones.sweeps import sweep_offers
from notifications.models import Notification
from orders.models import Activity, Order, OrderStatus
from payments.models import AccountKind, Checkout, CheckoutStatus, ProviderCommand, Transaction
from payments.services import FundingSource
from tests.factories import (
    BALANCE,
    CARD,
    GigFactory,
    OrderFactory,
    StaffFactory,
    UserFactory,
    create_milestone,
    milestone_in,
    pay_checkout,
)
from tests.services.ledger_checks import assert_money_conserved, balance, world

S = MilestoneState
pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def snapshot() -> dict:
    """``world()`` and what it does not look at: the terms, proposals, checkouts, commands."""
    return {
        **world(),
        "terms": list(
            Milestone.objects.order_by("pk").values_list(
                "pk", "title", "amount", "buyer_fee", "deadline", "description", "offer_expires_at"
            )
        ),
        "proposals": list(Proposal.objects.order_by("pk").values_list("pk", "state")),
        "checkouts": list(Checkout.objects.order_by("pk").values_list("pk", "status")),
        "commands": ProviderCommand.objects.count(),
    }


def give_balance(buyer, amount: str = "1000.00") -> Money:
    """Money in the buyer's balance, the way it gets there: a milestone on
    another order, paid by card and cancelled (amount and fee come back)."""
    other = OrderFactory(buyer=buyer)
    milestone_cancel(milestone=create_milestone(other, amount=amount, title="Refunded"), actor=buyer)
    return balance(AccountKind.BUYER_BALANCE, user=buyer)


def offer(order, actor=None, *, key: str | None = None, **overrides) -> Milestone:
    terms = {
        "title": "SEO audit",
        "description": "An audit of every page, with a list of fixes.",
        "deadline": timezone.now() + timedelta(days=14),
        "amount": usd("100.00"),
        **overrides,
    }
    return offer_create(order=order, actor=actor or order.seller, idempotency_key=key or uuid.uuid4().hex, **terms)


def state_of(milestone: Milestone) -> str:
    return Milestone.objects.values_list("state", flat=True).get(pk=milestone.pk)


# --- making an offer ------------------------------------------------------------------------


def test_the_seller_offers_a_milestone_and_the_buyer_is_told_nothing_is_charged(order, settings, audit):
    settings.OFFER_EXPIRY = timedelta(days=7)
    first = milestone_in(S.APPROVED, order=order)
    transactions = Transaction.objects.count()
    before = timezone.now()
    made = offer(order, amount=usd("200.00"))
    assert made.state == S.OFFERED and made.is_offer
    assert made.position == first.position + 1
    assert made.amount == usd("200.00") and made.buyer_fee == usd("11.00")
    assert made.offer_expires_at is not None
    assert before + timedelta(days=7) <= made.offer_expires_at <= timezone.now() + timedelta(days=7)
    assert Transaction.objects.count() == transactions, "nothing is charged for an offer"
    assert not Checkout.objects.filter(milestone=made).exists()
    notice = Notification.objects.get(recipient=order.buyer, event="offer_received")
    assert "SEO audit" in notice.message and notice.url == made.get_absolute_url()
    assert not Notification.objects.filter(recipient=order.seller, event="offer_received").exists()
    assert Activity.objects.filter(milestone=made, actor=order.seller, verb="offered", to_state=S.OFFERED).exists()
    audit()


@pytest.mark.parametrize("who", ["buyer", "outsider", "staff"])
def test_only_the_seller_may_offer_a_milestone(order, who):
    actor = {"buyer": order.buyer, "outsider": UserFactory(), "staff": StaffFactory()}[who]
    before = snapshot()
    with pytest.raises(NotAllowed, match="Only the seller"):
        offer(order, actor)
    assert snapshot() == before and not Milestone.objects.exists()


def test_no_offer_on_a_completed_order(order, audit):
    milestone_in(S.APPROVED, order=order)
    order_complete(order=order, actor=order.buyer)
    before = snapshot()
    with pytest.raises(InvalidTransition, match="complete"):
        offer(order)
    assert snapshot() == before
    assert Milestone.objects.filter(order=order).count() == 1
    audit()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"description": ""}, "description"),
        ({"deadline": timezone.now() - timedelta(hours=1)}, "deadline"),
        ({"amount": usd("4.99")}, "amount"),
        ({"amount": usd("100000.01")}, "amount"),
        ({"amount": Money("100.00", "EUR")}, "amount"),
        ({"amount": usd("10.001")}, "amount"),
    ],
    ids=["empty title", "blank title", "empty description", "past deadline", "below min", "above max", "EUR", "3dp"],
)
def test_bad_terms_are_refused_with_their_field_and_change_nothing(order, overrides, field):
    milestone_in(S.IN_PROGRESS, order=order)
    before = snapshot()
    with pytest.raises(InvalidInput) as error:
        offer(order, **overrides)
    assert error.value.field == field
    assert snapshot() == before
    assert Milestone.objects.filter(order=order).count() == 1


def test_the_same_offer_form_sent_twice_makes_one_offer(order, audit):
    other = OrderFactory()
    first = offer(order, key="k" * 32)
    before = snapshot()
    with pytest.raises(DuplicateRequest) as error:
        offer(order, key="k" * 32, title="Another")
    assert error.value.obj == first
    assert snapshot() == before and Milestone.objects.filter(order=order).count() == 1
    # Another order's seller replaying the key learns nothing about it.
    with pytest.raises(DuplicateRequest) as error:
        offer(other, key="k" * 32)
    assert error.value.obj is None
    assert snapshot() == before
    audit()


# --- accept and pay ---------------------------------------------------------------------------


def test_accept_and_pay_from_the_balance_starts_the_work_at_once(order, audit):
    give_balance(order.buyer, "200.00")  # 211.00
    made = offer(order, amount=usd("100.00"))
    paid = offer_accept(milestone=made, actor=order.buyer, source=BALANCE)
    assert paid.state == S.IN_PROGRESS
    assert paid.accepted_at is not None and paid.started_at is not None
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("105.50")
    assert balance(AccountKind.ESCROW, milestone=paid) == usd("100.00")
    notice = Notification.objects.get(recipient=order.seller, event="offer_accepted")
    assert "Work starts now." in notice.message
    assert Activity.objects.filter(milestone=paid, verb="offer_accepted", to_state=S.IN_PROGRESS).exists()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ACTIVE
    # Accepting again is a second click: refused, nothing charged twice.
    before = snapshot()
    with pytest.raises(InvalidTransition, match="Nothing was changed"):
        offer_accept(milestone=made, actor=order.buyer, source=BALANCE)
    assert snapshot() == before
    audit()
    assert_money_conserved()


def test_an_offer_paid_while_an_earlier_milestone_is_open_queues_and_starts_when_that_one_is_approved(order, audit):
    earlier = milestone_in(S.IN_PROGRESS, order=order)
    give_balance(order.buyer)
    made = offer(order)
    queued = offer_accept(milestone=made, actor=order.buyer, source=BALANCE)
    assert queued.state == S.ACCEPTED and queued.started_at is None
    notice = Notification.objects.get(recipient=order.seller, event="offer_accepted")
    assert "It starts when the current milestone closes." in notice.message

    milestone_submit(milestone=earlier, actor=order.seller, message="Done")
    assert state_of(made) == S.ACCEPTED, "still queued while the earlier one is in review"
    milestone_approve(milestone=earlier, actor=order.buyer)
    made.refresh_from_db()
    assert made.state == S.IN_PROGRESS and made.started_at is not None
    assert Notification.objects.filter(recipient=order.seller, event="milestone_started").exists()
    audit()
    assert_money_conserved()


@pytest.mark.parametrize("earlier_open", [False, True], ids=["nothing earlier", "earlier open"])
def test_accept_by_card_waits_for_the_checkout_and_then_starts_or_queues(order, earlier_open, audit):
    if earlier_open:
        milestone_in(S.IN_PROGRESS, order=order)
    made = offer(order, amount=usd("100.00"))
    transactions = Transaction.objects.count()
    waiting = offer_accept(milestone=made, actor=order.buyer, source=CARD)
    assert waiting.state == S.AWAITING_PAYMENT
    checkout = Checkout.objects.get(milestone=made)
    assert checkout.purpose == "milestone" and checkout.status == CheckoutStatus.OPEN
    assert checkout.amount == usd("105.50") and checkout.buyer == order.buyer
    assert Transaction.objects.count() == transactions, "nothing is funded before the provider confirms"
    assert Activity.objects.filter(milestone=made, verb="offer_accepted", to_state=S.AWAITING_PAYMENT).exists()

    pay_checkout(made)
    made.refresh_from_db()
    assert made.state == (S.ACCEPTED if earlier_open else S.IN_PROGRESS)
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PAID
    assert balance(AccountKind.ESCROW, milestone=made) == usd("100.00")
    assert Notification.objects.filter(recipient=order.seller, event="offer_accepted").count() == 1
    audit()
    assert_money_conserved()


@pytest.mark.parametrize("source", [BALANCE, CARD], ids=["balance", "card"])
def test_an_expired_offer_cannot_be_accepted(order, source, audit):
    give_balance(order.buyer)
    made = offer(order)
    assert made.offer_expires_at is not None
    before = snapshot()
    # The sweep has not run yet: the offer still reads "offered", but its time is up.
    with (
        time_machine.travel(made.offer_expires_at + timedelta(seconds=1), tick=False),
        pytest.raises(InvalidTransition, match="has expired"),
    ):
        offer_accept(milestone=made, actor=order.buyer, source=source)
    assert snapshot() == before
    offer_expire(milestone_id=made.pk, now=made.offer_expires_at)
    before = snapshot()
    with pytest.raises(InvalidTransition):
        offer_accept(milestone=made, actor=order.buyer, source=source)
    assert snapshot() == before and state_of(made) == S.OFFER_EXPIRED
    audit()


@pytest.mark.parametrize("who", ["seller", "outsider", "staff"])
def test_only_the_buyer_accepts_or_declines_an_offer(order, who):
    actor = {"seller": order.seller, "outsider": UserFactory(), "staff": StaffFactory()}[who]
    give_balance(order.buyer)
    made = offer(order)
    before = snapshot()
    for source in (BALANCE, CARD):
        with pytest.raises(NotAllowed, match="Only the buyer"):
            offer_accept(milestone=made, actor=actor, source=source)
    with pytest.raises(NotAllowed, match="Only the buyer"):
        offer_decline(milestone=made, actor=actor, reason="No")
    assert snapshot() == before and state_of(made) == S.OFFERED


def test_an_unknown_payment_method_is_refused(order):
    made = offer(order)
    before = snapshot()
    with pytest.raises(InvalidInput) as error:
        offer_accept(milestone=made, actor=order.buyer, source=FundingSource(method="cash"))
    assert error.value.field == "method"
    assert snapshot() == before


def test_paying_from_a_balance_that_does_not_cover_it_changes_nothing(order):
    from marketplace.errors import InsufficientFunds

    give_balance(order.buyer, "50.00")  # 52.75
    made = offer(order, amount=usd("50.01"))  # 52.76 with the fee
    before = snapshot()
    with pytest.raises(InsufficientFunds):
        offer_accept(milestone=made, actor=order.buyer, source=BALANCE)
    assert snapshot() == before and state_of(made) == S.OFFERED


@pytest.mark.parametrize(
    "state", [S.AWAITING_ACCEPTANCE, S.IN_PROGRESS, S.APPROVED, S.OFFER_DECLINED, S.OFFER_EXPIRED, S.CANCELLED]
)
def test_only_an_offer_can_be_accepted_declined_or_withdrawn(order, state):
    if state == S.CANCELLED:
        milestone = offer(order)
        offer_withdraw(milestone=milestone, actor=order.seller)
    else:
        milestone = milestone_in(state, order=order)
    give_balance(order.buyer)
    before = snapshot()
    for source in (BALANCE, CARD):
        with pytest.raises(InvalidTransition):
            offer_accept(milestone=milestone, actor=order.buyer, source=source)
    with pytest.raises(InvalidTransition):
        offer_decline(milestone=milestone, actor=order.buyer)
    with pytest.raises(InvalidTransition):
        offer_withdraw(milestone=milestone, actor=order.seller)
    assert snapshot() == before


# --- decline, withdraw ---------------------------------------------------------------------


def test_the_buyer_declines_an_offer_no_money_moves_and_the_seller_is_told(order, audit):
    made = offer(order)
    transactions = Transaction.objects.count()
    declined = offer_decline(milestone=made, actor=order.buyer, reason="  Not this quarter  ")
    assert declined.state == S.OFFER_DECLINED and declined.closed_at is not None
    assert declined.decline_reason == "Not this quarter"
    assert Transaction.objects.count() == transactions
    notice = Notification.objects.get(recipient=order.seller, event="offer_declined")
    assert "Not this quarter" in notice.message
    assert Activity.objects.filter(milestone=made, verb="offer_declined", actor=order.buyer).exists()
    before = snapshot()
    for source in (BALANCE, CARD):
        with pytest.raises(InvalidTransition):
            offer_accept(milestone=made, actor=order.buyer, source=source)
    with pytest.raises(InvalidTransition):
        offer_decline(milestone=made, actor=order.buyer)
    assert snapshot() == before
    audit()


def test_a_decline_reason_over_the_limit_is_a_field_error(order):
    made = offer(order)
    before = snapshot()
    with pytest.raises(InvalidInput) as error:
        offer_decline(milestone=made, actor=order.buyer, reason="x" * 2001)
    assert error.value.field == "reason"
    assert snapshot() == before


def test_the_seller_withdraws_an_unanswered_offer(order, audit):
    made = offer(order)
    before = snapshot()
    for actor in (order.buyer, UserFactory(), StaffFactory()):
        with pytest.raises(NotAllowed, match="Only the seller"):
            offer_withdraw(milestone=made, actor=actor)
    assert snapshot() == before
    withdrawn = offer_withdraw(milestone=made, actor=order.seller)
    assert withdrawn.state == S.CANCELLED and withdrawn.closed_at is not None
    assert Notification.objects.filter(recipient=order.buyer, event="offer_withdrawn").exists()
    assert Activity.objects.filter(milestone=made, verb="offer_withdrawn", actor=order.seller).exists()
    before = snapshot()
    with pytest.raises(InvalidTransition):
        offer_accept(milestone=made, actor=order.buyer, source=CARD)
    assert snapshot() == before
    audit()


def test_an_offer_being_paid_by_card_cannot_be_withdrawn(order, audit):
    made = offer(order)
    offer_accept(milestone=made, actor=order.buyer, source=CARD)
    before = snapshot()
    with pytest.raises(InvalidTransition):
        offer_withdraw(milestone=made, actor=order.seller)
    assert snapshot() == before
    audit()


# --- expiry ----------------------------------------------------------------------------------


def test_the_offers_sweep_expires_only_due_offers_and_a_second_run_does_nothing(order, settings, audit):
    settings.OFFER_EXPIRY = timedelta(days=1)
    due = offer(order, title="Due")
    being_paid = offer(order, title="Being paid")
    offer_accept(milestone=being_paid, actor=order.buyer, source=CARD)
    declined = offer(order, title="Declined")
    offer_decline(milestone=declined, actor=order.buyer)
    settings.OFFER_EXPIRY = timedelta(days=7)
    later = offer(order, title="Later")
    assert due.offer_expires_at is not None and later.offer_expires_at is not None

    assert sweep_offers(now=due.offer_expires_at - timedelta(seconds=1)).as_dict()["done"] == 0
    now = due.offer_expires_at + timedelta(hours=1)
    assert sweep_offers(now=now).as_dict()["done"] == 1
    states = dict(Milestone.objects.values_list("title", "state"))
    assert states == {
        "Due": S.OFFER_EXPIRED,
        "Being paid": S.AWAITING_PAYMENT,
        "Declined": S.OFFER_DECLINED,
        "Later": S.OFFERED,
    }
    for party in (order.buyer, order.seller):
        assert Notification.objects.filter(recipient=party, event="offer_expired").count() == 1
    assert Activity.objects.filter(milestone=due, verb="offer_expired", actor=None).count() == 1

    before = snapshot()
    assert sweep_offers(now=now).as_dict()["done"] == 0, "once"
    assert offer_expire(milestone_id=due.pk, now=now) is False
    assert snapshot() == before
    assert sweep_offers(now=later.offer_expires_at).as_dict()["done"] == 1
    assert state_of(later) == S.OFFER_EXPIRED
    audit()


def test_an_offer_answered_before_it_was_due_is_not_expired(order):
    made = offer(order)
    assert made.offer_expires_at is not None
    assert offer_expire(milestone_id=made.pk, now=made.offer_expires_at - timedelta(seconds=1)) is False
    assert state_of(made) == S.OFFERED
    offer_decline(milestone=made, actor=order.buyer)
    assert offer_expire(milestone_id=made.pk, now=made.offer_expires_at) is False
    assert state_of(made) == S.OFFER_DECLINED


# --- custom offers from the gig page ------------------------------------------------------------


def custom(gig, seller, buyer, *, key: str | None = None, **overrides) -> Milestone:
    terms = {
        "order_title": "Shop redesign",
        "title": "Wireframes",
        "description": "Wireframes of the five main pages.",
        "deadline": timezone.now() + timedelta(days=10),
        "amount": usd("300.00"),
        **overrides,
    }
    return custom_offer_create(gig=gig, seller=seller, buyer=buyer, idempotency_key=key or uuid.uuid4().hex, **terms)


@pytest.fixture
def gig(seller):
    return GigFactory(seller=seller, title="I will redesign your shop")


def test_a_custom_offer_opens_an_order_on_the_gig_with_the_offer(gig, buyer, seller, audit):
    OrderFactory(buyer=buyer, seller=seller)  # they have been in touch
    made = custom(gig, seller, buyer)
    order = made.order
    assert order.gig == gig and order.buyer == buyer and order.seller == seller and order.title == "Shop redesign"
    assert made.state == S.OFFERED and made.position == 1 and made.amount == usd("300.00")
    assert Activity.objects.filter(order=order, verb="order_opened", actor=seller).exists()
    assert Notification.objects.filter(recipient=buyer, event="order_opened", url=order.get_absolute_url()).exists()
    assert Notification.objects.filter(recipient=buyer, event="offer_received").exists()
    # The buyer accepts and pays it as any offer.
    pay_with = offer_accept(milestone=made, actor=buyer, source=CARD)
    assert pay_with.state == S.AWAITING_PAYMENT
    pay_checkout(made)
    assert state_of(made) == S.IN_PROGRESS
    audit()


def test_a_custom_offer_to_a_buyer_who_never_contacted_the_seller_is_refused(gig, buyer, seller):
    OrderFactory(buyer=buyer)  # an order with someone else does not count
    before = snapshot()
    orders = Order.objects.count()
    with pytest.raises(InvalidInput) as error:
        custom(gig, seller, buyer)
    assert error.value.field == "buyer"
    assert snapshot() == before and Order.objects.count() == orders


@pytest.mark.parametrize("who", ["buyer", "another seller", "staff"])
def test_only_the_gigs_seller_sends_a_custom_offer_from_it(gig, buyer, seller, who):
    OrderFactory(buyer=buyer, seller=seller)
    actor = {"buyer": buyer, "another seller": UserFactory(), "staff": StaffFactory()}[who]
    if who == "another seller":
        OrderFactory(buyer=buyer, seller=actor)  # in touch with the buyer, but not their gig
    before = snapshot()
    orders = Order.objects.count()
    with pytest.raises(NotAllowed):
        custom(gig, actor, buyer)
    assert snapshot() == before and Order.objects.count() == orders


def test_a_custom_offer_with_bad_terms_opens_no_order(gig, buyer, seller):
    OrderFactory(buyer=buyer, seller=seller)
    before = snapshot()
    orders = Order.objects.count()
    with pytest.raises(InvalidInput) as error:
        custom(gig, seller, buyer, amount=usd("1.00"))
    assert error.value.field == "amount"
    with pytest.raises(InvalidInput) as error:
        custom(gig, seller, buyer, order_title="  ")
    assert snapshot() == before and Order.objects.count() == orders


def test_the_same_custom_offer_sent_twice_opens_one_order(gig, buyer, seller):
    OrderFactory(buyer=buyer, seller=seller)
    custom(gig, seller, buyer, key="c" * 32)
    before = snapshot()
    orders = Order.objects.count()
    with pytest.raises(DuplicateRequest):
        custom(gig, seller, buyer, key="c" * 32)
    assert snapshot() == before and Order.objects.count() == orders


def test_an_offer_paid_while_a_later_milestone_is_in_work_queues_behind_it(order, audit):
    """One milestone in work at a time: an offer left unpaid while a later
    milestone started does not start beside it when it is paid."""
    give_balance(order.buyer, "500.00")
    made = offer(order, amount=usd("100.00"))
    later = milestone_in(S.IN_PROGRESS, order=order)
    assert later.position > made.position
    paid = offer_accept(milestone=made, actor=order.buyer, source=BALANCE)
    assert paid.state == S.ACCEPTED
    assert Milestone.objects.filter(order=order, state=S.IN_PROGRESS).count() == 1
    audit()
