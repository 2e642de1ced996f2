"""The Stripe provider, with the real ``stripe`` library and no network.

A fake ``stripe.HTTPClient`` records every request the library builds
(method, path, headers, form body) and answers with canned Stripe JSON, so
these tests check what would go over the wire: paths, form fields and the
``Idempotency-Key`` header. Webhooks go through the real endpoint, signed
with Stripe's scheme.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.errors import InvalidInput
from milestones.models import MilestoneState
from payments.connect import PayoutDestination, payout_destination
from payments.models import Checkout, PayoutAccount, ProviderCommand, Transaction, WebhookEvent, Withdrawal
from payments.outbox import _call
from payments.providers import (
    ProviderInTransaction,
    ProviderUnavailable,
    get_provider,
    minor_units,
    sign_payload,
)
from payments.providers import stripe as stripe_provider
from payments.providers.stripe import StripeProvider, session_expires_at
from payments.services import withdrawal_request
from tests.factories import create_milestone, milestone_in

SECRET = "whsec_test"
WEBHOOK = "/payments/webhooks/stripe/"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


class FakeStripe(stripe.HTTPClient):
    """Stripe's API as far as these tests need it: canned answers per (method, path)."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self.answers: dict[tuple[str, str], list[Any]] = {}

    def answer(self, method: str, path: str, *replies: Any) -> None:
        """Queue replies: a dict (200), a (status, dict) pair, or an exception to raise. The last one repeats."""
        self.answers[(method, path)] = list(replies)

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.0  # the library's own retries, without the wait

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        parts = urlsplit(url)
        form = dict(parse_qsl(post_data if method == "post" else parts.query))
        self.calls.append(Call(method, parts.path, dict(headers or {}), form))
        replies = self.answers.get((method, parts.path))
        if replies is None:
            if method == "get" and parts.path.count("/") == 2:  # a list, e.g. /v1/transfers
                reply: Any = {"object": "list", "data": [], "has_more": False, "url": parts.path}
            else:
                raise AssertionError(f"unexpected Stripe call {method.upper()} {parts.path}")
        else:
            reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if isinstance(reply, Exception):
            raise reply
        status, body = reply if isinstance(reply, tuple) else (200, reply)
        return json.dumps(body), status, {"Request-Id": "req_test"}

    def close(self) -> None:
        pass

    def posts(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == "post" and c.path == path]


@pytest.fixture
def fake(settings, monkeypatch) -> FakeStripe:
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    http = FakeStripe()
    monkeypatch.setattr(stripe_provider, "_client", functools.partial(stripe_provider._client, http_client=http))
    return http


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def session_json(**overrides) -> dict:
    return {
        "id": "cs_test_a1",
        "object": "checkout.session",
        "url": "https://checkout.stripe.com/c/pay/cs_test_a1",
        "status": "open",
        "payment_status": "unpaid",
        "payment_intent": None,
        "amount_total": 10500,
        "currency": "usd",
        "client_reference_id": "checkout-7",
        "metadata": {"reference": "checkout-7"},
        **overrides,
    }


def error_json(type_: str, code: str, message: str) -> dict:
    return {"error": {"type": type_, "code": code, "message": message}}


# --- the requests it builds ---------------------------------------------------------------------


def test_checkout_create_sends_one_line_in_cents_with_the_key(fake):
    fake.answer("post", "/v1/checkout/sessions", session_json())
    expires = timezone.now() + timedelta(hours=2)
    session = get_provider().checkout_create(
        amount=usd("100.00") + usd("5.00"),
        description="Milestone “Design”",
        reference="checkout-7",
        customer_email="alice@example.com",
        success_url="https://shop.example/return/?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://shop.example/return/?cancelled=1",
        expires_at=expires,
        idempotency_key="checkout:abc",
    )
    [call] = fake.calls
    assert (call.method, call.path) == ("post", "/v1/checkout/sessions")
    assert call.headers["Idempotency-Key"] == "checkout:abc"
    assert call.headers["Authorization"] == "Bearer sk_test_x"
    form = call.form
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "10500"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][product_data][name]"] == "Milestone “Design”"
    assert form["line_items[0][quantity]"] == "1"
    assert form["client_reference_id"] == "checkout-7"
    assert form["customer_email"] == "alice@example.com"
    assert "{CHECKOUT_SESSION_ID}" in form["success_url"]
    assert form["cancel_url"].endswith("cancelled=1")
    assert form["expires_at"] == str(int(expires.timestamp()))
    assert form["metadata[reference]"] == "checkout-7"
    assert form["payment_intent_data[metadata][reference]"] == "checkout-7"
    assert session.id == "cs_test_a1"
    assert session.url.startswith("https://checkout.stripe.com/")
    assert (session.status, session.payment_status, session.payment_reference) == ("open", "unpaid", "")
    assert session.amount == usd("105.00")


