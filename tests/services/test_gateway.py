"""The sandbox gateway: Stripe's test cards, and replayed keys answer as the first time."""

from __future__ import annotations

import uuid

import pytest
from djmoney.money import Money

from marketplace.errors import DuplicateRequest, PaymentDeclined
from payments.gateway import DECLINE_CARDS, SUCCESS_CARDS, SandboxGateway, luhn_valid
from payments.models import GatewayOperation, Transaction
from payments.services import FundingSource
from tests.factories import DECLINED_CARD, create_milestone
from tests.services.ledger_checks import assert_money_conserved, world

pytestmark = pytest.mark.django_db

TEN = Money("10.00", "USD")


def _charge(card: str, key: str | None = None):
    return SandboxGateway().charge(amount=TEN, card_number=card, idempotency_key=key or uuid.uuid4().hex)


@pytest.mark.parametrize("card", sorted(SUCCESS_CARDS))
def test_stripes_success_cards_are_charged(card):
    result = _charge(card)
    assert result.ok
    assert result.reference.startswith("ch_sandbox_")


def test_a_card_number_typed_with_spaces_or_dashes_works():
    assert _charge("4242 4242 4242 4242").ok
    assert _charge("4242-4242-4242-4242").ok


@pytest.mark.parametrize(("card", "code"), [(card, code) for card, (code, _) in sorted(DECLINE_CARDS.items())])
def test_stripes_decline_cards_are_declined_with_their_reason(card, code):
    result = _charge(card)
    assert not result.ok
    assert result.failure_code == code
    assert result.message


@pytest.mark.parametrize("card", ["4242424242424241", "1234", "", "abcd efgh ijkl mnop"])
def test_a_mistyped_card_number_is_refused_as_incorrect(card):
    result = _charge(card)
    assert not result.ok
    assert result.failure_code == "incorrect_number"
    assert "incorrect" in result.message


def test_a_real_looking_card_that_is_not_a_test_card_is_declined():
    assert luhn_valid("4111111111111111")
    result = _charge("4111111111111111")
    assert not result.ok
    assert "test cards" in result.message


def test_a_replayed_charge_returns_the_first_answer_and_charges_once():
    key = uuid.uuid4().hex
    first = _charge("4242424242424242", key)
    again = _charge("4242424242424242", key)
    assert again == first
    assert GatewayOperation.objects.filter(idempotency_key=key).count() == 1


def test_a_replayed_declined_charge_stays_declined_with_the_first_reason():
    key = uuid.uuid4().hex
    first = _charge("4000000000009995", key)
    again = _charge("4242424242424242", key)
    assert not again.ok
    assert again.failure_code == "insufficient_funds"
    assert again.message == first.message


def test_a_replayed_payout_pays_once():
    gateway = SandboxGateway()
    key = uuid.uuid4().hex
    first = gateway.payout(amount=TEN, method="paypal", destination="me@example.com", idempotency_key=key)
    again = gateway.payout(amount=TEN, method="paypal", destination="me@example.com", idempotency_key=key)
    assert first.ok and again == first
    assert GatewayOperation.objects.filter(idempotency_key=key).count() == 1


def test_the_failing_test_bank_account_fails_its_payout():
    result = SandboxGateway().payout(
        amount=TEN, method="bank_transfer", destination="000111111116", idempotency_key=uuid.uuid4().hex
    )
    assert not result.ok
    assert result.failure_code == "account_closed"


# --- through the milestone service ------------------------------------------------------


def test_a_declined_card_creates_nothing_at_all(order, audit):
    before = world()
    with pytest.raises(PaymentDeclined) as refused:
        create_milestone(order, source=DECLINED_CARD)
    assert refused.value.field == "card_number"
    assert "declined" in refused.value.message
    after = world()
    assert after == before, "no milestone, no ledger rows, no gateway operation"
    assert after["gateway_operations"] == 0
    audit()


@pytest.mark.parametrize("card", ["4000000000009995", "4000000000000069", "4242424242424241"])
def test_other_refused_cards_create_nothing_and_say_why(order, card):
    before = world()
    with pytest.raises(PaymentDeclined) as refused:
        create_milestone(order, source=FundingSource(method="card", card_number=card))
    assert refused.value.message
    assert world() == before


def test_the_buyer_can_retry_the_same_form_with_another_card_after_a_decline(order, audit):
    key = uuid.uuid4().hex
    with pytest.raises(PaymentDeclined):
        create_milestone(order, source=DECLINED_CARD, key=key)
    milestone = create_milestone(order, key=key)
    assert milestone.funding_key == key
    audit()
    assert_money_conserved()


def test_the_same_milestone_form_posted_twice_charges_once(order, audit):
    key = uuid.uuid4().hex
    first = create_milestone(order, key=key)
    before = world()
    with pytest.raises(DuplicateRequest) as duplicate:
        create_milestone(order, key=key)
    assert duplicate.value.obj == first
    assert world() == before
    assert Transaction.objects.filter(kind="fund").count() == 1
    assert GatewayOperation.objects.count() == 1
    audit()
    assert_money_conserved()


def test_an_unknown_payment_method_is_refused(order):
    from marketplace.errors import InvalidInput

    before = world()
    with pytest.raises(InvalidInput) as refused:
        create_milestone(order, source=FundingSource(method="cheque"))
    assert refused.value.field == "method"
    assert world() == before
