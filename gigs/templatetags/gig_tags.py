"""Template helpers of the gig pages."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def package_order_url(gig_id: int, position: int) -> str:
    """Where "Order <package name>" leads (``package_order``, the ordering pages), or "" while
    that page is not part of the site: the button is then left out rather than broken."""
    try:
        return reverse("package_order", args=[gig_id, position])
    except NoReverseMatch:
        return ""
