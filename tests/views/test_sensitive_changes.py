"""Changing where the money goes, the e-mail or the password asks for the password again, is written to
the security log (read-only in the admin) and, for the payout details, e-mailed to the seller."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import SecurityEvent, SecurityEventKind
from notifications.models import OutgoingEmail
from tests.factories import StaffFactory, UserFactory, staff_login
from tests.mail import deliver_queued_mail

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def _profile(**changes) -> dict:
    # The profile shows the payout account as it is kept (UserFactory's GB33BUKB20201555555555, masked).
    return {"bio": "", "withdrawal_method": "bank_transfer", "payout_account": "•••• 5555", **changes}


def test_a_new_payout_account_needs_the_password_and_changes_nothing_without_it(client):
    seller = UserFactory(username="sam")
    client.force_login(seller)
    for password, error in (("", "Enter your current password"), ("guess", "That is not your current password")):
        response = client.post(
            reverse("profile"), _profile(payout_account="GB82WEST12345698765432", current_password=password)
        )
        assert response.status_code == 200 and error in response.content.decode()
    seller.refresh_from_db()
    assert (seller.payout_account, seller.payout_token) == ("•••• 5555", "pdt_sandbox_factory")
    assert not SecurityEvent.objects.exists() and not mail.outbox


def test_the_rest_of_the_profile_saves_without_the_password(client):
    seller = UserFactory(username="sam")
    client.force_login(seller)
    assert client.post(reverse("profile"), _profile(bio="Hello")).status_code == 302
    seller.refresh_from_db()
    assert seller.bio == "Hello" and not SecurityEvent.objects.exists()


def test_a_payout_change_is_logged_masked_and_emailed_whatever_the_preference(client):
    from notifications.models import Notification
    from notifications.services import notification_email_send

    seller = UserFactory(username="sam", email_notifications="none")
    client.force_login(seller)
    response = client.post(
        reverse("profile"),
        _profile(withdrawal_method="paypal", payout_account="sam@paypal.example", current_password=PASSWORD),
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 302
    notice = Notification.objects.get(recipient=seller, event="payout_changed")
    assert notification_email_send(notification_id=notice.pk)  # what the e-mail task does after the commit
    event = SecurityEvent.objects.get(user=seller)
    assert event.kind == SecurityEventKind.PAYOUT_CHANGED and event.ip == "198.51.100.7"
    assert event.detail == "Bank transfer •••• 5555 → PayPal sam@paypal.example"
    assert "GB33BUKB" not in event.detail, "never the whole account"
    deliver_queued_mail()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [seller.email]
    assert "Your payout details were changed" in mail.outbox[0].body and "If it was not you" in mail.outbox[0].body


def test_password_and_email_changes_are_logged(client):
    user = UserFactory(username="pat")
    client.force_login(user)
    changed = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "a-new-long-passphrase-9", "password2": "a-new-long-passphrase-9"},
    )
    assert changed.status_code == 302
    client.post(reverse("account_reauthenticate"), {"password": "a-new-long-passphrase-9"})
    client.post(reverse("account_email"), {"email": "pat@new.example", "action_add": ""})
    kinds = list(SecurityEvent.objects.filter(user=user).order_by("id").values_list("kind", flat=True))
    assert kinds == [SecurityEventKind.PASSWORD_CHANGED, SecurityEventKind.EMAIL_ADDED]


def test_the_security_log_is_read_only_in_the_admin(client):
    user = UserFactory(username="pat")
    event = SecurityEvent.objects.create(user=user, kind=SecurityEventKind.PASSWORD_RESET, ip="203.0.113.1")
    staff_login(client, StaffFactory())
    listing = client.get(reverse("admin:accounts_securityevent_changelist"))
    assert listing.status_code == 200 and "Password reset by e-mail" in listing.content.decode()
    assert client.get(reverse("admin:accounts_securityevent_add")).status_code == 403
    assert client.post(reverse("admin:accounts_securityevent_delete", args=[event.pk])).status_code == 403


def test_a_mail_server_down_does_not_undo_or_break_a_password_change(client, settings, caplog):
    """The request only queues the "your password was changed" e-mail; the worker's try fails and
    is recorded, to be tried again."""
    settings.EMAIL_BACKEND = "tests.admin.test_email_retry.RefusingBackend"
    user = UserFactory(username="pat")
    client.force_login(user)
    changed = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "a-new-long-passphrase-9", "password2": "a-new-long-passphrase-9"},
    )
    assert changed.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase-9")
    assert SecurityEvent.objects.filter(user=user, kind=SecurityEventKind.PASSWORD_CHANGED).exists()
    assert deliver_queued_mail() == 0
    queued = OutgoingEmail.objects.get(to=user.email)
    assert queued.sent_at is None and queued.attempts == 1 and queued.retry_at is not None
    assert "failed (attempt 1)" in caplog.text
