"""Every figure says what really happens (issue 32, item 6): the figures shown before agreeing
are computed by ``settlement_figures``, which ``escrow_settle`` calls to post them, so what a
cancellation form, a confirmation or a notice says is what the ledger then holds."""

from __future__ import annotations

import pytest
from djmoney.money import Money

from marketplace.errors import InvalidInput, NotAllowed
from milestones.actions import (
    _release_words,
    cancellation_consequence,
    cancellation_preview,
    changes_consequence,
    offer_consequence,
)
from milestones.models import MilestoneState, Proposal
from milestones.services.proposals import cancellation_figures, cancellation_request, proposal_accept
from notifications.models import Notification
from orders.models import Activity
from payments.models import AccountKind, ProviderCommand
from payments.services import settlement_figures
from tests.factories import milestone_in
from tests.services.ledger_checks import assert_money_conserved, balance

S = MilestoneState
pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def plain(text: str) -> str:
    """``format_money`` keeps the amount and the currency together with a no-break space."""
    return text.replace("\xa0", " ")


def test_a_half_refund_of_100_gives_52_75_back_and_40_00_to_the_seller():
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    figures = cancellation_figures(milestone, usd("50.00"))
    assert figures is not None
    assert figures.buyer_part == usd("50.00") and figures.fee_back == usd("2.75")
    assert figures.refunded == usd("52.75")
    assert figures.seller_gross == usd("50.00") and figures.commission == usd("10.00")
    assert figures.seller_net == usd("40.00")


@pytest.mark.parametrize("refund", ["0.00", "0.01", "33.33", "50.00", "66.67", "99.99", "100.00"])
def test_the_figures_shown_are_the_figures_posted(refund, audit):
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    shown = cancellation_figures(milestone, usd(refund))
    assert shown is not None
    proposal = cancellation_request(
        milestone=milestone, actor=order.buyer, refund=usd(refund), reason="Plans changed", refund_to="balance"
    )
    proposal_accept(proposal=proposal, actor=order.seller)
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == shown.refunded
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == shown.seller_net
    milestone.refresh_from_db()
    assert milestone.seller_fee == shown.commission
    audit()
    assert_money_conserved()


def test_settlement_figures_of_a_whole_release_and_a_whole_refund():
    release = settlement_figures(buyer_fee=usd("5.50"), held=usd("100.00"), seller_gross=usd("100.00"))
    assert (release.seller_net, release.commission, release.refunded) == (usd("80.00"), usd("20.00"), usd("0.00"))
    refund = settlement_figures(buyer_fee=usd("5.50"), held=usd("100.00"), seller_gross=usd("0.00"))
    assert (refund.seller_net, refund.refunded) == (usd("0.00"), usd("105.50"))


def test_out_of_range_refunds_have_no_figures():
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    for bad in ("-1.00", "100.01", "1.001"):
        assert cancellation_figures(milestone, usd(bad)) is None
    assert cancellation_preview(milestone, "abc").figures is None
    assert "between 0.00 USD and 100.00 USD" in plain(cancellation_preview(milestone, "150").problem)
    assert cancellation_preview(milestone, "").figures.refunded == usd("105.50")  # empty: all of it


def test_the_request_and_its_notices_say_what_each_side_receives():
    """Regression: the request said "50.00 USD back to the buyer, 50.00 USD released to the seller"
    while the buyer receives 52.75 and the seller 40.00."""
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    proposal = cancellation_request(milestone=milestone, actor=order.buyer, refund=usd("50.00"), reason="Plans changed")
    asked = plain(Notification.objects.get(recipient=order.seller, event="cancellation_requested").message)
    assert "52.75 USD back to the buyer" in asked and "40.00 USD to the seller" in asked
    assert "50.00 USD released to the seller" not in asked
    proposal_accept(proposal=proposal, actor=order.seller)
    for party in (order.buyer, order.seller):
        text = plain(Notification.objects.get(recipient=party, event="cancellation_accepted").message)
        assert "52.75 USD back to the buyer" in text and "40.00 USD to the seller" in text
    log = plain(Activity.objects.get(milestone=milestone, verb="cancelled").note)
    assert "52.75 USD" in log and "40.00 USD" in log


def test_the_buyer_may_send_the_refund_to_the_card_and_accepting_honours_it(audit):
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    assert order.buyer.refund_to == "balance"
    proposal = cancellation_request(
        milestone=milestone, actor=order.buyer, refund=usd("50.00"), reason="Plans changed", refund_to="card"
    )
    assert Proposal.objects.get(pk=proposal.pk).refund_to == "card"
    proposal_accept(proposal=proposal, actor=order.seller)
    command = ProviderCommand.objects.get(milestone_id=milestone.pk, kind="refund")
    assert command.amount == usd("52.75")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("0.00")
    assert "being refunded to your card" in (
        Notification.objects.get(recipient=order.buyer, event="cancellation_accepted").message
    )
    audit()


