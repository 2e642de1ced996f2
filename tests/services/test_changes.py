"""Changes before acceptance: on a milestone awaiting acceptance the seller
proposes another deadline, amount or description; the buyer accepts (a
higher amount is charged for the difference and its service fee, from the
balance or by card; a lower one refunded, to the balance or the card) or
declines (the terms stay, the seller may still accept); the seller may
withdraw; unanswered it lapses after CHANGES_RESPONSE_PERIOD; the seller
accepting the milestone withdraws it. Also: who may ask for which kind of
proposal in which state, and the reminders before an unanswered cancellation
request is accepted. Every refusal changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from marketplace.errors import InsufficientFunds, InvalidInput, InvalidTransition, NotAllowed
from marketplace.money import format_money
from milestones.models import Milestone, MilestoneReminder, MilestoneState, Proposal, ProposalState
from milestones.services.changes import changes_accept, changes_request, changes_words
from milestones.services.lifecycle import (
    milestone_accept,
    milestone_approve,
    milestone_cancel,
    milestone_decline,
    milestone_submit,
)
from milestones.services.proposals import (
    cancellation_request,
    extension_request,
    proposal_accept,
    proposal_decline,
    proposal_expire,
    proposal_withdraw,
)
from milestones.services.purposes import changes_checkout_expired
from milestones.sweeps import sweep_proposals
from notifications.models import Notification
from orders.models import Activity
from payments.checkout import checkout_open, checkout_sync
from payments.models import (
    AccountKind,
    Checkout,
    CheckoutStatus,
    CommandKind,
    ProviderCommand,
    Transaction,
    TransactionKind,
)
from payments.outbox import command_execute
from payments.providers import sign_payload
from sandbox.models import SandboxEvent, SandboxOperation
from sandbox.services import session_pay
from tests.factories import (
    BALANCE,
    GOOD_CARD,
    SITE,
    WEBHOOK_URL,
    OrderFactory,
    StaffFactory,
    UserFactory,
    create_milestone,
    milestone_in,
)
from tests.services.ledger_checks import assert_money_conserved, balance, world

S = MilestoneState
P = ProposalState
pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def snapshot() -> dict:
    """``world()`` and what it does not look at: the terms, proposals, checkouts, commands."""
    return {
        **world(),
        "terms": list(
            Milestone.objects.order_by("pk").values_list("pk", "amount", "buyer_fee", "deadline", "description")
        ),
        "proposals": list(Proposal.objects.order_by("pk").values_list("pk", "kind", "state", "checkout_id")),
        "checkouts": list(Checkout.objects.order_by("pk").values_list("pk", "status")),
        "commands": ProviderCommand.objects.count(),
    }


def terms(milestone: Milestone) -> tuple:
    milestone.refresh_from_db()
    return (milestone.amount, milestone.buyer_fee, milestone.deadline, milestone.description)


def give_balance(buyer, amount: str = "1000.00") -> Money:
    """Money in the buyer's balance: a milestone on another order, paid by card
    and cancelled (the amount and the fee come back)."""
    other = OrderFactory(buyer=buyer)
    milestone_cancel(milestone=create_milestone(other, amount=amount, title="Refunded"), actor=buyer)
    return balance(AccountKind.BUYER_BALANCE, user=buyer)


def propose(
    milestone: Milestone,
    *,
    amount: str | None = None,
    days: int | None = None,
    description: str = "",
    actor=None,
) -> Proposal:
    return changes_request(
        milestone=milestone,
        actor=actor or milestone.order.seller,
        new_deadline=None if days is None else milestone.deadline + timedelta(days=days),
        new_amount=None if amount is None else usd(amount),
        new_description=description,
    )


def awaiting(order, amount: str = "100.00", **kwargs) -> Milestone:
    """A milestone the buyer created and paid by card, waiting for the seller."""
    milestone = create_milestone(order, amount=amount, **kwargs)
    assert milestone.state == S.AWAITING_ACCEPTANCE
    return milestone


def open_changes_checkout(proposal: Proposal) -> Checkout:
    """What "Accept changes" by card does after commit: the provider's page for the difference."""
    checkout = Checkout.objects.select_related("buyer").get(proposal=proposal)
    back = SITE + reverse("changes_checkout_return", args=[proposal.pk])
    return checkout_open(
        checkout=checkout, success_url=back + "?session_id={CHECKOUT_SESSION_ID}", cancel_url=back + "?cancelled=1"
    )


