"""Amounts: the one place they are rounded and the one way they are written.

Fees are computed from these in ``payments.fees``."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from djmoney.money import Money
from moneyed import get_currency


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency: 0.01 for USD, 1 for JPY."""
    sub_unit = get_currency(currency).sub_unit or 1
    return Decimal(1) / Decimal(sub_unit)


def round_money(amount: Money) -> Money:
    """Round to the currency's minor unit, half up. Called once per fee, then stored."""
    currency = str(amount.currency)
    return Money(amount.amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP), currency)


def has_sub_minor_digits(amount: Money) -> bool:
    """True if the amount has more decimal places than the currency allows."""
    return round_money(amount).amount != amount.amount


def zero(currency: str) -> Money:
    return Money(Decimal("0.00"), currency)


def format_money(value: Money) -> str:
    """``1,234.50 USD``: thousands grouped, the currency's decimals, the code
    last. The one way amounts are written, in pages (the ``money`` filter),
    notifications, e-mails and the activity log."""
    code = str(value.currency)
    exponent = minor_unit(code).as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 2
    text = f"{abs(value.amount):,.{places}f}"
    if value.amount < 0:
        text = "−" + text
    return f"{text}\u00a0{code}"