def test_only_the_buyer_chooses_where_the_refund_goes_and_only_balance_or_card():
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    with pytest.raises(NotAllowed, match="Only the buyer chooses"):
        cancellation_request(milestone=milestone, actor=order.seller, refund=None, reason="x", refund_to="card")
    with pytest.raises(InvalidInput, match="where the refund goes"):
        cancellation_request(milestone=milestone, actor=order.buyer, refund=None, reason="x", refund_to="bank")
    assert not Proposal.objects.filter(milestone=milestone).exists()


def test_a_balance_paid_milestone_cannot_refund_to_a_card():
    from milestones.services.lifecycle import milestone_accept
    from tests.factories import BALANCE, OrderFactory, create_milestone
    from tests.services.test_changes import give_balance

    order = OrderFactory()
    give_balance(order.buyer, "200.00")
    milestone = create_milestone(order, source=BALANCE)
    milestone_accept(milestone=milestone, actor=order.seller)
    with pytest.raises(InvalidInput, match="No card paid"):
        cancellation_request(milestone=milestone, actor=order.buyer, refund=None, reason="x", refund_to="card")


def test_confirmations_say_what_the_other_side_receives():
    """Regression: accepting a cancellation said "50.00 USD is released to the seller" and approving
    "100.00 USD is released" while the seller gets 40.00 and 80.00."""
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    proposal = cancellation_request(milestone=milestone, actor=order.buyer, refund=usd("50.00"), reason="x")
    words = plain(cancellation_consequence(milestone, proposal))
    assert f"{order.buyer.username} receives 52.75 USD" in words
    assert f"{order.seller.username} receives 40.00 USD" in words
    assert f"{order.buyer.username}'s refund goes to their balance" in words
    review = milestone_in(S.IN_REVIEW, amount="100.00")
    assert f"{review.order.seller.username} receives 80.00 USD" in plain(_release_words(review))
    offer = milestone_in(S.OFFERED, amount="100.00")
    assert f"{offer.order.seller.username} receives 80.00 USD" in plain(offer_consequence(offer))


def test_accepting_changes_says_what_the_seller_receives_on_approval():
    from milestones.services.changes import changes_request

    milestone = milestone_in(S.AWAITING_ACCEPTANCE, amount="100.00")
    order = milestone.order
    proposal = changes_request(
        milestone=milestone,
        actor=order.seller,
        new_deadline=milestone.deadline,
        new_amount=usd("150.00"),
        new_description=milestone.description,
    )
    assert f"{order.seller.username} receives 120.00 USD" in plain(changes_consequence(milestone, proposal))


def test_a_dispute_split_tells_both_what_the_buyer_really_receives(audit):
    """Regression: the note to both said "60.00 USD to the buyer" while the buyer receives 63.30
    (60.00 and 60% of the 5.50 service fee)."""
    from milestones.services.disputes import dispute_resolve
    from tests.factories import StaffFactory

    milestone = milestone_in(S.DISPUTED, amount="100.00")
    order = milestone.order
    dispute_resolve(
        dispute=milestone.dispute, actor=StaffFactory(), outcome="split", seller_amount=usd("40.00"), note="Split."
    )
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("63.30")
    for party in (order.buyer, order.seller):
        text = plain(Notification.objects.get(recipient=party, event="dispute_resolved").message)
        assert "63.30 USD (60.00 USD and 3.30 USD of the service fee) to the buyer" in text
        assert "40.00 USD (32.00 USD after the 8.00 USD fee) to the seller" in text
    audit()


def test_a_cancellation_by_agreement_is_named_so_on_receipts_and_ledgers_not_a_dispute_split(client):
    """Regression: a cancellation by agreement showed "Refund (dispute split)" / "Earning (dispute
    split)" on receipts, the order page and both ledgers though no dispute was opened."""
    from django.urls import reverse

    from payments.models import Transaction
    from payments.receipts import ledger_rows, receipt_for, receipts_for_milestone, transaction_label

    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    proposal = cancellation_request(milestone=milestone, actor=order.buyer, refund=usd("50.00"), reason="x")
    proposal_accept(proposal=proposal, actor=order.seller)
    txn = Transaction.objects.get(idempotency_key=f"settle:{milestone.pk}")
    assert txn.kind == "split"  # the ledger's kind (its shape) is unchanged
    assert transaction_label(txn) == "Cancellation by agreement"
    assert [r.label for r in receipts_for_milestone(milestone, order.buyer)][-1] == "Refund (cancellation by agreement)"
    assert [r.label for r in receipts_for_milestone(milestone, order.seller)] == ["Earning (cancellation by agreement)"]
    assert receipt_for(order.seller, txn.pk).label == "Earning (cancellation by agreement)"
    for party in (order.buyer, order.seller):
        whats = {row[2] for row in ledger_rows(party)}
        assert "Cancellation by agreement" in whats and "Dispute split" not in whats
        client.force_login(party)
        for url in (reverse("order_detail", args=[order.pk]), reverse("earnings")):
            page = client.get(url).content.decode()
            assert "dispute split" not in page.lower(), url
        assert "cancellation by agreement" in client.get(reverse("order_detail", args=[order.pk])).content.decode()