def pay_on_sandbox(checkout: Checkout, *, sync: bool = True) -> Checkout:
    """The buyer pays on the sandbox's page, then comes back (``sync`` asks the provider)."""
    session_pay(session_id=checkout.session_id, card_number=GOOD_CARD, webhook_url=WEBHOOK_URL)
    if sync:
        checkout_sync(checkout=checkout)
        checkout.refresh_from_db()
    return checkout


def deliver_webhook(client, event: SandboxEvent):
    payload = json.dumps(event.payload).encode()
    signature = sign_payload(payload, django_settings.SANDBOX_WEBHOOK_SECRET)
    return client.post(
        reverse("payment_webhook", args=["sandbox"]),
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


# --- asking ------------------------------------------------------------------------------------


def test_the_seller_proposes_changes_and_the_buyer_is_told(order, settings):
    settings.CHANGES_RESPONSE_PERIOD = timedelta(hours=48)
    milestone = awaiting(order)
    before_terms = terms(milestone)
    start = timezone.now()
    proposal = propose(milestone, amount="150.00", days=3, description="Also the mobile layout.")
    assert proposal.kind == "changes" and proposal.state == P.PENDING and proposal.proposer == order.seller
    assert proposal.new_amount == usd("150.00")
    assert proposal.new_deadline == milestone.deadline + timedelta(days=3)
    assert proposal.new_description == "Also the mobile layout."
    assert start + timedelta(hours=48) <= proposal.respond_by <= timezone.now() + timedelta(hours=48)
    assert terms(milestone) == before_terms, "nothing changes before the buyer accepts"
    notice = Notification.objects.get(recipient=order.buyer, event="changes_proposed")
    assert "Amount 100.00" in notice.message and "150.00" in notice.message
    assert Activity.objects.filter(milestone=milestone, verb="changes_proposed", actor=order.seller).exists()


def test_the_proposed_changes_read_with_currency_and_months_as_the_site_writes_them(order):
    """The words of the notice, the timeline and the order page: "100.00 USD", "Mar", not "usd", "mar"."""
    milestone = awaiting(order)
    proposal = propose(milestone, amount="150.00", days=3)
    words = changes_words(milestone, proposal)
    assert words.startswith("Amount ")
    assert proposal.new_deadline is not None
    for part in (
        format_money(usd("100.00")),
        format_money(usd("150.00")),
        f"{timezone.localtime(proposal.new_deadline):%d %b %Y %H:%M}",
    ):
        assert part in words, words
    notice = Notification.objects.get(recipient=order.buyer, event="changes_proposed")
    assert format_money(usd("150.00")) in notice.message, notice.message


def test_terms_left_out_keep_their_current_value(order):
    milestone = awaiting(order)
    proposal = propose(milestone, amount="120.00")
    assert proposal.new_deadline == milestone.deadline
    assert proposal.new_description == milestone.description


def test_a_proposal_must_change_something(order):
    milestone = awaiting(order)
    before = snapshot()
    with pytest.raises(InvalidInput, match="Change at least one") as error:
        changes_request(
            milestone=milestone,
            actor=order.seller,
            new_deadline=milestone.deadline,
            new_amount=milestone.amount,
            new_description=f"  {milestone.description}  ",
        )
    assert error.value.field == "amount"
    assert snapshot() == before and not Proposal.objects.exists()


@pytest.mark.parametrize(
    ("amount", "days", "description", "field"),
    [
        ("4.99", None, "", "amount"),
        ("100000.01", None, "", "amount"),
        ("10.001", None, "", "amount"),
        (None, -30, "", "deadline"),
        (None, None, "x" * 10001, "description"),
    ],
    ids=["below min", "above max", "3dp", "past deadline", "description too long"],
)
def test_bad_terms_are_refused_with_their_field_and_change_nothing(order, amount, days, description, field):
    milestone = awaiting(order)
    before = snapshot()
    with pytest.raises(InvalidInput) as error:
        propose(milestone, amount=amount, days=days, description=description)
    assert error.value.field == field
    assert snapshot() == before and not Proposal.objects.exists()


def test_an_amount_in_another_currency_is_refused(order):
    milestone = awaiting(order)
    before = snapshot()
    with pytest.raises(InvalidInput) as error:
        changes_request(
            milestone=milestone,
            actor=order.seller,
            new_deadline=None,
            new_amount=Money("150.00", "EUR"),
            new_description="",
        )
    assert error.value.field == "amount"
    assert snapshot() == before


def test_one_pending_proposal_at_a_time(order):
    milestone = awaiting(order)
    first = propose(milestone, amount="150.00")
    before = snapshot()
    with pytest.raises(InvalidTransition, match="already waiting"):
        propose(milestone, amount="160.00")
    assert snapshot() == before
    proposal_decline(proposal=first, actor=order.buyer)
    assert propose(milestone, amount="160.00").state == P.PENDING


# --- accepting -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["balance", "card"])
def test_accepting_a_new_deadline_and_description_moves_no_money(order, method, audit):
    milestone = awaiting(order)
    amount, fee, deadline, _ = terms(milestone)
    proposal = propose(milestone, days=10, description="A narrower scope.")
    money = (Transaction.objects.count(), SandboxOperation.objects.count(), Checkout.objects.count())
    accepted = changes_accept(proposal=proposal, actor=order.buyer, method=method)
    assert accepted.state == P.ACCEPTED and accepted.checkout is None and accepted.decided_by == order.buyer
    assert terms(milestone) == (amount, fee, deadline + timedelta(days=10), "A narrower scope.")
    assert milestone.state == S.AWAITING_ACCEPTANCE, "the seller still accepts the new terms"
    assert (Transaction.objects.count(), SandboxOperation.objects.count(), Checkout.objects.count()) == money
    assert Notification.objects.filter(recipient=order.seller, event="changes_accepted").exists()
    assert Activity.objects.filter(milestone=milestone, verb="changes_accepted", actor=order.buyer).exists()
    audit()


def test_a_higher_amount_is_paid_from_the_balance_with_the_fee_difference(order, audit):
    milestone = awaiting(order, amount="100.00")
    assert milestone.buyer_fee == usd("5.50")
    assert give_balance(order.buyer, "200.00") == usd("211.00")
    proposal = propose(milestone, amount="150.00")
    changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    milestone.refresh_from_db()
    # 50.00 more into escrow and 8.25 - 5.50 = 2.75 more service fee.
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("158.25")
    assert balance(AccountKind.ESCROW, milestone=milestone) == usd("150.00")
    assert milestone.amount == usd("150.00") and milestone.buyer_fee == usd("8.25")
    top_up = Transaction.objects.get(idempotency_key=f"top-up:changes:{proposal.pk}")
    assert top_up.kind == TransactionKind.FUND
    notice = Notification.objects.get(recipient=order.seller, event="changes_accepted")
    assert "52.75" in notice.message
    audit()
    assert_money_conserved()

    # The new amount is what the seller is paid on approval, less the commission.
    milestone_accept(milestone=milestone, actor=order.seller)
    milestone_submit(milestone=milestone, actor=order.seller, message="Done")
    milestone_approve(milestone=milestone, actor=order.buyer)
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("120.00")
    audit()
    assert_money_conserved()


def test_a_higher_amount_the_balance_does_not_cover_changes_nothing(order, audit):
    milestone = awaiting(order)
    give_balance(order.buyer, "50.00")  # 52.75; 52.76 needed below
    proposal = propose(milestone, amount="150.01")
    before = snapshot()
    with pytest.raises(InsufficientFunds):
        changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    assert snapshot() == before
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING
    audit()


def test_a_higher_amount_by_card_waits_for_the_checkout_and_applies_when_paid(order, audit):
    milestone = awaiting(order, amount="100.00")
    old_terms = terms(milestone)
    proposal = propose(milestone, amount="150.00")
    transactions = Transaction.objects.count()
    pending = changes_accept(proposal=proposal, actor=order.buyer, method="card")
    assert pending.state == P.PENDING and pending.checkout is not None
    checkout = pending.checkout
    assert checkout.purpose == "changes" and checkout.status == CheckoutStatus.OPEN
    assert checkout.amount == usd("52.75") and checkout.buyer == order.buyer
    assert terms(milestone) == old_terms and Transaction.objects.count() == transactions
    # Accepting again while the checkout is open sends the buyer to the same one.
    assert changes_accept(proposal=proposal, actor=order.buyer, method="card").checkout == checkout
    assert Checkout.objects.filter(purpose="changes").count() == 1

    pay_on_sandbox(open_changes_checkout(proposal))
    proposal.refresh_from_db()
    milestone.refresh_from_db()
    assert proposal.state == P.ACCEPTED
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PAID
    assert milestone.amount == usd("150.00") and milestone.buyer_fee == usd("8.25")
    assert balance(AccountKind.ESCROW, milestone=milestone) == usd("150.00")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("0.00")
    audit()
    assert_money_conserved()

    # The buyer coming back again changes nothing.
    before = snapshot()
    checkout_sync(checkout=Checkout.objects.get(pk=checkout.pk))
    assert snapshot() == before


def test_a_higher_amount_paid_by_card_is_applied_by_the_webhook_once(client, order, audit):
    milestone = awaiting(order, amount="100.00")
    proposal = propose(milestone, amount="200.00", days=5)
    changes_accept(proposal=proposal, actor=order.buyer, method="card")
    pay_on_sandbox(open_changes_checkout(proposal), sync=False)
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING, "not before the provider says so"
    event = SandboxEvent.objects.filter(type="checkout.session.completed").latest("pk")
    response = deliver_webhook(client, event)
    assert response.status_code == 200 and response.json()["outcome"] == "changes applied"
    milestone.refresh_from_db()
    assert milestone.amount == usd("200.00") and milestone.buyer_fee == usd("11.00")
    assert Proposal.objects.get(pk=proposal.pk).state == P.ACCEPTED
    before = snapshot()
    replay = deliver_webhook(client, event)
    assert replay.status_code == 200 and snapshot() == before
    audit()
    assert_money_conserved()


def test_a_payment_after_the_seller_accepted_the_milestone_is_refunded_to_the_card(order, audit):
    milestone = awaiting(order, amount="100.00")
    old_terms = terms(milestone)
    proposal = propose(milestone, amount="150.00")
    changes_accept(proposal=proposal, actor=order.buyer, method="card")
    checkout = open_changes_checkout(proposal)
    # Meanwhile the seller accepts the milestone as it stands: the changes are withdrawn.
    milestone_accept(milestone=milestone, actor=order.seller)
    assert Proposal.objects.get(pk=proposal.pk).state == P.WITHDRAWN

    pay_on_sandbox(checkout)
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.REFUNDED
    command = ProviderCommand.objects.get(kind=CommandKind.REFUND)
    assert command.amount == usd("52.75") and command.checkout_id == checkout.pk
    assert Transaction.objects.filter(kind=TransactionKind.LATE_PAYMENT).count() == 1
    assert terms(milestone) == old_terms
    assert balance(AccountKind.ESCROW, milestone=milestone) == usd("100.00")
    assert Notification.objects.filter(recipient=order.buyer, event="late_payment_refunded").exists()
    assert Proposal.objects.get(pk=proposal.pk).state == P.WITHDRAWN
    audit()
    assert_money_conserved()

    assert command_execute(command_id=command.pk).outcome == "succeeded"
    assert SandboxOperation.objects.get(kind="refund", succeeded=True).amount == usd("52.75")
    audit()
    assert_money_conserved()


def test_a_late_payment_on_a_replaced_checkout_of_the_difference_is_refunded(client, order, audit):
    """The first checkout of the difference closed unpaid on our side, the buyer
    accepted again (a new checkout), and then the provider reports that the
    first one was paid after all (paid on its page just as we closed it): that
    money goes back to the card, as for any late payment."""
    milestone = awaiting(order, amount="100.00")
    proposal = propose(milestone, amount="150.00")
    changes_accept(proposal=proposal, actor=order.buyer, method="card")
    first = open_changes_checkout(proposal)
    assert changes_checkout_expired(first.pk) == "expired"
    second = changes_accept(proposal=proposal, actor=order.buyer, method="card").checkout
    assert second is not None and second.pk != first.pk
    pay_on_sandbox(first, sync=False)
    event = SandboxEvent.objects.filter(type="checkout.session.completed").latest("pk")
    response = deliver_webhook(client, event)
    assert response.status_code == 200
    command = ProviderCommand.objects.get(kind=CommandKind.REFUND)
    assert command.amount == usd("52.75")
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING
    audit()
    assert_money_conserved()


def test_a_lower_amount_is_refunded_to_the_balance_with_the_fee_difference(order, audit):
    milestone = awaiting(order, amount="100.00")
    proposal = propose(milestone, amount="60.00")
    changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    milestone.refresh_from_db()
    # 40.00 out of escrow and 5.50 - 3.30 = 2.20 of service fee.
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("42.20")
    assert balance(AccountKind.ESCROW, milestone=milestone) == usd("60.00")
    assert milestone.amount == usd("60.00") and milestone.buyer_fee == usd("3.30")
    assert not ProviderCommand.objects.exists()
    assert Transaction.objects.filter(idempotency_key=f"reduce:changes:{proposal.pk}").exists()
    audit()
    assert_money_conserved()


def test_a_lower_amount_goes_back_to_the_card_for_a_buyer_who_asked_for_that(order, audit):
    order.buyer.refund_to = "card"
    order.buyer.save(update_fields=["refund_to"])
    milestone = awaiting(order, amount="100.00")
    card = Checkout.objects.get(milestone=milestone)
    proposal = propose(milestone, amount="60.00")
    changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    command = ProviderCommand.objects.get(kind=CommandKind.REFUND)
    assert command.amount == usd("42.20") and command.checkout_id == card.pk
    assert command.payment_reference == card.payment_reference
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("0.00")
    assert balance(AccountKind.ESCROW, milestone=milestone) == usd("60.00")
    audit()
    assert_money_conserved()
    assert command_execute(command_id=command.pk).outcome == "succeeded"
    # The rest the card paid (63.30) is still refundable to it on a later cancel.
    milestone_cancel(milestone=milestone, actor=order.buyer, refund_to="card")
    assert sum(c.amount.amount for c in ProviderCommand.objects.filter(kind=CommandKind.REFUND)) == Decimal("105.50")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("0.00")
    audit()
    assert_money_conserved()


def test_a_card_refund_is_capped_by_what_the_card_paid_and_the_rest_goes_to_the_balance(order, audit):
    order.buyer.refund_to = "card"
    order.buyer.save(update_fields=["refund_to"])
    milestone = awaiting(order, amount="100.00")  # 105.50 by card
    give_balance(order.buyer, "200.00")  # 211.00 in the balance
    higher = propose(milestone, amount="200.00")
    changes_accept(proposal=higher, actor=order.buyer, method="balance")  # 105.50 more from the balance
    balance_before = balance(AccountKind.BUYER_BALANCE, user=order.buyer)
    lower = propose(milestone, amount="10.00")
    changes_accept(proposal=lower, actor=order.buyer, method="balance")
    # 190.00 and 11.00 - 0.55 = 10.45 of fee come back: 105.50 to the card that paid, 94.95 to the balance.
    command = ProviderCommand.objects.get(kind=CommandKind.REFUND, checkout__milestone=milestone)
    assert command.amount == usd("105.50")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) - balance_before == usd("94.95")
    audit()
    assert_money_conserved()


