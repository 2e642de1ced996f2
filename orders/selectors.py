"""Reads of orders used by more than one view."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from orders.models import Order


def orders_visible_to(user) -> QuerySet[Order]:
    """Orders the user may see: their own as buyer or seller; all for staff."""
    if not user.is_authenticated:
        return Order.objects.none()
    if user.is_staff:
        return Order.objects.all()
    return Order.objects.filter(Q(buyer=user) | Q(seller=user))


def order_for_user(user, order_id: int) -> Order:
    """The one permission check for an order: party or staff, else 404.

    404, not 403: an outsider must not learn that the order exists.
    """
    try:
        return orders_visible_to(user).select_related("buyer", "seller", "gig").get(pk=order_id)
    except Order.DoesNotExist:
        raise Http404("No such order") from None
