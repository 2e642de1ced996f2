"""A real worker posts a user's webhook: the service emits in its transaction, the task is
published after commit on the ``webhooks`` queue, and a worker process delivers it, signed."""

from __future__ import annotations

import pytest

from orders.services import order_message_send
from tests.celery.conftest import wait_until
from tests.factories import OrderFactory
from tests.webhooks.conftest import receiver  # noqa: F401 - the local receiver fixture
from tests.webhooks.test_webhooks import readme_verify
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_a_worker_delivers_a_webhook_after_the_commit(worker_factory, receiver):  # noqa: F811
    order = OrderFactory()
    hook = WebhookEndpoint.objects.create(user=order.seller, url=receiver.url, events=["message.created"])
    worker_factory(env={"WEBHOOKS_ALLOW_PRIVATE": "true"})

    order_message_send(order=order, author=order.buyer, body="Is the brief clear?")

    wait_until(lambda: receiver.requests, timeout=45, what="the receiver to be posted to")
    delivery = WebhookDelivery.objects.get(endpoint=hook)
    wait_until(
        lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status="delivered").exists(),
        timeout=30,
        what="the delivery to be recorded",
    )
    _, headers, body = receiver.requests[0]
    assert readme_verify()(hook.secret, headers["Marketplace-Signature"], body)
    assert b"Is the brief clear?" in body