def test_a_buyer_who_prefers_the_card_but_paid_from_the_balance_is_refunded_to_the_balance(order, audit):
    order.buyer.refund_to = "card"
    order.buyer.save(update_fields=["refund_to"])
    give_balance(order.buyer, "200.00")
    commands = ProviderCommand.objects.count()
    milestone = create_milestone(order, amount="100.00", source=BALANCE)
    balance_before = balance(AccountKind.BUYER_BALANCE, user=order.buyer)
    proposal = propose(milestone, amount="60.00")
    changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    assert ProviderCommand.objects.count() == commands
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) - balance_before == usd("42.20")
    audit()


def test_the_sellers_notice_of_a_lower_amount_does_not_speak_of_their_own_balance(order):
    """The refund is the buyer's: the seller is not told it is "back in your balance"."""
    milestone = awaiting(order, amount="100.00")
    proposal = propose(milestone, amount="60.00")
    changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    notice = Notification.objects.get(recipient=order.seller, event="changes_accepted")
    assert "42.20" in notice.message
    assert "your balance" not in notice.message and "your card" not in notice.message, notice.message


def test_an_unknown_method_is_a_field_error(order):
    milestone = awaiting(order)
    proposal = propose(milestone, amount="150.00")
    before = snapshot()
    with pytest.raises(InvalidInput) as error:
        changes_accept(proposal=proposal, actor=order.buyer, method="cash")
    assert error.value.field == "method"
    assert snapshot() == before


