"""Template filters of the payment pages."""

from __future__ import annotations

from django import template

from accounts.models import WithdrawalMethod

register = template.Library()


@register.filter
def method_label(value: str) -> str:
    """The label of a withdrawal method value: ``paypal`` → ``PayPal``."""
    try:
        return str(WithdrawalMethod(value).label)
    except ValueError:
        return value
