"""The provider's webhooks at /payments/webhooks/sandbox/: verified (Stripe's
``t=…,v1=…`` scheme, 5-minute tolerance), stored once by id, acted on in any
order. Bad input is 400 and changes nothing."""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings
from django.urls import reverse
from djmoney.money import Money

from milestones.models import Milestone, MilestoneState
from milestones.sweeps import sweep_checkouts
from payments.checkout import checkout_paid
from payments.models import (
    AccountKind,
    Checkout,
    CheckoutStatus,
    CommandKind,
    ProviderCommand,
    Transaction,
    TransactionKind,
    WebhookEvent,
)
from payments.outbox import command_execute
from payments.providers import sign_payload
from sandbox.models import SandboxEvent, SandboxOperation
from sandbox.services import session_expire, session_pay
from tests.factories import WEBHOOK_URL, create_milestone, open_checkout
from tests.services.ledger_checks import assert_money_conserved, balance

S = MilestoneState
pytestmark = pytest.mark.django_db
URL = "/payments/webhooks/sandbox/"


def post(client, payload: bytes, *, signature: str | None = None):
    signature = signature if signature is not None else sign_payload(payload, settings.SANDBOX_WEBHOOK_SECRET)
    return client.post(URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


def paid_event(milestone: Milestone) -> bytes:
    """The buyer pays on the sandbox; the event it would deliver, as bytes."""
    checkout = open_checkout(milestone)
    session_pay(session_id=checkout.session_id, card_number="4242424242424242", webhook_url=WEBHOOK_URL)
    event = SandboxEvent.objects.filter(type="checkout.session.completed").latest("pk")
    return json.dumps(event.payload).encode()


def state(milestone: Milestone) -> str:
    return Milestone.objects.values_list("state", flat=True).get(pk=milestone.pk)


def test_the_endpoint_path_is_per_provider():
    assert reverse("payment_webhook", args=["sandbox"]) == URL


def test_a_good_event_funds_the_milestone(client, order, audit):
    milestone = create_milestone(order, pay=False)
    response = post(client, paid_event(milestone))
    assert response.status_code == 200 and response.json()["outcome"] == "funded"
    assert state(milestone) == S.AWAITING_ACCEPTANCE
    assert balance(AccountKind.ESCROW, milestone=milestone) == Money("100.00", "USD")
    assert Checkout.objects.get(milestone=milestone).status == CheckoutStatus.PAID
    audit()
    assert_money_conserved()


@pytest.mark.parametrize(
    "signature",
    [
        "t=1,v1=" + "0" * 64,  # a forgery
        "",  # none
        "v1=abc",  # no timestamp
        "garbage",
    ],
)
def test_a_bad_signature_is_400_and_changes_nothing(client, order, signature):
    milestone = create_milestone(order, pay=False)
    payload = paid_event(milestone)
    response = post(client, payload, signature=signature)
    assert response.status_code == 400
    assert state(milestone) == S.AWAITING_PAYMENT
    assert not WebhookEvent.objects.exists() and not Transaction.objects.exists()


def test_a_payload_changed_after_signing_is_refused(client, order):
    milestone = create_milestone(order, pay=False)
    payload = paid_event(milestone)
    signature = sign_payload(payload, settings.SANDBOX_WEBHOOK_SECRET)
    body = json.loads(payload)
    body["data"]["object"]["amount_total"] = 1
    tampered = json.dumps(body).encode()
    assert tampered != payload
    assert post(client, tampered, signature=signature).status_code == 400
    assert state(milestone) == S.AWAITING_PAYMENT


def test_a_stale_timestamp_is_refused_even_with_a_true_signature(client, order):
    milestone = create_milestone(order, pay=False)
    payload = paid_event(milestone)
    old = sign_payload(payload, settings.SANDBOX_WEBHOOK_SECRET, timestamp=int(time.time()) - 301)
    response = post(client, payload, signature=old)
    assert response.status_code == 400 and "tolerance" in response.json()["outcome"]
    assert state(milestone) == S.AWAITING_PAYMENT and not WebhookEvent.objects.exists()


def test_a_replayed_event_is_200_and_changes_nothing(client, order, audit):
    milestone = create_milestone(order, pay=False)
    payload = paid_event(milestone)
    assert post(client, payload).json()["outcome"] == "funded"
    ledger = Transaction.objects.count()
    replay = post(client, payload)
    assert replay.status_code == 200 and replay.json()["outcome"].startswith("duplicate")
    assert WebhookEvent.objects.count() == 1 and Transaction.objects.count() == ledger
    audit()


def test_the_same_payment_reported_twice_under_two_event_ids_funds_once(client, order, audit):
    milestone = create_milestone(order, pay=False)
    body = json.loads(paid_event(milestone))
    post(client, json.dumps(body).encode())
    body["id"] = "evt_sandbox_second_delivery"
    again = post(client, json.dumps(body).encode())
    assert again.status_code == 200 and again.json()["outcome"] == "already funded"
    assert Transaction.objects.filter(kind=TransactionKind.FUND).count() == 1
    audit()


def test_an_unknown_event_type_is_stored_and_ignored(client):
    payload = json.dumps(
        {"id": "evt_sandbox_unknown", "type": "customer.created", "created": 1, "data": {"object": {"id": "cus_1"}}}
    ).encode()
    response = post(client, payload)
    assert response.status_code == 200
    event = WebhookEvent.objects.get(event_id="evt_sandbox_unknown")
    assert event.outcome.startswith("ignored") and event.type == "customer.created"


def test_a_body_that_is_not_an_event_is_400(client):
    assert post(client, b'{"hello": "world"}').status_code == 400
    assert post(client, b"not json").status_code == 400
    assert not WebhookEvent.objects.exists()


def _completed_with(milestone: Milestone, **changes) -> bytes:
    event = json.loads(paid_event(milestone))
    event["data"]["object"].update(changes)
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_total": "abc"},
        {"amount_total": "10000"},  # a number written as a string
        {"amount_total": 100.5},
        {"amount_total": True},
        {"amount_total": -10000},
        {"currency": "dollars"},
        {"currency": 840},
        {"id": ["cs_1"]},
        {"payment_status": {"paid": True}},
    ],
    ids=lambda changes: "-".join(f"{k}={v!r}" for k, v in changes.items()),
)
def test_a_signed_event_with_a_malformed_session_is_400_and_changes_nothing(client, order, changes):
    """Signed by the provider's secret but not a session we can read: a 400 that names
    the field, nothing stored, the milestone still waiting for its payment (these were 500s)."""
    milestone = create_milestone(order, pay=False)
    response = post(client, _completed_with(milestone, **changes))
    assert response.status_code == 400, response.content
    assert not WebhookEvent.objects.exists()
    assert state(milestone) == S.AWAITING_PAYMENT
    assert not Transaction.objects.filter(milestone=milestone).exists()