def test_changes_are_not_accepted_through_the_generic_answer(order):
    milestone = awaiting(order)
    proposal = propose(milestone, amount="60.00")
    before = snapshot()
    with pytest.raises(InvalidTransition, match="confirmation page"):
        proposal_accept(proposal=proposal, actor=order.buyer)
    assert snapshot() == before


# --- declining, withdrawing, lapsing ------------------------------------------------------------


def test_declined_changes_keep_the_terms_and_the_seller_may_still_accept(order, audit):
    milestone = awaiting(order)
    old_terms = terms(milestone)
    proposal = propose(milestone, amount="150.00", days=2)
    transactions = Transaction.objects.count()
    proposal_decline(proposal=proposal, actor=order.buyer)
    assert Proposal.objects.get(pk=proposal.pk).state == P.DECLINED
    assert terms(milestone) == old_terms and Transaction.objects.count() == transactions
    assert Notification.objects.filter(recipient=order.seller, event="changes_declined").exists()
    before = snapshot()
    with pytest.raises(InvalidTransition, match="declined; nothing was changed"):
        changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    assert snapshot() == before
    accepted = milestone_accept(milestone=milestone, actor=order.seller)
    assert accepted.state == S.IN_PROGRESS and terms(milestone) == old_terms
    audit()


