"""Writes on accounts: signing up and changing one's profile."""

from __future__ import annotations

import zoneinfo

from django.db import transaction

from accounts.models import EmailPreference, User, WithdrawalMethod
from marketplace.errors import InvalidInput


def user_create(*, username: str, email: str, password: str, time_zone: str = "") -> User:
    """Sign up: one account both buys and sells. The form has validated the
    password against AUTH_PASSWORD_VALIDATORS; the unique username is the
    database's to enforce. ``time_zone``: the browser's guess, kept if it is
    a zone we know (else UTC; the profile changes it)."""
    zone = time_zone if is_time_zone(time_zone) else "UTC"
    with transaction.atomic():
        return User.objects.create_user(username=username, email=email.strip(), password=password, time_zone=zone)


def user_update_profile(
    *,
    user: User,
    email: str,
    bio: str,
    withdrawal_method: str,
    payout_account: str,
    refund_to: str | None = None,
    time_zone: str | None = None,
    email_notifications: str | None = None,
) -> User:
    """Change a user's profile, how they are paid, where their refunds go,
    their time zone and which notices they get by e-mail (the last three
    keep what is saved when not given).

    The new withdrawal method applies to earnings approved from now on: an
    earning already pending keeps the ``clears_at`` it was given.
    """
    if withdrawal_method not in WithdrawalMethod.values:
        raise InvalidInput("Choose a withdrawal method.", field="withdrawal_method")
    refund_to = refund_to or user.refund_to
    if refund_to not in ("balance", "card"):
        raise InvalidInput("Choose where refunds go.", field="refund_to")
    time_zone = time_zone or user.time_zone
    if not is_time_zone(time_zone):
        raise InvalidInput("Choose a time zone from the list.", field="time_zone")
    email_notifications = email_notifications or user.email_notifications
    if email_notifications not in EmailPreference.values:
        raise InvalidInput("Choose which notices to receive by e-mail.", field="email_notifications")
    with transaction.atomic():
        user.email = email.strip()
        user.bio = bio.strip()
        user.withdrawal_method = withdrawal_method
        user.payout_account = payout_account.strip()
        user.refund_to = refund_to
        user.time_zone = time_zone
        user.email_notifications = email_notifications
        user.save(
            update_fields=[
                "email",
                "bio",
                "withdrawal_method",
                "payout_account",
                "refund_to",
                "time_zone",
                "email_notifications",
            ]
        )
    return user


def is_time_zone(name: str) -> bool:
    return name in zoneinfo.available_timezones()