def test_expires_at_is_clamped_to_what_stripe_accepts():
    now = timezone.now()
    assert session_expires_at(now + timedelta(days=3), now=now) == int(
        (now + timedelta(hours=23, minutes=59)).timestamp()
    )
    assert session_expires_at(now + timedelta(minutes=5), now=now) == int((now + timedelta(minutes=31)).timestamp())
    assert session_expires_at(now + timedelta(hours=5), now=now) == int((now + timedelta(hours=5)).timestamp())


def test_checkout_retrieve_reads_the_payment_intent(fake):
    fake.answer(
        "get",
        "/v1/checkout/sessions/cs_test_a1",
        session_json(status="complete", payment_status="paid", payment_intent="pi_test_1"),
    )
    session = get_provider().checkout_retrieve("cs_test_a1")
    assert session.paid and session.payment_reference == "pi_test_1"
    assert session.reference == "checkout-7"


def test_checkout_expire_posts_and_ignores_a_session_already_complete(fake):
    fake.answer("post", "/v1/checkout/sessions/cs_test_a1/expire", session_json(status="expired"))
    get_provider().checkout_expire("cs_test_a1")
    assert [c.path for c in fake.posts("/v1/checkout/sessions/cs_test_a1/expire")] == [
        "/v1/checkout/sessions/cs_test_a1/expire"
    ]

    fake.answer(
        "post",
        "/v1/checkout/sessions/cs_test_b2/expire",
        (
            400,
            error_json("invalid_request_error", "", 'Only Checkout Sessions with a status in ["open"] can be expired.'),
        ),
    )
    fake.answer("get", "/v1/checkout/sessions/cs_test_b2", session_json(id="cs_test_b2", status="complete"))
    get_provider().checkout_expire("cs_test_b2")  # nothing raised


def test_refund_sends_the_payment_intent_amount_and_key(fake):
    fake.answer("post", "/v1/refunds", {"id": "re_1", "object": "refund", "status": "succeeded", "amount": 2500})
    result = get_provider().refund(amount=usd("25.00"), payment_reference="pi_test_1", idempotency_key="refund:m:1")
    assert result.ok and result.reference == "re_1"
    [call] = fake.posts("/v1/refunds")
    assert call.form == {"payment_intent": "pi_test_1", "amount": "2500", "metadata[idempotency_key]": "refund:m:1"}
    assert call.headers["Idempotency-Key"] == "refund:m:1"


def test_a_refund_made_more_than_a_day_ago_is_found_not_made_twice(fake):
    """Stripe forgets idempotency keys after 24 hours; the key in the metadata still finds it."""
    fake.answer(
        "get",
        "/v1/refunds",
        {
            "object": "list",
            "has_more": False,
            "url": "/v1/refunds",
            "data": [
                {"id": "re_old", "object": "refund", "status": "succeeded", "metadata": {"idempotency_key": "k1"}}
            ],
        },
    )
    result = get_provider().refund(amount=usd("25.00"), payment_reference="pi_test_1", idempotency_key="k1")
    assert (result.ok, result.reference) == (True, "re_old")
    assert fake.posts("/v1/refunds") == []


def test_a_card_error_on_refund_is_a_final_no(fake):
    fake.answer("post", "/v1/refunds", (402, error_json("card_error", "expired_card", "Your card has expired.")))
    result = get_provider().refund(amount=usd("25.00"), payment_reference="pi_test_1", idempotency_key="k2")
    assert not result.ok
    assert result.failure_code == "expired_card"
    assert result.message == "Your card has expired."


def test_an_invalid_refund_is_a_final_no(fake):
    fake.answer(
        "post",
        "/v1/refunds",
        (400, error_json("invalid_request_error", "charge_already_refunded", "Charge has already been refunded.")),
    )
    result = get_provider().refund(amount=usd("25.00"), payment_reference="pi_test_1", idempotency_key="k3")
    assert (result.ok, result.failure_code) == (False, "charge_already_refunded")