def test_declined_changes_leave_the_seller_free_to_decline_the_milestone(order, audit):
    milestone = awaiting(order)
    proposal = propose(milestone, amount="150.00")
    proposal_decline(proposal=proposal, actor=order.buyer)
    milestone_decline(milestone=milestone, actor=order.seller, reason="Cannot do it for 100.00")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("105.50")
    audit()


def test_the_seller_withdraws_the_proposal(order, audit):
    milestone = awaiting(order)
    proposal = propose(milestone, amount="150.00")
    before = snapshot()
    for actor in (order.buyer, UserFactory(), StaffFactory()):
        with pytest.raises(NotAllowed, match="Only the party who asked"):
            proposal_withdraw(proposal=proposal, actor=actor)
    assert snapshot() == before
    proposal_withdraw(proposal=proposal, actor=order.seller)
    assert Proposal.objects.get(pk=proposal.pk).state == P.WITHDRAWN
    assert Notification.objects.filter(recipient=order.buyer, event="changes_withdrawn").exists()
    before = snapshot()
    with pytest.raises(InvalidTransition, match="withdrawn"):
        changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    assert snapshot() == before
    audit()


def test_unanswered_changes_lapse_after_the_response_period_and_the_terms_stay(settings, order, audit):
    settings.CHANGES_RESPONSE_PERIOD = timedelta(hours=48)
    milestone = awaiting(order)
    old_terms = terms(milestone)
    proposal = propose(milestone, amount="150.00", days=4)
    assert sweep_proposals(now=proposal.respond_by - timedelta(seconds=1)).as_dict()["done"] == 0
    assert sweep_proposals(now=proposal.respond_by).as_dict()["done"] == 1
    assert sweep_proposals(now=proposal.respond_by).as_dict()["done"] == 0, "once"
    proposal.refresh_from_db()
    assert proposal.state == P.EXPIRED and terms(milestone) == old_terms
    assert milestone.state == S.AWAITING_ACCEPTANCE
    for party in (order.buyer, order.seller):
        assert Notification.objects.filter(recipient=party, event="changes_expired").count() == 1
    before = snapshot()
    with pytest.raises(InvalidTransition):
        changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    assert snapshot() == before
    assert propose(milestone, amount="140.00").state == P.PENDING, "the seller may ask again"
    audit()


