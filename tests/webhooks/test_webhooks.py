"""Outgoing webhooks: what the services emit, how a worker posts it (signed, to the address it
checked), retries and disabling, "Send again", the URL rules, and the user's pages."""

from __future__ import annotations

import re
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.errors import InvalidInput
from milestones.models import MilestoneState
from notifications.models import Notification
from orders.services import order_message_send
from payments.models import CommandKind, ProviderCommand
from payments.outbox import command_execute
from payments.services import withdrawal_request
from privacy.services import account_delete
from tests.factories import OrderFactory, UserFactory, milestone_in
from webhooks.addresses import is_public, url_target
from webhooks.models import EVENT_NAMES, WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    backoff,
    delivery_attempt,
    endpoint_create,
    webhooks_emit,
)
from webhooks.sweeps import sweep_webhooks

S = MilestoneState
pytestmark = pytest.mark.django_db

README = Path(settings.BASE_DIR) / "README.md"


def readme_verify():
    """The README's ten lines, run as they are written there."""
    text = README.read_text()
    code = re.search(r"<!-- webhook-verify -->\n```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) <= 11
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - the README's own code, checked to work as documented
    return namespace["verify"]


def endpoint_for(user, url="https://hooks.example.com/in", events=None):
    return WebhookEndpoint.objects.create(user=user, url=url, events=list(events or EVENT_NAMES))


@pytest.fixture
def allow_local(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True


def fake_dns(monkeypatch, *addresses: str) -> None:
    def getaddrinfo(host, port, *args, **kwargs):
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# --- emission from the real services ------------------------------------------------------------


def test_each_kind_of_event_is_emitted_by_the_services_to_both_parties():
    order = OrderFactory()
    buyer_hook, seller_hook = endpoint_for(order.buyer), endpoint_for(order.seller)
    approved = milestone_in(S.APPROVED, order=order, amount="120.00")
    milestone_in(S.DECLINED, order=order)
    milestone_in(S.OFFERED, order=order)
    order_message_send(order=order, author=order.buyer, body="Here is the brief.")

    for hook in (buyer_hook, seller_hook):
        kinds = set(hook.deliveries.values_list("event_type", flat=True))
        assert {
            "milestone.state_changed",
            "proposal.updated",
            "message.created",
            "payment.funded",
            "payment.released",
            "payment.refunded",
        } <= kinds
    released = seller_hook.deliveries.get(event_type="payment.released")
    assert released.payload["type"] == "payment.released"
    assert released.payload["data"]["milestone"]["id"] == approved.pk
    assert released.payload["data"]["payment"]["amount"] == "120.00"
    assert released.payload["data"]["payment"]["currency"] == "USD"
    changed = buyer_hook.deliveries.filter(event_type="milestone.state_changed").order_by("pk").first()
    assert {"from_state", "to_state"} <= set(changed.payload["data"])
    assert str(changed.event_id) == changed.payload["id"]


def test_a_payout_is_emitted_to_the_seller():
    seller = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT)
    milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
    hook = endpoint_for(seller, events=["payout.paid", "payout.failed"])
    withdrawal_request(seller=seller, amount=Money("50.00", "USD"), key=f"w-{seller.pk}")
    command = ProviderCommand.objects.get(kind=CommandKind.PAYOUT)
    command_execute(command_id=command.pk)
    delivery = hook.deliveries.get()
    assert delivery.event_type == "payout.paid"
    assert delivery.payload["data"]["payout"]["amount"] == "50.00"


def test_a_higher_amount_agreed_is_funded_and_a_tip_is_paid_to_both_parties(audit):
    from milestones.services.changes import changes_accept, changes_request
    from milestones.services.tips import tip_leave
    from tests.services.test_changes import give_balance

    order = OrderFactory()
    hooks = endpoint_for(order.buyer), endpoint_for(order.seller)
    give_balance(order.buyer, "200.00")
    # A higher amount proposed before the work starts, accepted from the balance: a top-up.
    waiting = milestone_in(S.AWAITING_ACCEPTANCE, order=order, amount="100.00")
    changes = changes_request(
        milestone=waiting, actor=order.seller, new_deadline=None, new_amount=Money("150.00", "USD"), new_description=""
    )
    changes_accept(proposal=changes, actor=order.buyer, method="balance")
    # (On another order of theirs: this one's milestone still waits for the seller.)
    approved = milestone_in(S.APPROVED, order=OrderFactory(buyer=order.buyer, seller=order.seller), amount="80.00")
    tip_leave(milestone=approved, actor=order.buyer, amount=Money("6.00", "USD"), method="balance")
    for hook in hooks:
        funded = [d.payload["data"] for d in hook.deliveries.filter(event_type="payment.funded").order_by("pk")]
        top_ups = [d["payment"] for d in funded if d["milestone"]["id"] == waiting.pk]
        # The first funding (100.00 and its 5.50 fee), then the top-up (50.00 and 2.75 more fee).
        assert [(p["amount"], p["service_fee"]["amount"]) for p in top_ups] == [("100.00", "5.50"), ("50.00", "2.75")]
        tipped = hook.deliveries.get(event_type="payment.tipped").payload["data"]
        assert tipped["milestone"]["id"] == approved.pk
        assert tipped["payment"]["amount"] == "6.00" and tipped["payment"]["currency"] == "USD"
    audit()


def test_only_active_endpoints_that_asked_for_the_event_get_it():
    user = UserFactory()
    wants = endpoint_for(user, events=["message.created"])
    other = endpoint_for(user, events=["payout.paid"])
    off = endpoint_for(user, events=["message.created"])
    WebhookEndpoint.objects.filter(pk=off.pk).update(is_active=False)
    assert len(webhooks_emit(user=user, event_type="message.created", data={})) == 1
    assert wants.deliveries.count() == 1 and not other.deliveries.exists() and not off.deliveries.exists()


def test_emitting_queues_the_send_after_commit_only(django_capture_on_commit_callbacks):
    user = UserFactory()
    endpoint_for(user)
    with django_capture_on_commit_callbacks() as callbacks:
        webhooks_emit(user=user, event_type="message.created", data={})
    assert len(callbacks) == 1


# --- delivery -------------------------------------------------------------------------------------


def test_delivery_is_signed_and_verifies_with_the_readme_code(allow_local, receiver):
    user = UserFactory()
    hook = endpoint_for(user, url=receiver.url)
    (pk,) = webhooks_emit(user=user, event_type="message.created", data={"message": {"id": 7}})
    assert delivery_attempt(delivery_id=pk) is True
    (path, headers, body) = receiver.requests[0]
    assert path == "/hook"
    assert headers["Content-Type"] == "application/json"
    verify = readme_verify()
    assert verify(hook.secret, headers["Marketplace-Signature"], body)
    assert not verify("whsec_wrong", headers["Marketplace-Signature"], body)
    assert not verify(hook.secret, headers["Marketplace-Signature"], body + b" ")
    stale = re.sub(r"t=\d+", f"t={int(time.time()) - 3600}", headers["Marketplace-Signature"])
    assert not verify(hook.secret, stale, body), "an old timestamp is refused (replay)"
    delivery = WebhookDelivery.objects.get(pk=pk)
    assert delivery.status == "delivered" and delivery.last_response_code == 200 and delivery.attempts == 1
    import json

    assert json.loads(body) == {
        "id": str(delivery.event_id),
        "type": "message.created",
        "created": delivery.payload["created"],
        "data": {"message": {"id": 7}},
    }
    assert delivery_attempt(delivery_id=pk) is None, "a repeated task sends nothing"
    assert len(receiver.requests) == 1


def test_a_failing_receiver_gets_retries_with_backoff_then_the_endpoint_is_disabled(allow_local, receiver):
    receiver.status = 500
    user = UserFactory()
    hook = endpoint_for(user, url=receiver.url)
    (pk,) = webhooks_emit(user=user, event_type="message.created", data={})
    now = timezone.now()
    waits = []
    while True:
        delivery = WebhookDelivery.objects.get(pk=pk)
        if delivery.status != "pending":
            break
        assert sweep_webhooks(now=now).done == 1
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            waits.append(delivery.next_attempt_at - now)
            assert sweep_webhooks(now=now).done == 0, "not due again before its backoff"
            now = delivery.next_attempt_at
    assert waits[:3] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert max(waits) == timedelta(hours=12)
    assert delivery.status == "failed" and delivery.last_response_code == 500
    assert delivery.attempts == len(receiver.requests) > 5
    assert now <= delivery.created_at + timedelta(days=3)
    hook.refresh_from_db()
    assert not hook.is_active and hook.disabled_at is not None
    notice = Notification.objects.get(recipient=user, event="webhook_disabled")
    assert hook.url in notice.message
    assert not webhooks_emit(user=user, event_type="message.created", data={}), "a disabled endpoint gets nothing"


def test_consecutive_failures_disable_the_endpoint(allow_local, receiver, settings):
    settings.WEBHOOKS_DISABLE_AFTER = 3
    receiver.status = 404
    user = UserFactory()
    hook = endpoint_for(user, url=receiver.url)
    ids = [webhooks_emit(user=user, event_type="message.created", data={"n": n})[0] for n in range(4)]
    for pk in ids[:3]:
        assert delivery_attempt(delivery_id=pk) is False
    hook.refresh_from_db()
    assert not hook.is_active and "3 deliveries in a row" in hook.disabled_reason
    sent = len(receiver.requests)
    assert delivery_attempt(delivery_id=ids[3]) is False
    assert len(receiver.requests) == sent, "what was waiting is not sent"
    assert WebhookDelivery.objects.get(pk=ids[3]).status == "failed"
    assert Notification.objects.filter(recipient=user, event="webhook_disabled").count() == 1


def test_a_redirect_is_not_followed(allow_local, receiver):
    receiver.status = 302
    user = UserFactory()
    endpoint_for(user, url=receiver.url)
    (pk,) = webhooks_emit(user=user, event_type="message.created", data={})
    assert delivery_attempt(delivery_id=pk) is False
    assert WebhookDelivery.objects.get(pk=pk).last_response_code == 302


def test_backoff_doubles_up_to_twelve_hours():
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert backoff(30) == timedelta(hours=12)


def test_send_again_queues_a_fresh_attempt(allow_local, receiver, client, django_capture_on_commit_callbacks):
    receiver.status = 503
    user = UserFactory()
    hook = endpoint_for(user, url=receiver.url)
    (pk,) = webhooks_emit(user=user, event_type="message.created", data={})
    delivery_attempt(delivery_id=pk)
    receiver.status = 200
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("webhook_resend", args=[pk]))
    assert response.status_code == 302 and response.url == hook.get_absolute_url()
    assert len(callbacks) == 1, "the send is queued after commit"
    delivery = WebhookDelivery.objects.get(pk=pk)
    assert delivery.status == "pending" and delivery.next_attempt_at <= timezone.now()
    assert delivery_attempt(delivery_id=pk) is True
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    bodies = {body for _, _, body in receiver.requests}
    assert len(bodies) == 1, "the same event, with the same id, is sent again"
    page = client.get(hook.get_absolute_url())
    assert b"Send again" in page.content and b"503" not in page.content and b"200" in page.content


