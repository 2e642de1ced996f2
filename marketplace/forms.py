"""Form helpers every app shares: one mapping of a service's refusal to a
form error, forms that can be sent once, and the words for a period.

A service refuses with a ``DomainError`` naming the field it is about (or
none). ``add_domain_error`` is the one place that puts it next to that field;
``show_domain_error`` falls back to a message at the top of the page.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest
from django.utils.formats import get_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace.errors import DomainError
from marketplace.timewords import period_words


def add_domain_error(form: forms.BaseForm, error: DomainError, *, aliases: dict[str, str] | None = None) -> bool:
    """Put a service's message next to its field. False if the form has no such field.

    ``aliases`` maps a service's field name to the form's, where they differ
    (the service's ``files`` is the form's ``attachment``).
    """
    field = (aliases or {}).get(error.field or "", error.field)
    if field and field in form.fields:
        form.add_error(field, error.message)
        return True
    return False


def show_domain_error(
    request: HttpRequest, form: forms.BaseForm, error: DomainError, *, aliases: dict[str, str] | None = None
) -> None:
    """Put the service's refusal next to its field, or at the top of the page."""
    if not add_domain_error(form, error, aliases=aliases):
        messages.error(request, error.message)


class OneUseForm(forms.Form):
    """A form whose service has no state to refuse a repeat (messages, dispute
    statements) carries a key made when the form is rendered; the service
    stores it under a unique index, so the same form sent twice (double click,
    back button, two tabs, two web processes) adds one row. The key is passed
    to the service as ``idempotency_key``."""

    token = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("token", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)


def describe_period(period: timedelta) -> str:
    """'available at once', 'cleared after 3 days', 'cleared after 14 days'."""
    if period <= timedelta(0):
        return _("available at once")
    return _("cleared after {period}").format(period=period_words(period))


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in settings.MARKETPLACE_CURRENCIES]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that cleans to a list of uploads (none, one or several);
    each is checked by the service that stores it (``marketplace.uploads``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class AmountField(forms.DecimalField):
    """An amount of money typed in a form, worded the same on every form: a number with at most
    two decimal places; the currency and the limits are the form's to state in its help text.

    Typed as the reader writes numbers (``localize``: "12,50" in German and Spanish, "12.50" in
    English; a point is still read as decimals there), thousands grouped or not ("1.234,50",
    "1,234.50"): a text box with the decimal keypad, since a number box refuses a comma."""

    default_error_messages = {
        "invalid": gettext_lazy("Enter the amount as a number, e.g. 20 or 19.99."),
        "max_decimal_places": gettext_lazy("Use at most two decimal places."),
        "max_digits": gettext_lazy("That amount is too large."),
        "max_whole_digits": gettext_lazy("That amount is too large."),
        "min_value": gettext_lazy("The amount cannot be negative."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("localize", True)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # as DecimalField's
        if isinstance(value, str) and self.localize:
            value = _without_grouping(value.strip())
        return super().to_python(value)


def _without_grouping(value: str) -> str:
    """The thousands separators of the active language taken out of a number written with them
    in groups of three ("1.234,50" in de, "1,234.50" in English); anything else as it is, for
    the field to read or refuse (Django strips them only under ``USE_THOUSAND_SEPARATOR``)."""
    thousands, decimals = get_format("THOUSAND_SEPARATOR"), get_format("DECIMAL_SEPARATOR")
    whole = value.partition(decimals)[0]
    groups = whole.lstrip("-").split(thousands)
    if (
        len(groups) > 1
        and 1 <= len(groups[0]) <= 3
        and all(len(group) == 3 for group in groups[1:])
        and all(group.isdigit() for group in groups)
    ):
        return value.replace(thousands, "", len(groups) - 1)
    return value