@pytest.mark.parametrize("depth", [33, 30_000])
def test_a_signed_event_nested_too_deep_is_400(client, depth):
    """A 30,000-deep body used to exhaust the parser's stack (a 500); the depth is
    counted before parsing, brackets inside strings not counted."""
    payload = b'{"id": "evt_deep", "type": "x", "data": {"object": ' + b"[" * depth + b"]" * depth + b"}}"
    response = post(client, payload)
    assert response.status_code == 400 and "deeper" in response.json()["outcome"]
    assert not WebhookEvent.objects.exists()


def test_brackets_inside_strings_do_not_count_as_depth(client):
    payload = json.dumps(
        {"id": "evt_brackets", "type": "customer.created", "data": {"object": {"name": "[[[[{{{{" * 20 + '\\"['}}}
    ).encode()
    assert post(client, payload).status_code == 200


def test_another_providers_endpoint_is_404(client):
    assert client.post("/payments/webhooks/stripe/", data=b"{}", content_type="application/json").status_code == 404


def test_get_is_refused(client):
    assert client.get(URL).status_code == 405


def test_a_payment_after_the_checkout_expired_is_refunded_never_funds(client, order, audit):
    """Reordered: our expiry sweep closed the milestone, then the provider's
    success arrives. The money goes back to the card; the milestone stays closed."""
    milestone = create_milestone(order, pay=False)
    checkout = open_checkout(milestone)
    session_pay(session_id=checkout.session_id, card_number="4242424242424242", webhook_url=WEBHOOK_URL)
    payload = json.dumps(SandboxEvent.objects.get(type="checkout.session.completed").payload).encode()
    sweep_checkouts(now=checkout.expires_at)
    assert state(milestone) == S.PAYMENT_EXPIRED

    response = post(client, payload)
    assert response.status_code == 200 and "refunded" in response.json()["outcome"]
    assert state(milestone) == S.PAYMENT_EXPIRED
    assert not Transaction.objects.filter(kind=TransactionKind.FUND).exists()
    late = Transaction.objects.get(kind=TransactionKind.LATE_PAYMENT)
    assert sum(e.amount.amount for e in late.entries.all()) == 0
    command = ProviderCommand.objects.get(kind=CommandKind.REFUND)
    assert command.amount == Money("105.50", "USD")
    assert balance(AccountKind.CARD_REFUNDS) == Money("105.50", "USD")

    # The worker refunds it to the card; the card-refund account is empty again.
    assert command_execute(command_id=command.pk).outcome == "succeeded"
    assert SandboxOperation.objects.get(kind="refund").amount == Money("105.50", "USD")
    assert balance(AccountKind.CARD_REFUNDS) == Money("0.00", "USD")
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.REFUNDED
    audit()
    assert_money_conserved()


