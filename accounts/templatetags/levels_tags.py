"""Template filters of seller levels and response times (the profile, gig cards and pages, the
earnings page, and the proposals that will show them)."""

from __future__ import annotations

from django import template

from accounts.levels import SellerLevel
from marketplace.timewords import response_time_words

register = template.Library()


@register.filter
def seller_level_label(value: str | None) -> str:
    """``top_rated`` → "Top rated"; empty or unknown → "New seller"."""
    try:
        return str(SellerLevel(value or SellerLevel.NEW).label)
    except ValueError:
        return str(SellerLevel.NEW.label)


@register.filter
def response_time(seconds: int | None) -> str:
    """An average response time in words: "within an hour", "about 2 hours", "about 1 day"; "—"
    with nothing to count."""
    return "—" if seconds is None else response_time_words(seconds)