def test_a_500_is_unavailable_after_the_library_retried_with_the_same_key(fake):
    fake.answer("post", "/v1/refunds", (500, error_json("api_error", "", "Something went wrong.")))
    with pytest.raises(ProviderUnavailable):
        get_provider().refund(amount=usd("25.00"), payment_reference="pi_test_1", idempotency_key="k4")
    posts = fake.posts("/v1/refunds")
    assert len(posts) == 1 + stripe_provider.NETWORK_RETRIES
    assert {c.headers["Idempotency-Key"] for c in posts} == {"k4"}


def test_a_connection_error_or_rate_limit_is_unavailable(fake):
    fake.answer("post", "/v1/transfers", stripe.APIConnectionError("Connection refused"))
    with pytest.raises(ProviderUnavailable):
        get_provider().payout(
            amount=usd("10.00"), method="bank", destination="acct_1", idempotency_key="p1", metadata={}
        )
    fake.answer("post", "/v1/refunds", (429, error_json("rate_limit_error", "rate_limit", "Too many requests.")))
    with pytest.raises(ProviderUnavailable):
        get_provider().refund(amount=usd("1.00"), payment_reference="pi_1", idempotency_key="k5")


def test_payout_is_a_transfer_to_the_connected_account(fake):
    fake.answer("post", "/v1/transfers", {"id": "tr_1", "object": "transfer", "amount": 3000, "currency": "usd"})
    result = get_provider().payout(
        amount=usd("30.00"),
        method="bank_transfer",
        destination="acct_1Seller",
        idempotency_key="payout:w1",
        metadata={"withdrawal": "12", "user": "3"},
    )
    assert (result.ok, result.reference) == (True, "tr_1")
    [lookup] = [c for c in fake.calls if c.method == "get"]
    assert lookup.path == "/v1/transfers"
    assert lookup.form["transfer_group"] == "withdrawal-12"
    [call] = fake.posts("/v1/transfers")
    assert call.headers["Idempotency-Key"] == "payout:w1"
    assert call.form == {
        "amount": "3000",
        "currency": "usd",
        "destination": "acct_1Seller",
        "transfer_group": "withdrawal-12",
        "metadata[withdrawal]": "12",
        "metadata[user]": "3",
        "metadata[idempotency_key]": "payout:w1",
    }


