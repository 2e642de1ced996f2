"""Inputs and actors no form should produce, but a service must still refuse cleanly."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from djmoney.money import Money

from marketplace.errors import DuplicateRequest, InvalidInput, NotAllowed
from milestones.models import MilestoneState as S
from milestones.services.completion import order_complete
from milestones.services.creation import milestone_create
from milestones.services.disputes import dispute_resolve
from payments.services import FundingSource, withdrawal_request
from tests.factories import OrderFactory, StaffFactory, UserFactory, create_milestone, milestone_in
from tests.services.ledger_checks import world

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_a_milestone_amount_that_is_not_a_number_is_refused_as_bad_input(order, raw):
    before = world()
    with pytest.raises(InvalidInput) as refused:
        create_milestone(order, amount=raw)
    assert refused.value.field == "amount"
    assert world() == before


@pytest.mark.parametrize("raw", ["NaN", "Infinity"])
def test_a_withdrawal_amount_that_is_not_a_number_is_refused_as_bad_input(raw):
    seller = UserFactory()
    before = world()
    with pytest.raises(InvalidInput) as refused:
        withdrawal_request(seller=seller, amount=Money(Decimal(raw), "USD"), key=uuid.uuid4().hex)
    assert refused.value.field == "amount"
    assert world() == before


@pytest.mark.parametrize("raw", ["NaN", "Infinity"])
def test_a_split_amount_that_is_not_a_number_is_refused_as_bad_input(order, staff, raw):
    milestone = milestone_in(S.DISPUTED, order=order)
    before = world()
    with pytest.raises(InvalidInput) as refused:
        dispute_resolve(
            dispute=milestone.dispute, actor=staff, outcome="split", seller_amount=Money(Decimal(raw), "USD")
        )
    assert refused.value.field == "seller_amount"
    assert world() == before


@pytest.mark.parametrize("party", ["buyer", "seller"])
def test_staff_cannot_resolve_a_dispute_on_their_own_order(party, audit):
    me = StaffFactory()
    order = OrderFactory(buyer=me) if party == "buyer" else OrderFactory(seller=me)
    milestone = milestone_in(S.DISPUTED, order=order)
    before = world()
    with pytest.raises(NotAllowed, match="party to this order"):
        dispute_resolve(dispute=milestone.dispute, actor=me, outcome="release" if party == "seller" else "refund")
    assert world() == before
    dispute_resolve(dispute=milestone.dispute, actor=StaffFactory(), outcome="refund")
    audit()


def test_an_outsider_replaying_someone_elses_form_key_learns_nothing(order, outsider):
    key = uuid.uuid4().hex
    create_milestone(order, key=key)
    other = OrderFactory(buyer=outsider)
    before = world()
    with pytest.raises(NotAllowed):
        milestone_create(
            order=order,
            actor=outsider,
            title="Mine",
            description="Mine",
            deadline=order.milestones.get().deadline,
            amount=Money("10.00", "USD"),
            source=FundingSource(method="checkout"),
            idempotency_key=key,
        )
    assert world() == before
    # On their own order the key is simply taken: a duplicate, but without the other buyer's milestone.
    with pytest.raises(DuplicateRequest) as duplicate:
        create_milestone(other, key=key)
    assert duplicate.value.obj is None
    assert world() == before


def test_completing_an_order_as_no_one_is_refused(order):
    with pytest.raises(NotAllowed):
        order_complete(order=order, actor=None)