def test_a_request_that_emits_never_waits_on_a_slow_receiver(allow_local, receiver, client):
    receiver.delay = 3
    order = OrderFactory()
    endpoint_for(order.seller, url=receiver.url)
    client.force_login(order.buyer)
    started = time.monotonic()
    response = client.post(reverse("order_message", args=[order.pk]), {"body": "Hello", "key": uuid.uuid4().hex})
    assert time.monotonic() - started < 2
    assert response.status_code in (200, 302)
    assert WebhookDelivery.objects.filter(endpoint__user=order.seller, event_type="message.created").exists()
    assert receiver.requests == [], "the request did not post; a worker will"


# --- URL rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "127.0.0.1",
        "169.254.169.254",
        "172.16.5.4",
        "192.168.1.1",
        "0.0.0.0",  # noqa: S104 - refused, not bound
        "::1",
        "fd00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "100.64.0.1",
    ],
)
def test_private_and_loopback_addresses_are_refused_in_production(monkeypatch, address):
    assert settings.WEBHOOKS_ALLOW_PRIVATE is False
    fake_dns(monkeypatch, address)
    with pytest.raises(InvalidInput, match="public address"):
        url_target("https://hooks.example.com/in")
    assert not is_public(address)


def test_one_private_address_among_public_ones_is_refused(monkeypatch):
    fake_dns(monkeypatch, "93.184.216.34", "10.0.0.5")
    with pytest.raises(InvalidInput):
        url_target("https://hooks.example.com/in")