def test_an_expired_event_after_the_payment_changes_nothing(client, order, audit):
    milestone = create_milestone(order, pay=False)
    post(client, paid_event(milestone))
    checkout = Checkout.objects.get(milestone=milestone)
    expired = {
        "id": "evt_sandbox_late_expiry",
        "type": "checkout.session.expired",
        "created": int(time.time()),
        "data": {"object": {"id": checkout.session_id, "status": "expired", "payment_status": "unpaid"}},
    }
    response = post(client, json.dumps(expired).encode())
    assert response.status_code == 200 and response.json()["outcome"].startswith("nothing to expire")
    assert state(milestone) == S.AWAITING_ACCEPTANCE
    audit()


def _expiry(checkout: Checkout, event_id: str = "evt_sandbox_expiry") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": "checkout.session.expired",
            "created": int(time.time()),
            "data": {"object": {"id": checkout.session_id, "status": "expired", "payment_status": "unpaid"}},
        }
    ).encode()


def test_a_forged_expiry_for_a_session_still_open_changes_nothing(client, order, audit):
    """Signed, but the provider says the session is open: the buyer can still pay."""
    milestone = create_milestone(order, pay=False)
    checkout = open_checkout(milestone)
    response = post(client, _expiry(checkout))
    assert response.status_code == 200 and response.json()["outcome"].startswith("nothing to expire")
    assert state(milestone) == S.AWAITING_PAYMENT
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.OPEN
    audit()


def test_an_expired_event_closes_an_unpaid_milestone_with_no_money(client, order, audit):
    milestone = create_milestone(order, pay=False)
    checkout = open_checkout(milestone)
    session_expire(session_id=checkout.session_id)
    expired = {
        "id": "evt_sandbox_expiry",
        "type": "checkout.session.expired",
        "created": int(time.time()),
        "data": {"object": {"id": checkout.session_id, "status": "expired", "payment_status": "unpaid"}},
    }
    assert post(client, json.dumps(expired).encode()).json()["outcome"] == "expired"
    assert state(milestone) == S.PAYMENT_EXPIRED
    assert not Transaction.objects.exists()
    audit()


def test_a_payment_of_the_wrong_amount_is_refunded_and_the_checkout_stays_payable(order, audit):
    """Regression: a payment of another amount for an open checkout used to close it as
    refunded, so the buyer's right payment afterwards was refunded "after the checkout had
    closed" and the milestone could never be paid. Now the wrong one goes back to the card
    and the right one funds."""
    milestone = create_milestone(order, pay=False)
    checkout = open_checkout(milestone)
    assert checkout_paid(checkout_id=checkout.pk, payment_reference="pi_wrong", amount=Money("1.00", "USD")) == (
        "refunded: payment arrived for a different amount"
    )
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.OPEN and checkout.payment_reference == ""
    assert state(milestone) == S.AWAITING_PAYMENT
    assert ProviderCommand.objects.get().payment_reference == "pi_wrong"
    assert checkout_paid(checkout_id=checkout.pk, payment_reference="pi_right", amount=checkout.amount) == "funded"
    assert state(milestone) == S.AWAITING_ACCEPTANCE
    audit()
