"""A slow receiver holds only its delivery: its owner can disable the endpoint meanwhile (PostgreSQL,
real threads and connections)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from tests.factories import UserFactory
from tests.webhooks.conftest import receiver  # noqa: F401 - the local receiver fixture
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import delivery_attempt, endpoint_set_active, webhooks_emit

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_owner_disables_an_endpoint_while_a_delivery_is_in_flight(settings, receiver):  # noqa: F811
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    receiver.delay = 2
    user = UserFactory()
    hook = WebhookEndpoint.objects.create(user=user, url=receiver.url, events=["message.created"])
    (pk,) = webhooks_emit(user=user, event_type="message.created", data={})
    results = []

    def deliver() -> None:
        try:
            results.append(delivery_attempt(delivery_id=pk))
        finally:
            connection.close()

    worker = threading.Thread(target=deliver)
    worker.start()
    deadline = time.monotonic() + 10
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert receiver.requests, "the POST is in flight"
    started = time.monotonic()
    endpoint_set_active(user=user, endpoint_id=hook.pk, active=False)
    assert time.monotonic() - started < 1, "disabling did not wait for the receiver"
    worker.join(10)
    assert results == [True]
    assert WebhookDelivery.objects.get(pk=pk).status == "delivered"
    assert not WebhookEndpoint.objects.get(pk=hook.pk).is_active
