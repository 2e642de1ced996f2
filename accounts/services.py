"""Writes on accounts: signing up and changing one's profile."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User, WithdrawalMethod
from marketplace.errors import InvalidInput


def user_create(*, username: str, email: str, password: str) -> User:
    """Sign up: one account both buys and sells. The form has validated the
    password against AUTH_PASSWORD_VALIDATORS; the unique username is the
    database's to enforce."""
    with transaction.atomic():
        return User.objects.create_user(username=username, email=email.strip(), password=password)


def user_update_profile(
    *, user: User, email: str, bio: str, withdrawal_method: str, payout_account: str, refund_to: str | None = None
) -> User:
    """Change a user's profile, how they are paid, and where their refunds go.

    The new withdrawal method applies to earnings approved from now on: an
    earning already pending keeps the ``clears_at`` it was given.
    """
    if withdrawal_method not in WithdrawalMethod.values:
        raise InvalidInput("Choose a withdrawal method.", field="withdrawal_method")
    refund_to = refund_to or user.refund_to
    if refund_to not in ("balance", "card"):
        raise InvalidInput("Choose where refunds go.", field="refund_to")
    with transaction.atomic():
        user.email = email.strip()
        user.bio = bio.strip()
        user.withdrawal_method = withdrawal_method
        user.payout_account = payout_account.strip()
        user.refund_to = refund_to
        user.save(update_fields=["email", "bio", "withdrawal_method", "payout_account", "refund_to"])
    return user