def test_an_injected_client_is_used_as_is(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    http = FakeStripe()
    http.answer("post", "/v1/transfers", {"id": "tr_2", "object": "transfer"})
    provider = StripeProvider(client=stripe.StripeClient("sk_test_other", http_client=http))
    result = provider.payout(amount=usd("1.00"), method="", destination="acct_2", idempotency_key="p2", metadata={})
    assert result.reference == "tr_2"
    assert http.posts("/v1/transfers")[0].headers["Authorization"] == "Bearer sk_test_other"


@pytest.mark.django_db(transaction=True)
def test_calling_inside_a_transaction_is_refused(fake):
    with transaction.atomic(), pytest.raises(ProviderInTransaction):
        get_provider().refund(amount=usd("1.00"), payment_reference="pi_1", idempotency_key="k6")
    with transaction.atomic(), pytest.raises(ProviderInTransaction):
        get_provider().checkout_retrieve("cs_test_a1")
    assert fake.calls == []


def test_records_pages_through_charges_refunds_and_transfers(fake):
    fake.answer(
        "get",
        "/v1/charges",
        {
            "object": "list",
            "url": "/v1/charges",
            "has_more": True,
            "data": [
                {
                    "id": "ch_1",
                    "object": "charge",
                    "status": "succeeded",
                    "amount": 10500,
                    "currency": "usd",
                    "payment_intent": "pi_1",
                    "metadata": {"idempotency_key": "checkout:a"},
                },
                {"id": "ch_2", "object": "charge", "status": "failed", "amount": 500, "currency": "usd"},
            ],
        },
        {
            "object": "list",
            "url": "/v1/charges",
            "has_more": False,
            "data": [
                {
                    "id": "ch_3",
                    "object": "charge",
                    "status": "succeeded",
                    "amount": 700,
                    "currency": "usd",
                    "payment_intent": "pi_3",
                }
            ],
        },
    )
    fake.answer(
        "get",
        "/v1/transfers",
        {
            "object": "list",
            "url": "/v1/transfers",
            "has_more": False,
            "data": [
                {
                    "id": "tr_1",
                    "object": "transfer",
                    "amount": 3000,
                    "currency": "usd",
                    "metadata": {"idempotency_key": "payout:w1"},
                }
            ],
        },
    )
    records = get_provider().records(since=timezone.now() - timedelta(days=1))
    assert [(r.kind, r.reference, r.amount, r.idempotency_key) for r in records] == [
        ("charge", "pi_1", usd("105.00"), "checkout:a"),
        ("charge", "pi_3", usd("7.00"), ""),
        ("payout", "tr_1", usd("30.00"), "payout:w1"),
    ]
    charge_pages = [c for c in fake.calls if c.path == "/v1/charges"]
    assert charge_pages[1].form["starting_after"] == "ch_2"
    assert "created[gte]" in charge_pages[0].form


# --- Connect onboarding ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_onboarding_creates_an_express_account_once_and_links_to_it(fake, seller):
    fake.answer("post", "/v1/accounts", {"id": "acct_1Seller", "object": "account", "details_submitted": False})
    fake.answer("post", "/v1/account_links", {"object": "account_link", "url": "https://connect.stripe.com/setup/e/x"})
    provider = get_provider()
    url = provider.payout_onboarding_url(user=seller, return_url="https://s/return/", refresh_url="https://s/earn/")
    assert url == "https://connect.stripe.com/setup/e/x"
    [create] = fake.posts("/v1/accounts")
    assert create.form["type"] == "express"
    assert create.form["email"] == seller.email
    assert create.form["capabilities[transfers][requested]"] == "true"
    assert create.headers["Idempotency-Key"] == f"connect-account:{seller.pk}"
    [link] = fake.posts("/v1/account_links")
    assert link.form == {
        "account": "acct_1Seller",
        "type": "account_onboarding",
        "return_url": "https://s/return/",
        "refresh_url": "https://s/earn/",
    }
    account = PayoutAccount.objects.get(user=seller)
    assert (account.provider, account.account_id, account.payouts_enabled) == ("stripe", "acct_1Seller", False)

    provider.payout_onboarding_url(user=seller, return_url="https://s/return/", refresh_url="https://s/earn/")
    assert len(fake.posts("/v1/accounts")) == 1, "the account is reused"
    assert len(fake.posts("/v1/account_links")) == 2


@pytest.mark.django_db
def test_onboarding_views(fake, client, seller):
    client.force_login(seller)
    fake.answer("post", "/v1/accounts", {"id": "acct_1Seller", "object": "account"})
    fake.answer("post", "/v1/account_links", {"object": "account_link", "url": "https://connect.stripe.com/setup/e/x"})
    assert client.get(reverse("payout_onboarding")).status_code == 405
    response = client.post(reverse("payout_onboarding"))
    assert response.status_code == 302
    assert response["Location"] == "https://connect.stripe.com/setup/e/x"
    [link] = fake.posts("/v1/account_links")
    assert link.form["return_url"].endswith(reverse("payout_onboarding_return"))

    page = client.get(reverse("earnings"))
    assert "Update payout details" in page.content.decode()

    fake.answer(
        "get",
        "/v1/accounts/acct_1Seller",
        {"id": "acct_1Seller", "object": "account", "details_submitted": True, "payouts_enabled": True},
    )
    response = client.get(reverse("payout_onboarding_return"))
    assert response.status_code == 302 and response["Location"] == reverse("earnings")
    account = PayoutAccount.objects.get(user=seller)
    assert account.details_submitted and account.payouts_enabled


@pytest.mark.django_db
def test_the_earnings_page_offers_stripe_setup_only_with_stripe(client, seller, settings):
    client.force_login(seller)
    assert "Set up payouts with Stripe" not in client.get(reverse("earnings")).content.decode()
    response = client.post(reverse("payout_onboarding"))
    assert response.status_code == 302 and response["Location"] == reverse("earnings")
    settings.PAYMENT_PROVIDER = "stripe"
    assert "Set up payouts with Stripe" in client.get(reverse("earnings")).content.decode()


# --- where payouts go ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_payout_destination(settings, seller):
    # The sandbox: the profile's account, as shown and as its token.
    assert payout_destination(seller) == PayoutDestination(shown="•••• 5555", token="pdt_sandbox_factory")
    settings.PAYMENT_PROVIDER = "stripe"
    with pytest.raises(InvalidInput) as refused:
        payout_destination(seller)
    assert refused.value.field == "payout_account"
    account = PayoutAccount.objects.create(user=seller, provider="stripe", account_id="acct_1Seller")
    with pytest.raises(InvalidInput):
        payout_destination(seller)  # onboarding not finished
    account.payouts_enabled = True
    account.save()
    assert payout_destination(seller) == PayoutDestination(shown="acct_1Seller", token="acct_1Seller")


@pytest.mark.django_db
def test_withdrawal_with_stripe_goes_to_the_connected_account(fake, settings, order, audit):
    order.seller.withdrawal_method = WithdrawalMethod.INSTANT
    order.seller.save()
    settings.PAYMENT_PROVIDER = "sandbox"  # funded and approved on the sandbox: 80.00 available
    milestone_in(MilestoneState.APPROVED, order=order)
    settings.PAYMENT_PROVIDER = "stripe"
    seller = order.seller

    with pytest.raises(InvalidInput, match="Connect your payout account with Stripe first"):
        withdrawal_request(seller=seller, amount=usd("30.00"), key=uuid.uuid4().hex)
    assert not Withdrawal.objects.exists()

    PayoutAccount.objects.create(user=seller, provider="stripe", account_id="acct_1Seller", payouts_enabled=True)
    key = uuid.uuid4().hex
    withdrawal = withdrawal_request(seller=seller, amount=usd("30.00"), key=key)
    assert withdrawal.destination == "acct_1Seller"

    command = ProviderCommand.objects.get(withdrawal=withdrawal)
    assert command.destination == "acct_1Seller"
    audit()

    # What the outbox worker sends (``payments.outbox._call``, with no transaction open).
    fake.answer("post", "/v1/transfers", {"id": "tr_paid", "object": "transfer", "amount": 3000, "currency": "usd"})
    result = _call(command)
    assert (result.ok, result.reference) == (True, "tr_paid")
    [call] = fake.posts("/v1/transfers")
    assert call.form["destination"] == "acct_1Seller"
    assert call.form["amount"] == "3000"
    assert call.form["transfer_group"] == f"withdrawal-{withdrawal.pk}"
    assert call.headers["Idempotency-Key"] == f"payout:{key}"


# --- webhooks through the endpoint -------------------------------------------------------------------


def completed_event(session_id: str, *, amount: int = 10500, event_id: str = "evt_1Test") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2025-09-30.clover",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": session_id,
                    "object": "checkout.session",
                    "amount_subtotal": amount,
                    "amount_total": amount,
                    "client_reference_id": "checkout-1",
                    "currency": "usd",
                    "customer_details": {"email": "alice_buyer@example.com"},
                    "livemode": False,
                    "metadata": {"reference": "checkout-1"},
                    "mode": "payment",
                    "payment_intent": "pi_3TestPaid",
                    "payment_status": "paid",
                    "status": "complete",
                    "url": None,
                }
            },
        }
    ).encode()


