"""Bad input gets a clear error naming the field, and nothing changes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money

from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from milestones.models import MilestoneState as S
from milestones.services.completion import order_complete
from milestones.services.creation import milestone_create
from milestones.services.disputes import dispute_resolve, milestone_open_dispute
from milestones.services.lifecycle import milestone_decline, milestone_request_revision, milestone_submit
from orders.models import OrderStatus
from orders.services import order_create
from tests.factories import CARD, GigFactory, milestone_in
from tests.services.ledger_checks import world

pytestmark = pytest.mark.django_db


def _create(order, **overrides):
    terms = {
        "order": order,
        "actor": order.buyer,
        "title": "Design",
        "description": "Wireframes for every screen.",
        "deadline": timezone.now() + timedelta(days=7),
        "amount": Money("100.00", order.currency),
        "source": CARD,
        "idempotency_key": uuid.uuid4().hex,
    }
    terms.update(overrides)
    return milestone_create(**terms)


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"amount": Money("4.99", "USD")}, "amount", "between"),
        ({"amount": Money("0.00", "USD")}, "amount", "between"),
        ({"amount": Money("-10.00", "USD")}, "amount", "between"),
        ({"amount": Money("100000.01", "USD")}, "amount", "between"),
        ({"amount": Money("100.00", "EUR")}, "amount", "USD"),
        ({"amount": Money("10.001", "USD")}, "amount", "two decimal"),
        ({"deadline": timezone.now() - timedelta(minutes=1)}, "deadline", "future"),
        ({"title": ""}, "title", "title"),
        ({"title": "   "}, "title", "title"),
        ({"title": "x" * 201}, "title", "200"),
        ({"description": ""}, "description", "deliverables"),
        ({"description": " \n "}, "description", "deliverables"),
    ],
    ids=[
        "amount-below-5",
        "amount-zero",
        "amount-negative",
        "amount-above-100000",
        "other-currency",
        "three-decimals",
        "deadline-in-the-past",
        "empty-title",
        "blank-title",
        "title-too-long",
        "empty-description",
        "blank-description",
    ],
)
def test_a_milestone_with_bad_terms_is_refused_with_the_field_named_and_nothing_charged(
    order, overrides, field, words, audit
):
    before = world()
    with pytest.raises(InvalidInput) as refused:
        _create(order, **overrides)
    assert refused.value.field == field
    assert words.lower() in refused.value.message.lower()
    assert world() == before, "a refused milestone charged or created something"
    audit()


@pytest.mark.parametrize("amount", ["5.00", "100000.00"])
def test_the_limits_themselves_are_allowed(order, amount, audit):
    milestone = _create(order, amount=Money(amount, "USD"))
    assert milestone.amount == Money(amount, "USD")
    audit()


def test_an_outsider_cannot_create_a_milestone_on_someone_elses_order(order, outsider, audit):
    before = world()
    with pytest.raises(NotAllowed):
        _create(order, actor=outsider)
    with pytest.raises(NotAllowed):
        _create(order, actor=order.seller)
    assert world() == before
    audit()


def test_a_form_without_its_key_is_refused(order):
    before = world()
    with pytest.raises(InvalidInput, match="expired"):
        _create(order, idempotency_key="")
    assert world() == before


def test_a_submission_with_no_deliverable_is_refused(order, audit):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    before = world()
    with pytest.raises(InvalidInput) as refused:
        milestone_submit(milestone=milestone, actor=order.seller, message="   ", links=["", " "], files=[])
    assert refused.value.field == "message"
    assert "deliverable" in refused.value.message
    assert world() == before
    audit()


def test_a_submission_with_a_link_that_is_not_a_web_address_is_refused(order):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    before = world()
    with pytest.raises(InvalidInput) as refused:
        milestone_submit(milestone=milestone, actor=order.seller, links=["javascript:alert(1)"])
    assert refused.value.field == "links"
    assert world() == before


def test_a_link_alone_is_a_deliverable(order, audit):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    delivery = milestone_submit(milestone=milestone, actor=order.seller, links=["https://example.com/x"])
    assert delivery.links == ["https://example.com/x"]
    audit()


@pytest.mark.parametrize("feedback", ["", "   \n"])
def test_a_revision_request_without_feedback_is_refused(order, feedback):
    milestone = milestone_in(S.IN_REVIEW, order=order)
    before = world()
    with pytest.raises(InvalidInput) as refused:
        milestone_request_revision(milestone=milestone, actor=order.buyer, feedback=feedback)
    assert refused.value.field == "feedback"
    assert world() == before


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_decline_without_a_reason_is_refused(order, reason):
    milestone = milestone_in(S.AWAITING_ACCEPTANCE, order=order)
    before = world()
    with pytest.raises(InvalidInput) as refused:
        milestone_decline(milestone=milestone, actor=order.seller, reason=reason)
    assert refused.value.field == "reason"
    assert world() == before


def test_a_dispute_without_a_reason_is_refused(order):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    before = world()
    with pytest.raises(InvalidInput) as refused:
        milestone_open_dispute(milestone=milestone, actor=order.buyer, reason=" ")
    assert refused.value.field == "reason"
    assert world() == before


def test_no_one_can_order_their_own_gig(seller):
    gig = GigFactory(seller=seller)
    before = world()
    with pytest.raises(NotAllowed, match="own gig"):
        order_create(buyer=seller, gig=gig, title="Myself", brief="")
    assert world() == before


def test_an_order_needs_a_title(buyer, seller):
    gig = GigFactory(seller=seller)
    with pytest.raises(InvalidInput) as refused:
        order_create(buyer=buyer, gig=gig, title="  ", brief="")
    assert refused.value.field == "title"


def test_an_order_is_opened_in_the_gigs_currency(buyer, seller):
    gig = GigFactory(seller=seller, starting_price=Money("50.00", "EUR"))
    order = order_create(buyer=buyer, gig=gig, title="Logo", brief="A fox")
    assert order.currency == "EUR"
    assert order.status == OrderStatus.AWAITING_MILESTONE


def test_no_milestone_can_be_added_to_a_completed_order(order, audit):
    milestone_in(S.APPROVED, order=order)
    order_complete(order=order, actor=order.buyer)
    before = world()
    with pytest.raises(InvalidTransition, match="complete"):
        _create(order)
    assert world() == before
    audit()


def test_an_order_with_an_open_milestone_cannot_be_completed(order, audit):
    milestone_in(S.APPROVED, order=order)
    milestone_in(S.IN_PROGRESS, order=order)
    before = world()
    with pytest.raises(InvalidTransition, match="open milestone"):
        order_complete(order=order, actor=order.buyer)
    assert world() == before
    order.refresh_from_db()
    assert order.status == OrderStatus.ACTIVE


def test_only_the_buyer_completes_an_order(order):
    milestone_in(S.APPROVED, order=order)
    for who in (order.seller,):
        with pytest.raises(NotAllowed):
            order_complete(order=order, actor=who)


def test_a_completed_order_keeps_its_status_and_records_when(order, audit):
    milestone_in(S.CANCELLED, order=order)
    completed = order_complete(order=order, actor=order.buyer)
    assert completed.status == OrderStatus.COMPLETED
    assert completed.completed_at is not None
    with pytest.raises(InvalidTransition, match="already complete"):
        order_complete(order=order, actor=order.buyer)


def test_a_dispute_split_with_bad_amounts_is_refused(order, staff):
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00")
    dispute = milestone.dispute
    before = world()
    for amount, field in [
        (None, "seller_amount"),
        (Money("0.00", "USD"), "seller_amount"),
        (Money("100.00", "USD"), "seller_amount"),
        (Money("150.00", "USD"), "seller_amount"),
        (Money("10.005", "USD"), "seller_amount"),
        (Money("10.00", "EUR"), "seller_amount"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            dispute_resolve(dispute=dispute, actor=staff, outcome="split", seller_amount=amount)
        assert refused.value.field == field
    with pytest.raises(InvalidInput) as refused:
        dispute_resolve(dispute=dispute, actor=staff, outcome="halve")
    assert refused.value.field == "outcome"
    assert world() == before
    assert Decimal("100.00") == milestone.amount.amount


def test_a_file_alone_is_a_deliverable_and_is_stored_under_a_random_name(order, audit):
    from django.core.files.uploadedfile import SimpleUploadedFile

    milestone = milestone_in(S.IN_PROGRESS, order=order)
    upload = SimpleUploadedFile("../../Final notes.txt", b"All screens done.\n", content_type="text/plain")
    delivery = milestone_submit(milestone=milestone, actor=order.seller, files=[upload])
    stored = delivery.files.get()
    assert stored.original_name == "Final notes.txt"
    assert "Final" not in stored.file.name and ".." not in stored.file.name
    audit()


def test_a_file_that_is_not_what_its_extension_says_is_refused(order):
    from django.core.files.uploadedfile import SimpleUploadedFile

    milestone = milestone_in(S.IN_PROGRESS, order=order)
    before = world()
    fake = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    with pytest.raises(InvalidInput) as refused:
        milestone_submit(milestone=milestone, actor=order.seller, files=[fake])
    assert refused.value.field == "files"
    assert world() == before


def test_an_order_cannot_be_opened_on_a_retired_gig(buyer, seller):
    gig = GigFactory(seller=seller, is_active=False)
    before = world()
    with pytest.raises(InvalidInput, match="no longer available"):
        order_create(buyer=buyer, gig=gig, title="Logo", brief="")
    assert world() == before
