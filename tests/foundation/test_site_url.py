"""The site's address (``SITE_URL``) in everything read away from a page: the demo's webhooks and
return pages, the notices' e-mails and the account e-mails. Run on another address than 8000, the
demo once posted its webhooks to :8000 (54 "not delivered; retrying") and its e-mails linked there."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from notifications.models import Notification
from notifications.services import notification_emails_send
from sandbox.models import SandboxEvent, SandboxSession
from tests.factories import UserFactory
from tests.mail import deliver_queued_mail

pytestmark = pytest.mark.django_db
SITE = "http://127.0.0.1:9011"


def links(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


def test_the_demo_sends_its_webhooks_and_its_emails_to_the_site_url(settings):
    settings.SITE_URL = SITE
    call_command("seed_demo")

    hooks = list(SandboxEvent.objects.values_list("url", flat=True))
    assert hooks, "the demo's card payments send the sandbox's webhooks"
    assert all(url == SITE + reverse("payment_webhook", args=["sandbox"]) for url in hooks), hooks
    returns = [url for pair in SandboxSession.objects.values_list("success_url", "cancel_url") for url in pair]
    assert returns and all(url.startswith(SITE + "/") for url in returns), returns

    sent = notification_emails_send(notification_ids=Notification.objects.values_list("pk", flat=True))
    assert sent and mail.outbox, "the demo's notices are e-mailed"
    found = [url for message in mail.outbox for url in links(message.body)]
    assert found and all(url.startswith(SITE + "/") for url in found), found
    assert not any(":8000" in message.body for message in mail.outbox)


def test_account_emails_link_to_the_site_url_not_the_host_the_request_came_in_on(client, settings):
    """A reset asked for on an address of the site other than SITE_URL (another port, a proxy's
    inner name) still sends a link people can open."""
    settings.SITE_URL = SITE
    UserFactory(username="forgetful", email="forgetful@example.com")
    client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"}, HTTP_HOST="localhost")
    deliver_queued_mail()
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    found = links(body)
    assert found and all(url.startswith(SITE + "/") for url in found), body
    assert any("/password/reset/key/" in url for url in found), body
    assert "localhost" not in body and "testserver" not in body
    # The link opens the reset form on the site.
    reset = client.get(found[0].removeprefix(SITE), follow=True)
    assert reset.status_code == 200