def paid_event(milestone, fake: FakeStripe | None = None) -> bytes:
    """The completed event of the milestone's checkout, for what it costs (amount plus the buyer's
    service fee). With ``fake``, Stripe also confirms the payment when asked, as it would after it."""
    amount = minor_units(Checkout.objects.get(milestone=milestone).amount)
    if fake is not None:
        fake.answer(
            "get",
            "/v1/checkout/sessions/cs_test_paid1",
            session_json(
                id="cs_test_paid1",
                status="complete",
                payment_status="paid",
                payment_intent="pi_3TestPaid",
                amount_total=amount,
            ),
        )
    return completed_event("cs_test_paid1", amount=amount)


def post(client, payload: bytes, signature: str, url: str = WEBHOOK):
    return client.post(url, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


@pytest.fixture
def unpaid(fake, order):
    """A milestone waiting for its Stripe checkout, whose session is cs_test_paid1."""
    milestone = create_milestone(order, pay=False)
    assert milestone.state == MilestoneState.AWAITING_PAYMENT
    checkout = Checkout.objects.get(milestone=milestone)
    assert checkout.provider == "stripe"
    Checkout.objects.filter(pk=checkout.pk).update(session_id="cs_test_paid1")
    return milestone


@pytest.mark.django_db
def test_a_signed_completed_event_funds_the_milestone(client, fake, unpaid, audit):
    payload = paid_event(unpaid, fake)
    response = post(client, payload, sign_payload(payload, SECRET))
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "funded"
    unpaid.refresh_from_db()
    assert unpaid.state == MilestoneState.AWAITING_ACCEPTANCE
    checkout = Checkout.objects.get(milestone=unpaid)
    assert (checkout.status, checkout.payment_reference) == ("paid", "pi_3TestPaid")
    assert WebhookEvent.objects.get().type == "checkout.session.completed"
    audit()


def test_a_signed_event_stripe_does_not_confirm_moves_nothing(client, fake, unpaid, audit):
    """Signed with the right secret (a leaked one signs anything) but Stripe says the session
    is still unpaid: stored, answered 200, nothing funded."""
    fake.answer("get", "/v1/checkout/sessions/cs_test_paid1", session_json(id="cs_test_paid1"))
    payload = paid_event(unpaid)
    response = post(client, payload, sign_payload(payload, SECRET))
    assert response.status_code == 200 and response.json()["outcome"].startswith("not confirmed by the provider")
    unpaid.refresh_from_db()
    assert unpaid.state == MilestoneState.AWAITING_PAYMENT
    assert WebhookEvent.objects.count() == 1 and not Transaction.objects.exists()
    audit()


def test_an_event_is_answered_503_when_stripe_cannot_confirm_it(client, fake, unpaid):
    """Stripe down while it delivers: not stored, so its next delivery is acted on."""
    fake.answer("get", "/v1/checkout/sessions/cs_test_paid1", (500, error_json("api_error", "", "down")))
    payload = paid_event(unpaid)
    response = post(client, payload, sign_payload(payload, SECRET))
    assert response.status_code == 503
    assert not WebhookEvent.objects.exists() and not Transaction.objects.exists()


@pytest.mark.django_db
def test_a_bad_signature_is_refused_and_nothing_stored(client, unpaid):
    payload = completed_event("cs_test_paid1")
    assert post(client, payload, sign_payload(payload, "whsec_other")).status_code == 400
    assert post(client, payload, "t=1,v1=deadbeef").status_code == 400
    assert post(client, payload, "").status_code == 400
    assert not WebhookEvent.objects.exists()
    unpaid.refresh_from_db()
    assert unpaid.state == MilestoneState.AWAITING_PAYMENT


@pytest.mark.django_db
def test_a_ten_minute_old_signature_is_refused(client, unpaid):
    payload = completed_event("cs_test_paid1")
    response = post(client, payload, sign_payload(payload, SECRET, timestamp=int(time.time()) - 600))
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_the_same_event_twice_is_stored_once(client, fake, unpaid, audit):
    payload = paid_event(unpaid, fake)
    first = post(client, payload, sign_payload(payload, SECRET))
    second = post(client, payload, sign_payload(payload, SECRET))
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["outcome"], second.json()["outcome"]) == ("funded", "duplicate: already received")
    assert WebhookEvent.objects.count() == 1
    assert Transaction.objects.filter(kind="fund").count() == 1
    audit()


