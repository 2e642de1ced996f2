"""A mail server that fails: the notice records each try and its error, the sweep retries it with a
doubling backoff, gives up after EMAIL_MAX_ATTEMPTS, and staff can send it again."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from notifications.services import email_retry_delay, notification_email_send
from notifications.sweeps import emails_due, sweep_emails
from tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def refusing(settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    settings.EMAIL_RETRY_SECONDS = 60
    settings.EMAIL_MAX_ATTEMPTS = 3


def _old_notice() -> Notification:
    notice: Notification = NotificationFactory()
    Notification.objects.filter(pk=notice.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    notice.refresh_from_db()
    return notice


def test_a_failed_send_records_the_try_and_the_error_and_waits_out_a_backoff(refusing, settings, caplog):
    notice = _old_notice()
    assert notification_email_send(notification_id=notice.pk) is False
    notice.refresh_from_db()
    assert notice.emailed_at is None
    assert notice.email_attempts == 1
    assert notice.email_last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert timedelta(seconds=55) < notice.email_retry_at - timezone.now() <= timedelta(seconds=60)
    assert "e-mail of 1 notices failed (attempt 1)" in caplog.text

    now = timezone.now()
    assert sweep_emails(now=now + timedelta(seconds=30)).done == 0, "still in its backoff"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert sweep_emails(now=now + timedelta(seconds=61)).done == 1
    notice.refresh_from_db()
    assert notice.emailed_at is not None and notice.email_retry_at is None
    assert len(mail.outbox) == 1


def test_the_backoff_doubles_and_is_capped_at_six_hours(settings):
    settings.EMAIL_RETRY_SECONDS = 60
    assert [email_retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert email_retry_delay(30) == timedelta(hours=6)


def test_after_the_last_attempt_it_waits_for_staff_who_can_send_it_again(refusing, settings, staff_client):
    notice = _old_notice()
    moment = timezone.now()
    for attempt in range(1, 4):
        moment += timedelta(hours=7)
        result = sweep_emails(now=moment)
        assert result.done == 0 and result.failed == 0, "a failing mail server is recorded, not raised"
        notice.refresh_from_db()
        assert notice.email_attempts == attempt
    moment += timedelta(days=1)
    assert not [d for d in emails_due(moment) if d.count()], "given up: no longer due"
    assert sweep_emails(now=moment).done == 0
    notice.refresh_from_db()
    assert notice.email_attempts == 3

    changelist = reverse("admin:notifications_notification_changelist")
    listed = staff_client.get(changelist, {"email": "given_up"})
    assert listed.status_code == 200 and notice.message in listed.content.decode()
    assert staff_client.get(changelist, {"email": "retrying"}).context["cl"].result_count == 0
    response = staff_client.post(
        changelist, {"action": "retry_email_now", "_selected_action": [notice.pk]}, follow=True
    )
    assert "1 e-mail(s) will be sent" in response.content.decode()
    notice.refresh_from_db()
    assert notice.email_attempts == 0 and notice.email_last_error == ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert sweep_emails(now=timezone.now() + timedelta(minutes=2)).done == 1
    assert len(mail.outbox) == 1
    # The change form stays read-only: the notice itself is the services' to write.
    form = staff_client.get(reverse("admin:notifications_notification_change", args=[notice.pk]))
    assert 'name="message"' not in form.content.decode()


def test_a_provider_api_through_django_anymail_sends_the_notices(settings):
    """The README's way to use a mail provider: EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    notice = _old_notice()
    assert notification_email_send(notification_id=notice.pk)
    sent = mail.outbox[0]
    assert sent.anymail_status.status == {"sent"}, "through Anymail, which reports the provider's status"
    assert sent.to == [notice.recipient.email] and notice.message in sent.body


def test_anymail_keys_come_from_the_environment(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DEBUG": "true", "DATA_DIR": str(tmp_path), "ANYMAIL_MAILGUN_API_KEY": "key-123"}
    env["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
    probe = "from django.conf import settings; print(settings.ANYMAIL)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
    )
    assert "{'MAILGUN_API_KEY': 'key-123'}" in result.stdout, result.stderr