def test_http_is_refused_in_production(monkeypatch):
    fake_dns(monkeypatch, "93.184.216.34")
    with pytest.raises(InvalidInput, match="https"):
        url_target("http://hooks.example.com/in")
    target = url_target("https://hooks.example.com:8443/in?a=1")
    assert (target.address, target.port, target.path) == ("93.184.216.34", 8443, "/in?a=1")


def test_the_address_is_checked_again_at_delivery(monkeypatch):
    fake_dns(monkeypatch, "93.184.216.34")
    user = UserFactory()
    endpoint_create(user=user, url="https://hooks.example.com/in", events=["message.created"])
    fake_dns(monkeypatch, "127.0.0.1")  # DNS changed since
    (pk,) = webhooks_emit(user=user, event_type="message.created", data={})
    assert delivery_attempt(delivery_id=pk) is False
    delivery = WebhookDelivery.objects.get(pk=pk)
    assert "public address" in delivery.last_error and delivery.last_response_code is None


# --- pages ------------------------------------------------------------------------------------------


def test_the_profile_links_to_webhooks(client):
    user = UserFactory()
    client.force_login(user)
    assert f'href="{reverse("webhooks")}">Webhooks</a>'.encode() in client.get(reverse("profile")).content


def test_add_endpoint_reports_every_error_and_changes_nothing(client, monkeypatch):
    fake_dns(monkeypatch, "10.0.0.1")
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("webhook_add"), {"url": ""})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"url", "events"}
    response = client.post(reverse("webhook_add"), {"url": "https://internal.example/", "events": ["nope"]})
    assert response.context["form"].errors.keys() == {"url", "events"}
    response = client.post(reverse("webhook_add"), {"url": "https://internal.example/", "events": ["payout.paid"]})
    assert "public address" in response.context["form"].errors["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_add_endpoint_shows_the_secret_then_disable_and_delete(client, monkeypatch):
    fake_dns(monkeypatch, "93.184.216.34")
    user, other = UserFactory(), UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("webhook_add"), {"url": "https://hooks.example.com/in", "events": ["payout.paid", "message.created"]}
    )
    hook = WebhookEndpoint.objects.get(user=user)
    assert response.url == hook.get_absolute_url() and set(hook.events) == {"message.created", "payout.paid"}
    page = client.get(hook.get_absolute_url())
    assert hook.secret.encode() in page.content
    assert hook.url.encode() in client.get(reverse("webhooks")).content
    client.post(reverse("webhook_set_active", args=[hook.pk]), {"active": "0"})
    hook.refresh_from_db()
    assert not hook.is_active
    assert not Notification.objects.filter(event="webhook_disabled").exists(), "the owner did it; no notice"
    client.force_login(other)
    assert client.get(hook.get_absolute_url()).status_code == 404
    assert client.post(reverse("webhook_delete", args=[hook.pk])).status_code == 404
    client.force_login(user)
    client.post(reverse("webhook_delete", args=[hook.pk]))
    assert not WebhookEndpoint.objects.exists()


