"""Reads of orders used by more than one view."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from orders.models import Order

SUPPORT_READ = "orders.support_read"


def may_read_any_order(user) -> bool:
    """Support staff: the staff flag and the support permission (the "Support"
    group, or a superuser); the flag alone only opens the admin."""
    return bool(user.is_authenticated and user.is_staff and user.has_perm(SUPPORT_READ))


def orders_visible_to(user) -> QuerySet[Order]:
    """Orders the user may see: their own as buyer or seller; all for support staff."""
    if not user.is_authenticated:
        return Order.objects.none()
    if may_read_any_order(user):
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
