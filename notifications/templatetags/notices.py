"""``{% load notices %}`` then ``{{ n.message|notice_text }}``: a notice's words with its times
in the reader's zone (the active one: ``accounts.middleware`` activates ``User.time_zone``)."""

from __future__ import annotations

from django import template

from notifications.times import notice_text as _notice_text

register = template.Library()


@register.filter
def notice_text(message: str) -> str:
    """Plain text; the template escapes it as it escaped the message."""
    return _notice_text(message or "")