@pytest.mark.parametrize(
    ("outcome", "seller_amount", "buyer_label", "what"),
    [
        ("split", "40.00", "Refund (dispute split)", "Dispute split"),
        ("refund", None, "Refund (dispute decided for the buyer)", "Dispute decided for the buyer"),
    ],
)
def test_a_dispute_settlement_is_named_by_its_ruling(outcome, seller_amount, buyer_label, what):
    from milestones.services.disputes import dispute_resolve
    from payments.models import Transaction
    from payments.receipts import receipts_for_milestone, transaction_label
    from tests.factories import StaffFactory

    milestone = milestone_in(S.DISPUTED, amount="100.00")
    dispute_resolve(
        dispute=milestone.dispute,
        actor=StaffFactory(),
        outcome=outcome,
        seller_amount=None if seller_amount is None else usd(seller_amount),
        note="Decided.",
    )
    txn = Transaction.objects.get(idempotency_key=f"settle:{milestone.pk}")
    assert transaction_label(txn) == what
    assert receipts_for_milestone(milestone, milestone.order.buyer)[-1].label == buyer_label


def test_an_approval_and_a_cancel_before_work_keep_their_kind_labels():
    from payments.models import Transaction
    from payments.receipts import transaction_label

    approved = milestone_in(S.APPROVED, amount="100.00")
    cancelled = milestone_in(S.CANCELLED, amount="100.00")
    assert transaction_label(Transaction.objects.get(idempotency_key=f"settle:{approved.pk}")) == "Released to seller"
    assert transaction_label(Transaction.objects.get(idempotency_key=f"settle:{cancelled.pk}")) == "Refunded to buyer"


def test_the_order_page_shows_the_seller_their_net_and_a_requested_cancellations_real_figures(client):
    from django.urls import reverse

    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    cancellation_request(milestone=milestone, actor=order.buyer, refund=usd("50.00"), reason="Plans changed")
    client.force_login(order.seller)
    page = plain(client.get(reverse("order_detail", args=[order.pk])).content.decode())
    assert "<dt>You receive</dt>" in page and "80.00 USD</dd>" in page
    assert f"52.75 USD back to {order.buyer.username}" in page
    assert f"40.00 USD to {order.seller.username}" in page
    client.force_login(order.buyer)
    page = plain(client.get(reverse("order_detail", args=[order.pk])).content.decode())
    assert "<dt>You receive</dt>" not in page  # the buyer's card shows what they pay


def test_the_cancellation_form_shows_the_figures_without_script_and_after_an_error(client):
    from django.urls import reverse

    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    url = reverse("milestone_cancellation", args=[milestone.pk])
    client.force_login(order.buyer)
    page = plain(client.get(url).content.decode())
    assert 'id="live-figures"' in page and "105.50 USD" in page  # empty: all of it back
    assert "Refund to" in page and "The card I paid with" in page
    # Re-shown with an error (no reason): the figures are those of the refund typed.
    page = plain(client.post(url, {"refund": "50.00", "reason": ""}).content.decode())
    assert "52.75 USD" in page and "40.00 USD" in page
    assert not Proposal.objects.filter(milestone=milestone).exists()
    # As one types (htmx): the partial alone.
    figures = plain(client.get(reverse("cancellation_figures", args=[milestone.pk]), {"refund": "50"}).content.decode())
    assert "52.75 USD" in figures and "40.00 USD" in figures and "<html" not in figures
    bad = plain(client.get(reverse("cancellation_figures", args=[milestone.pk]), {"refund": "x"}).content.decode())
    assert "Enter the refund as a number" in bad
    # The seller is not asked where the buyer's refund goes.
    client.force_login(order.seller)
    assert "The card I paid with" not in client.get(url).content.decode()


def test_accepting_a_cancellation_says_where_the_buyers_refund_goes():
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    proposal = cancellation_request(
        milestone=milestone, actor=order.buyer, refund=usd("50.00"), reason="x", refund_to="card"
    )
    assert "refund goes to the card that paid" in plain(cancellation_consequence(milestone, proposal))
