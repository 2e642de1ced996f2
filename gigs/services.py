"""Writes on gigs: publishing one."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from djmoney.money import Money

from accounts.models import User
from gigs.models import Gig
from marketplace.errors import InvalidInput
from marketplace.money import has_sub_minor_digits


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
