"""Template filters of the payment pages."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import WithdrawalMethod
from marketplace.timewords import period_words
from payments.models import Earning, Transaction
from payments.receipts import transaction_label

register = template.Library()


@register.filter
def method_label(value: str) -> str:
    """The label of a withdrawal method value: ``paypal`` → ``PayPal``."""
    try:
        return str(WithdrawalMethod(value).label)
    except ValueError:
        return value


@register.filter
def transaction_what(txn: Transaction) -> str:
    """A ledger row's "What": the act that settled a milestone ("Cancellation by agreement",
    "Dispute split"), else the kind's label (``payments.receipts.transaction_label``)."""
    return transaction_label(txn)


@register.filter
def clearance_reason(earning: Earning) -> str:
    """Why a pending earning clears when it does: "Released on 3 Dec under Bank transfer, 14 days:
    available 17 Dec" (the method it was released under fixed the date); "Released on 3 Dec with
    14 days' clearance: …" for one from before the method was kept that matched none."""
    words = {
        "released": _day(earning.created_at),
        "period": period_words(earning.clearance_period),
        "available": _day(earning.clears_at),
    }
    if earning.method:
        return _("Released on {released} under {method}, {period}: available {available}").format(
            method=earning.get_method_display(), **words
        )
    return _("Released on {released} with {period} of clearance: available {available}").format(**words)


@register.filter
def clearance_level(earning: Earning) -> str:
    """The seller's level an earning was released at, with its wait: "clears in 7 days: Top rated"
    (the shorter of the level's and the method's period, ``accounts.levels.clearance_for``); empty
    for one released before levels were kept."""
    if not earning.level:
        return ""
    return _("clears in {period}: {level}").format(
        period=period_words(earning.clearance_period), level=earning.get_level_display()
    )


def _day(value: datetime) -> str:
    """'3 Dec' in the viewer's time zone; with the year when it is not this year's."""
    local = timezone.localtime(value)
    if local.year != timezone.localtime().year:
        return date_format(local, "DATE_FORMAT")
    return date_format(local, "MONTH_DAY_FORMAT")
