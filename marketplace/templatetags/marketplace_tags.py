"""Display helpers shared by every page: dates in words near their exact
value, and amounts that always carry their currency.

``{% load marketplace_tags %}`` then ``{{ milestone.deadline|when }}`` and
``{{ milestone.amount|money }}`` (or ``{{ decimal|money:"EUR" }}``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import dateformat, timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from djmoney.money import Money

from marketplace.money import format_money
from marketplace.timewords import iso_time as _iso_time
from marketplace.timewords import relative_words, span_words

register = template.Library()


def _exact(value: datetime, now: datetime) -> str:
    local = timezone.localtime(value)
    if local.year == timezone.localtime(now).year:
        return date_format(local, "SHORT_DATETIME_FORMAT")
    return date_format(local, "DATETIME_FORMAT")


def _full(value: datetime) -> str:
    """``Tuesday, 8 Dec 2026 14:30 CET``, as the reader's language writes it."""
    local = timezone.localtime(value)
    return f"{dateformat.format(local, 'l')}, {date_format(local, 'DATETIME_FORMAT')} {local.strftime('%Z')}"


@register.filter
def datetime_tz(value: datetime | None) -> str:
    """``8 Dec 2026 14:30 CET`` (``8. Dez. 2026, 14:30 MEZ``…): the date and time in the reader's
    zone and language, with the zone's abbreviation."""
    if not value:
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    local = timezone.localtime(value)
    return f"{date_format(local, 'DATETIME_FORMAT')} {dateformat.format(local, 'T')}"


@register.filter
def when(value: datetime | date | None) -> str:
    """``<time datetime="…">in 3 days · 4 Dec 17:00</time>``; empty for None."""
    if not value:
        return ""
    if not isinstance(value, datetime):
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), date_format(value, "DATE_FORMAT"))
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    now = timezone.now()
    return format_html(
        '<time datetime="{}" title="{}">{} · {}</time>',
        _iso_time(value),
        _full(value),
        relative_words(value, now),
        _exact(value, now),
    )


@register.filter
def iso_time(value: datetime | None) -> str:
    """For ``<time datetime="…">``: whole seconds, UTC."""
    if not value:
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return _iso_time(value)


@register.filter
def duration(value: timedelta | None) -> str:
    """A length of time in words: ``15 minutes``, ``3 days``."""
    if not value:
        return ""
    return span_words(value.total_seconds())


@register.filter
def money(value: Money | Decimal | int | str | None, currency: str = "") -> str:
    """``1,234.50 USD``: thousands grouped, two decimals, the currency code last.

    Plain text (no markup), so it is safe in attributes and messages too; put
    ``class="amount"`` on the element that holds it for tabular figures.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, Money):
        return format_money(value)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if currency:
        return format_money(Money(amount, currency))
    text = number_format(abs(amount), 2, use_l10n=True, force_grouping=True)
    return "−" + text if amount < 0 else text


@register.filter
def state_badge(state: str, label: str = "") -> str:
    """``<span class="badge badge-in_review">In review</span>``."""
    return format_html('<span class="badge badge-{}">{}</span>', state, label or state.replace("_", " ").capitalize())


@register.filter
def described_widget(field) -> str:
    """The field's input, pointing (``aria-describedby``) at its help text and
    errors, so a screen reader reads them with the field. ``aria-invalid`` is
    set by Django on fields with errors."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if field.errors:
        ids.append(f"{field.auto_id}_error")
    attrs = {"aria-describedby": " ".join(ids)} if ids else None
    return field.as_widget(attrs=attrs)


@register.filter
def local_url(value: str) -> str:
    """The URL if it points into this site (``/...``), else empty: no ``javascript:``."""
    value = (value or "").strip()
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return ""


@register.simple_tag(takes_context=True)
def query_page(context, page: int, param: str = "page") -> str:
    """The current query string with ``param`` (``page``) set to ``page``, for
    pagination links that keep the other lists' pages."""
    params = context["request"].GET.copy()
    params[param] = page
    return "?" + params.urlencode()
