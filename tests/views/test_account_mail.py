"""A request never waits on the mail server (issue 33): allauth's e-mails (confirmation, reset,
security, "someone tried to sign up with your address") are queued by the request and sent by a
worker, with the notices' retry and give-up rule; the e-mail sweep sends what the task never
reached (the broker down too). Shown against a real SMTP conversation on a local port: refused,
accepted then hanging, and back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from notifications.models import OutgoingEmail
from notifications.services import outgoing_email_send
from notifications.sweeps import sweep_outgoing_emails
from tests.factories import UserFactory
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    server = SmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 1
    settings.EMAIL_USE_TLS = False
    yield server
    server.stop()


def _sign_up(client, name: str = "newbie"):
    return client.post(
        reverse("signup"),
        {
            "username": name,
            "email": f"{name}@example.com",
            "password1": "A-long-pass-9x",
            "password2": "A-long-pass-9x",
        },
    )


def _sweep_later(hours: int = 7):
    """The e-mail sweep on a later tick (past the grace and any backoff)."""
    return sweep_outgoing_emails(now=timezone.now() + timedelta(hours=hours))


def test_sign_up_with_the_mail_server_refusing_answers_and_the_link_arrives_once_it_is_back(client, smtp):
    signed = _sign_up(client)
    assert signed.status_code == 302 and User.objects.filter(username="newbie").exists()
    queued = OutgoingEmail.objects.get(to="newbie@example.com")
    assert queued.kind == "account/email/email_confirmation_signup" and queued.sent_at is None

    # The worker's try: refused, recorded, nothing raised.
    assert outgoing_email_send(email_id=queued.pk) is False
    queued.refresh_from_db()
    assert queued.attempts == 1 and "Connection refused" in queued.last_error and queued.retry_at is not None

    smtp.start("accept")
    assert _sweep_later().done == 1
    (message,) = smtp.received
    assert message["To"] == "newbie@example.com" and "/accounts/confirm-email/" in message.get_payload()
    queued.refresh_from_db()
    assert queued.sent_at is not None and queued.body == "", "a sent e-mail keeps no body (it may hold a link)"
    assert _sweep_later().done == 0, "sent once"


def test_a_mail_server_that_accepts_then_hangs_is_never_met_by_the_request(client, smtp):
    smtp.start("hang")
    # The request only writes the row: the hanging server is never called while it runs.
    reset = client.post(reverse("account_reset_password"), {"email": UserFactory(username="pat").email})
    assert reset.status_code == 302 and reset["Location"] == reverse("account_reset_password_done")
    queued = OutgoingEmail.objects.get(to="pat@example.com")
    assert queued.attempts == 0

    # The worker waits EMAIL_TIMEOUT, then records the failure.
    assert outgoing_email_send(email_id=queued.pk) is False
    queued.refresh_from_db()
    assert queued.attempts == 1 and queued.last_error

    smtp.stop()
    smtp.start("accept")
    assert _sweep_later().done == 1
    assert "/accounts/password/reset/key/" in smtp.received[0].get_payload()


def test_after_the_last_attempt_it_waits_for_staff(client, smtp, settings):
    settings.EMAIL_MAX_ATTEMPTS = 2
    _sign_up(client)
    queued = OutgoingEmail.objects.get()
    for hours in (1, 3):
        _sweep_later(hours)
    queued.refresh_from_db()
    assert queued.attempts == 2 and queued.sent_at is None
    smtp.start("accept")
    assert _sweep_later(10).done == 0, "given up: it waits for staff"
    assert not smtp.received


def test_adding_an_address_in_use_answers_as_for_a_new_one(client):
    """No enumeration on "Add e-mail" either: the form never says the address is taken."""
    owner = UserFactory(username="owner")
    user = UserFactory(username="mover")
    client.force_login(user)
    client.post(reverse("account_reauthenticate"), {"password": "correct-horse-battery"})
    taken = client.post(reverse("account_email"), {"email": owner.email, "action_add": ""}, follow=True)
    free = client.post(reverse("account_email"), {"email": "free@example.com", "action_add": ""}, follow=True)
    assert taken.status_code == free.status_code == 200
    assert "already" not in taken.content.decode().lower()
    kinds = dict(OutgoingEmail.objects.values_list("to", "kind"))
    assert kinds[str(owner.email)] == "account/email/account_already_exists"
    assert kinds["free@example.com"] == "account/email/email_confirmation"
