"""Display helpers shared by every page: dates in words near their exact
value, and amounts that always carry their currency.

``{% load marketplace_tags %}`` then ``{{ milestone.deadline|when }}`` and
``{{ milestone.amount|money }}`` (or ``{{ decimal|money:"EUR" }}``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.html import format_html
from djmoney.money import Money

from marketplace.money import format_money

register = template.Library()

# Within this distance of now we say "just now" instead of "0 minutes ago".
_JUST_NOW = timedelta(seconds=45)


def _span_words(seconds: float) -> str:
    """A duration in the one unit a person would say, rounded to the nearest:
    '5 minutes', '3 hours', '14 days', '3 weeks', '4 months', '2 years'."""
    minutes = seconds / 60
    hours = minutes / 60
    days = hours / 24
    for value, unit in (
        (minutes, "minute") if minutes < 59.5 else (None, ""),
        (hours, "hour") if hours < 23.5 else (None, ""),
        (days, "day") if days < 20.5 else (None, ""),
        (days / 7, "week") if days < 59.5 else (None, ""),
        (days / 30.4, "month") if days < 364.5 else (None, ""),
        (days / 365.25, "year"),
    ):
        if value is not None:
            n = max(1, round(value))
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return ""  # pragma: no cover - the last row always answers


def _relative_words(value: datetime, now: datetime) -> str:
    delta = (value - now).total_seconds()
    if abs(delta) < _JUST_NOW.total_seconds():
        return "just now"
    if delta > 0:
        return f"in {_span_words(delta)}"
    return f"{_span_words(-delta)} ago"


def _exact(value: datetime, now: datetime) -> str:
    local = timezone.localtime(value)
    if local.year == timezone.localtime(now).year:
        return local.strftime("%-d %b %H:%M")
    return local.strftime("%-d %b %Y %H:%M")


@register.filter
def when(value: datetime | date | None) -> str:
    """``<time datetime="…">in 3 days · 4 Dec 17:00</time>``; empty for None."""
    if not value:
        return ""
    if not isinstance(value, datetime):
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), value.strftime("%-d %b %Y"))
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    now = timezone.now()
    return format_html(
        '<time datetime="{}" title="{}">{} · {}</time>',
        value.isoformat(),
        timezone.localtime(value).strftime("%A %-d %B %Y, %H:%M %Z"),
        _relative_words(value, now),
        _exact(value, now),
    )


@register.filter
def duration(value: timedelta | None) -> str:
    """A length of time in words: ``15 minutes``, ``3 days``."""
    if not value:
        return ""
    return _span_words(value.total_seconds())


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
    text = f"{abs(amount):,.2f}"
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