def test_the_seller_accepting_the_milestone_withdraws_pending_changes(order, audit):
    milestone = awaiting(order)
    give_balance(order.buyer)
    proposal = propose(milestone, amount="150.00")
    milestone_accept(milestone=milestone, actor=order.seller)
    assert Proposal.objects.get(pk=proposal.pk).state == P.WITHDRAWN
    before = snapshot()
    with pytest.raises(InvalidTransition):
        changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    assert snapshot() == before
    assert terms(milestone)[0] == usd("100.00")
    audit()


@pytest.mark.parametrize("close", ["seller declines", "buyer cancels"])
def test_closing_the_milestone_withdraws_pending_changes(order, close, audit):
    milestone = awaiting(order)
    proposal = propose(milestone, amount="60.00")
    if close == "seller declines":
        milestone_decline(milestone=milestone, actor=order.seller, reason="Busy")
    else:
        milestone_cancel(milestone=milestone, actor=order.buyer)
    assert Proposal.objects.get(pk=proposal.pk).state == P.WITHDRAWN
    before = snapshot()
    with pytest.raises(InvalidTransition):
        changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    assert snapshot() == before
    assert sweep_proposals(now=proposal.respond_by).as_dict()["done"] == 0
    audit()


# --- who may ask for what, when; who may answer ----------------------------------------------------

ACTORS = ("buyer", "seller", "outsider", "staff")
# kind -> (states it may be asked in, roles that may ask)
ASKABLE = {
    "changes": ({S.AWAITING_ACCEPTANCE}, {"seller"}),
    "extension": ({S.IN_PROGRESS, S.REVISION_REQUESTED}, {"seller"}),
    # In a dispute too: the parties may settle it between themselves (issue 34, 17).
    "cancellation": ({S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED, S.DISPUTED}, {"buyer", "seller"}),
}
ALL_STATES = [
    S.OFFERED,
    S.AWAITING_PAYMENT,
    S.AWAITING_ACCEPTANCE,
    S.ACCEPTED,
    S.IN_PROGRESS,
    S.IN_REVIEW,
    S.REVISION_REQUESTED,
    S.DISPUTED,
    S.APPROVED,
    S.DECLINED,
    S.CANCELLED,
    S.RESOLVED,
    S.PAYMENT_EXPIRED,
    S.OFFER_DECLINED,
    S.OFFER_EXPIRED,
]


