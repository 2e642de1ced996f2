"""The marketplace's fees, each rounded once (``round_money``) and then stored."""

from __future__ import annotations

from django.conf import settings
from djmoney.money import Money

from marketplace.money import round_money


def buyer_service_fee(amount: Money) -> Money:
    """Charged to the buyer on top of a milestone's amount at funding."""
    return round_money(amount * settings.BUYER_SERVICE_FEE_RATE)


def seller_commission(amount: Money) -> Money:
    """Taken from the seller's side of a milestone's amount at release."""
    return round_money(amount * settings.SELLER_COMMISSION_RATE)
