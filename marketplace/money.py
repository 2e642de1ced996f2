"""Amounts: the one place they are rounded and the one way they are written.

Fees are computed from these in ``payments.fees``."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency
from django.utils import translation
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


def format_money(value: Money, language: str | None = None) -> str:
    """An amount as the reader's language writes it: ``1,234.50 USD`` in English (thousands grouped,
    the currency's decimals, the code last: unambiguous between dollars), ``1.234,50 $`` in German,
    ``1234,50 US$`` in Spanish (Babel's CLDR patterns). The one way amounts are written, in pages
    (the ``money`` filter), notifications, e-mails and the activity log; ``language`` defaults to
    the active one (a recipient's, for what is sent to them)."""
    code = str(value.currency)
    language = language or translation.get_language() or "en"
    if not language.startswith("en"):
        text = format_currency(abs(value.amount), code, locale=translation.to_locale(language))
        return "−" + text if value.amount < 0 else text
    exponent = minor_unit(code).as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 2
    text = f"{abs(value.amount):,.{places}f}"
    if value.amount < 0:
        text = "−" + text
    return f"{text}\u00a0{code}"


class Amount:
    """An amount for words made later in another reader's language (a notice, an e-mail):
    ``format_lazy(gettext_lazy("{amount} was released to you."), amount=Amount(money))`` writes it
    as the recipient's language does when the words are made (``format_money``)."""

    __slots__ = ("money",)

    def __init__(self, money: Money) -> None:
        self.money = money

    def __str__(self) -> str:
        return format_money(self.money)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)