def ask(kind: str, milestone: Milestone, actor) -> Proposal:
    later = milestone.deadline + timedelta(days=3)
    if kind == "changes":
        return changes_request(
            milestone=milestone, actor=actor, new_deadline=later, new_amount=None, new_description=""
        )
    if kind == "extension":
        return extension_request(milestone=milestone, actor=actor, new_deadline=later, reason="Need time")
    return cancellation_request(milestone=milestone, actor=actor, refund=None, reason="Shelved")


@pytest.mark.parametrize("state", ALL_STATES)
def test_who_may_ask_for_which_proposal_in_which_state(order, state, audit):
    """kind × state × actor: the right party in the right state gets a pending
    request; anyone else, or any other state, is refused and nothing changes."""
    milestone = milestone_in(state, order=order)
    people = {"buyer": order.buyer, "seller": order.seller, "outsider": UserFactory(), "staff": StaffFactory()}
    allowed = []
    before = snapshot()
    for kind, (states, roles) in ASKABLE.items():
        for who in ACTORS:
            if who not in roles:
                with pytest.raises(NotAllowed):
                    ask(kind, milestone, people[who])
            elif state not in states:
                with pytest.raises(InvalidTransition, match="Nothing was changed"):
                    ask(kind, milestone, people[who])
            else:
                allowed.append((kind, who))
    assert snapshot() == before, f"a refused request on a {state} milestone changed something"
    for kind, who in allowed:
        proposal = ask(kind, milestone, people[who])
        assert proposal.state == P.PENDING and proposal.kind == kind and proposal.proposer == people[who]
        proposal_withdraw(proposal=proposal, actor=people[who])
    assert Milestone.objects.values_list("state", flat=True).get(pk=milestone.pk) == state
    audit()


def test_only_the_buyer_answers_changes_and_only_the_seller_withdraws_them(order):
    milestone = awaiting(order)
    give_balance(order.buyer)
    proposal = propose(milestone, amount="150.00")
    outsider, staff = UserFactory(), StaffFactory()
    before = snapshot()
    for actor in (order.seller, outsider, staff):
        for method in ("balance", "card"):
            with pytest.raises(NotAllowed, match="Only the buyer"):
                changes_accept(proposal=proposal, actor=actor, method=method)
        with pytest.raises(NotAllowed, match="Only the buyer"):
            proposal_decline(proposal=proposal, actor=actor)
    for actor in (order.buyer, outsider, staff):
        with pytest.raises(NotAllowed):
            proposal_withdraw(proposal=proposal, actor=actor)
    assert snapshot() == before
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING


@pytest.mark.parametrize("end", [P.ACCEPTED, P.DECLINED, P.WITHDRAWN, P.EXPIRED])
def test_answered_changes_cannot_be_answered_again(order, end, audit):
    milestone = awaiting(order)
    give_balance(order.buyer)
    proposal = propose(milestone, amount="150.00")
    if end == P.ACCEPTED:
        changes_accept(proposal=proposal, actor=order.buyer, method="balance")
    elif end == P.DECLINED:
        proposal_decline(proposal=proposal, actor=order.buyer)
    elif end == P.WITHDRAWN:
        proposal_withdraw(proposal=proposal, actor=order.seller)
    else:
        assert proposal_expire(proposal_id=proposal.pk, now=proposal.respond_by)
    assert Proposal.objects.get(pk=proposal.pk).state == end
    before = snapshot()
    for method in ("balance", "card"):
        with pytest.raises(InvalidTransition, match="nothing was changed"):
            changes_accept(proposal=proposal, actor=order.buyer, method=method)
    with pytest.raises(InvalidTransition, match="nothing was changed"):
        proposal_decline(proposal=proposal, actor=order.buyer)
    with pytest.raises(InvalidTransition, match="nothing was changed"):
        proposal_withdraw(proposal=proposal, actor=order.seller)
    assert proposal_expire(proposal_id=proposal.pk, now=proposal.respond_by) is False
    assert snapshot() == before
    audit()


# --- reminders before an unanswered cancellation request is accepted ---------------------------------


def reminders(user) -> int:
    return Notification.objects.filter(recipient=user, event="cancellation_reminder").count()


