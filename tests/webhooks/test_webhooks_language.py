"""What the webhooks worker writes for an endpoint's owner (the log's errors, why the endpoint was
disabled, the notice) is in the owner's language (``User.language``), not the worker's."""

from __future__ import annotations

import pytest

from accounts.models import User
from notifications.models import Notification
from tests.factories import UserFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import delivery_attempt, webhooks_emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def allow_local(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True


def test_a_german_owner_reads_why_their_endpoint_was_disabled_in_german(allow_local, receiver, settings):
    settings.WEBHOOKS_DISABLE_AFTER = 2
    receiver.status = 500
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(language="de")
    user.refresh_from_db()
    hook = WebhookEndpoint.objects.create(user=user, url=receiver.url, events=["message.created"])
    ids = [webhooks_emit(user=user, event_type="message.created", data={"n": n})[0] for n in range(2)]
    for pk in ids:
        assert delivery_attempt(delivery_id=pk) is False
    assert WebhookDelivery.objects.get(pk=ids[0]).last_error == "Antwort 500."
    hook.refresh_from_db()
    assert hook.disabled_reason == "2 Zustellungen in Folge wurden nicht angenommen (Antwort 2xx)."
    notice = Notification.objects.get(recipient=user, event="webhook_disabled")
    assert notice.message == f"Ihr Webhook-Endpunkt {receiver.url} wurde deaktiviert: {hook.disabled_reason}"


def test_an_english_owner_reads_it_as_before(allow_local, receiver, settings):
    settings.WEBHOOKS_DISABLE_AFTER = 2
    receiver.status = 500
    user = UserFactory()
    hook = WebhookEndpoint.objects.create(user=user, url=receiver.url, events=["message.created"])
    for pk in [webhooks_emit(user=user, event_type="message.created", data={"n": n})[0] for n in range(2)]:
        delivery_attempt(delivery_id=pk)
    hook.refresh_from_db()
    assert hook.disabled_reason == "2 deliveries in a row were not accepted (answered 2xx)."
    notice = Notification.objects.get(recipient=user, event="webhook_disabled")
    assert notice.message == f"Your webhook endpoint {receiver.url} was disabled: {hook.disabled_reason}"
