"""Template filters of the payment pages."""

from __future__ import annotations

from django import template

from accounts.models import WithdrawalMethod
from payments.models import Transaction
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