# --- privacy ----------------------------------------------------------------------------------------


def test_account_deletion_removes_endpoints_and_deliveries():
    user, keeper = UserFactory(), UserFactory()
    endpoint_for(user)
    endpoint_for(keeper)
    webhooks_emit(user=user, event_type="message.created", data={})
    webhooks_emit(user=keeper, event_type="message.created", data={})
    account_delete(user=user, password="correct-horse-battery")
    assert not WebhookEndpoint.objects.filter(user=user).exists()
    assert not WebhookDelivery.objects.filter(endpoint__user=user).exists()
    assert WebhookDelivery.objects.filter(endpoint__user=keeper).count() == 1


def test_the_data_export_holds_the_endpoints_without_their_secret(client):
    import io
    import json
    import zipfile

    user = UserFactory()
    hook = endpoint_for(user)
    webhooks_emit(user=user, event_type="message.created", data={})
    client.force_login(user)
    response = client.post(reverse("data_download"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    data = json.loads(archive.read("webhooks.json"))
    assert [e["url"] for e in data["endpoints"]] == [hook.url]
    assert hook.secret not in archive.read("webhooks.json").decode()
    assert len(data["deliveries"]) == 1


def test_https_connects_to_the_checked_address_and_verifies_the_host_name(monkeypatch):
    """No second DNS lookup between the check and the connection (rebinding): the socket goes to
    the address checked, TLS checks the certificate against the URL's host name."""
    from webhooks import addresses

    fake_dns(monkeypatch, "93.184.216.34")
    target = url_target("https://hooks.example.com/in")
    connected, wrapped = [], []

    def create_connection(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("stop here")

    monkeypatch.setattr(addresses.socket, "create_connection", create_connection)
    with pytest.raises(ConnectionRefusedError):
        addresses.post(target, b"{}", {}, timeout=1)
    assert connected == [("93.184.216.34", 443)]

    def wrap_socket(context, sock, server_hostname=None, **kwargs):
        wrapped.append((server_hostname, context.verify_mode, context.check_hostname))
        raise ConnectionAbortedError("stop here")

    monkeypatch.setattr(addresses.socket, "create_connection", lambda address, timeout=None: object())
    monkeypatch.setattr(addresses.ssl.SSLContext, "wrap_socket", wrap_socket)
    with pytest.raises(ConnectionAbortedError):
        addresses.post(target, b"{}", {}, timeout=1)
    import ssl

    assert wrapped == [("hooks.example.com", ssl.CERT_REQUIRED, True)]