@pytest.mark.parametrize("asker", ["buyer", "seller"])
def test_a_cancellation_request_gets_a_reminder_24h_and_2h_before_it_is_accepted(settings, order, asker, audit):
    settings.CANCELLATION_RESPONSE_PERIOD = timedelta(hours=48)
    settings.CANCELLATION_REMINDERS = [timedelta(hours=24), timedelta(hours=2)]
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    proposer = getattr(order, asker)
    answerer = order.seller if asker == "buyer" else order.buyer
    proposal = cancellation_request(milestone=milestone, actor=proposer, refund=None, reason="Shelved")
    due = proposal.respond_by

    assert sweep_proposals(now=due - timedelta(hours=24, seconds=1)).as_dict()["done"] == 0
    assert reminders(answerer) == 0
    assert sweep_proposals(now=due - timedelta(hours=24)).as_dict()["done"] == 1
    assert reminders(answerer) == 1 and reminders(proposer) == 0
    notice = Notification.objects.get(recipient=answerer, event="cancellation_reminder")
    assert "unless you accept or decline it" in notice.message and notice.url == milestone.get_absolute_url()
    assert sweep_proposals(now=due - timedelta(hours=23)).as_dict()["done"] == 0, "once per lead"
    assert reminders(answerer) == 1

    assert sweep_proposals(now=due - timedelta(hours=2)).as_dict()["done"] == 1
    assert sweep_proposals(now=due - timedelta(hours=1)).as_dict()["done"] == 0
    assert reminders(answerer) == 2 and reminders(proposer) == 0
    kinds = set(MilestoneReminder.objects.filter(milestone=milestone).values_list("kind", flat=True))
    assert kinds == {f"cancellation:86400:{proposal.pk}", f"cancellation:7200:{proposal.pk}"}
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING, "a reminder answers nothing"

    # At respond_by it is accepted, with no further reminder.
    assert sweep_proposals(now=due).as_dict()["done"] == 1
    assert Proposal.objects.get(pk=proposal.pk).state == P.ACCEPTED
    assert reminders(answerer) == 2
    audit()


def test_a_sweep_that_was_down_past_both_leads_sends_one_reminder(settings, order):
    settings.CANCELLATION_RESPONSE_PERIOD = timedelta(hours=48)
    settings.CANCELLATION_REMINDERS = [timedelta(hours=24), timedelta(hours=2)]
    milestone = milestone_in(S.IN_REVIEW, order=order)
    proposal = cancellation_request(milestone=milestone, actor=order.seller, refund=None, reason="Stop")
    assert sweep_proposals(now=proposal.respond_by - timedelta(hours=1)).as_dict()["done"] == 1
    assert reminders(order.buyer) == 1
    assert sweep_proposals(now=proposal.respond_by - timedelta(minutes=30)).as_dict()["done"] == 0
    assert reminders(order.buyer) == 1 and reminders(order.seller) == 0


def test_each_request_gets_its_own_reminders(settings, order):
    settings.CANCELLATION_RESPONSE_PERIOD = timedelta(hours=48)
    settings.CANCELLATION_REMINDERS = [timedelta(hours=24), timedelta(hours=2)]
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    first = cancellation_request(milestone=milestone, actor=order.buyer, refund=None, reason="Stop")
    assert sweep_proposals(now=first.respond_by - timedelta(hours=24)).as_dict()["done"] == 1
    proposal_decline(proposal=first, actor=order.seller)
    second = cancellation_request(milestone=milestone, actor=order.buyer, refund=None, reason="Again")
    assert sweep_proposals(now=second.respond_by - timedelta(hours=24)).as_dict()["done"] == 1
    assert reminders(order.seller) == 2


def test_an_answered_or_other_request_gets_no_reminder(settings, order):
    settings.CANCELLATION_RESPONSE_PERIOD = timedelta(hours=48)
    settings.EXTENSION_RESPONSE_PERIOD = timedelta(hours=48)
    settings.CANCELLATION_REMINDERS = [timedelta(hours=24), timedelta(hours=2)]
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    cancellation = cancellation_request(milestone=milestone, actor=order.buyer, refund=None, reason="Stop")
    proposal_decline(proposal=cancellation, actor=order.seller)
    extension_request(
        milestone=milestone, actor=order.seller, new_deadline=milestone.deadline + timedelta(days=2), reason="Time"
    )
    assert sweep_proposals(now=cancellation.respond_by - timedelta(hours=1)).as_dict()["done"] == 0
    assert not Notification.objects.filter(event="cancellation_reminder").exists()
