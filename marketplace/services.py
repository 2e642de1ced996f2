"""Writes that belong to the marketplace itself: accounts, gigs, notifications."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from djmoney.money import Money

from marketplace.errors import InvalidInput
from marketplace.models import Gig, Notification, User, WithdrawalMethod
from marketplace.queue import enqueue_on_commit
from payments.money import has_sub_minor_digits


def user_create(*, username: str, email: str, password: str) -> User:
    """Sign up: one account both buys and sells. The form has validated the
    password against AUTH_PASSWORD_VALIDATORS; the unique username is the
    database's to enforce."""
    with transaction.atomic():
        return User.objects.create_user(username=username, email=email.strip(), password=password)


def user_update_profile(*, user: User, email: str, bio: str, withdrawal_method: str, payout_account: str) -> User:
    """Change a user's profile and how they are paid.

    The new withdrawal method applies to earnings approved from now on: an
    earning already pending keeps the ``clears_at`` it was given.
    """
    if withdrawal_method not in WithdrawalMethod.values:
        raise InvalidInput("Choose a withdrawal method.", field="withdrawal_method")
    with transaction.atomic():
        user.email = email.strip()
        user.bio = bio.strip()
        user.withdrawal_method = withdrawal_method
        user.payout_account = payout_account.strip()
        user.save(update_fields=["email", "bio", "withdrawal_method", "payout_account"])
    return user


def notification_send(*, recipient: User, event: str, message: str, url: str = "") -> Notification:
    """Record an in-app notice; its e-mail copy goes out after commit.

    If the broker is down the e-mail waits in the database (``emailed_at`` is
    empty) and the notifications sweep sends it later.
    """
    from marketplace.tasks import send_notification_email

    notification = Notification.objects.create(recipient=recipient, event=event, message=message[:300], url=url)
    enqueue_on_commit(send_notification_email, notification.pk)
    return notification


def notifications_send_many(notices: list[dict]) -> list[Notification]:
    """``notification_send`` for many at once: one INSERT, e-mails after commit."""
    from marketplace.tasks import send_notification_email

    created = Notification.objects.bulk_create(
        Notification(recipient=n["recipient"], event=n["event"], message=n["message"][:300], url=n.get("url", ""))
        for n in notices
    )
    for notification in created:
        enqueue_on_commit(send_notification_email, notification.pk)
    return created


def notifications_mark_read(*, user: User) -> int:
    from django.utils import timezone

    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def gig_create(*, seller: User, title: str, description: str, starting_price: Money, delivery_days: int) -> Gig:
    title = (title or "").strip()
    description = (description or "").strip()
    if not title:
        raise InvalidInput("Give your gig a title.", field="title")
    if len(title) > 120:
        raise InvalidInput("Keep the title to 120 characters or fewer.", field="title")
    if not description:
        raise InvalidInput("Describe what the buyer gets.", field="description")
    if str(starting_price.currency) not in settings.MARKETPLACE_CURRENCIES:
        raise InvalidInput(f"{starting_price.currency} is not a currency of this marketplace.", field="starting_price")
    if starting_price.amount < Decimal(settings.MILESTONE_MIN_AMOUNT) or has_sub_minor_digits(starting_price):
        raise InvalidInput(
            f"The starting price must be at least {settings.MILESTONE_MIN_AMOUNT} with at most two decimals.",
            field="starting_price",
        )
    if not 1 <= delivery_days <= 365:
        raise InvalidInput("Delivery takes between 1 and 365 days.", field="delivery_days")
    with transaction.atomic():
        return Gig.objects.create(
            seller=seller,
            title=title,
            description=description,
            starting_price=starting_price,
            delivery_days=delivery_days,
        )