@pytest.mark.django_db
def test_account_updated_updates_the_payout_account(client, fake, seller):
    PayoutAccount.objects.create(user=seller, provider="stripe", account_id="acct_1Seller")
    payload = json.dumps(
        {
            "id": "evt_1Account",
            "object": "event",
            "account": "acct_1Seller",
            "created": int(time.time()),
            "type": "account.updated",
            "data": {
                "object": {
                    "id": "acct_1Seller",
                    "object": "account",
                    "type": "express",
                    "charges_enabled": True,
                    "details_submitted": True,
                    "payouts_enabled": True,
                }
            },
        }
    ).encode()
    response = post(client, payload, sign_payload(payload, SECRET))
    assert response.status_code == 200
    account = PayoutAccount.objects.get(user=seller)
    assert account.details_submitted and account.payouts_enabled
    assert WebhookEvent.objects.get().outcome == "payout account acct_1Seller: payouts enabled"


@pytest.mark.django_db
def test_a_second_webhook_secret_is_accepted(client, fake, settings, seller):
    """The Connect endpoint has its own signing secret: both may be configured, comma-separated."""
    settings.STRIPE_WEBHOOK_SECRET = f"{SECRET}, whsec_connect"
    payload = json.dumps(
        {
            "id": "evt_2",
            "object": "event",
            "created": 1,
            "type": "account.updated",
            "data": {"object": {"id": "acct_x"}},
        }
    ).encode()
    response = post(client, payload, sign_payload(payload, "whsec_connect"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "unknown payout account"


@pytest.mark.django_db
def test_the_sandbox_endpoint_is_closed_while_the_provider_is_stripe(client, fake, settings):
    payload = completed_event("cs_test_paid1")
    response = post(
        client,
        payload,
        sign_payload(payload, settings.SANDBOX_WEBHOOK_SECRET),
        url=reverse("payment_webhook", args=["sandbox"]),
    )
    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()
