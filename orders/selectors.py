"""Reads of orders used by more than one view."""

from __future__ import annotations

import logging

from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.two_factor import SecondFactorRequired, passed_two_factor
from orders.models import Activity, Order, OrderMessage
from orders.services import staff_file_read_record

logger = logging.getLogger(__name__)

# The staff-read log's kind for a read refused because the session had not passed two-factor.
REFUSED = "refused: no two-factor"

SUPPORT_READ = "orders.support_read"


def has_support_permission(user) -> bool:
    """The staff flag and the support permission (the "Support" group, or a superuser)."""
    return bool(user.is_authenticated and user.is_staff and user.has_perm(SUPPORT_READ))


def may_read_any_order(user) -> bool:
    """Support staff, in a session that passed two-factor (``accounts.two_factor``): the staff flag
    alone only opens the admin, and the permission with a password alone opens nothing."""
    return has_support_permission(user) and passed_two_factor()


def not_visible(user, what: str) -> Exception:
    """What to raise when ``user`` may not read ``what``: 404 (an outsider must not learn that it
    exists), but support staff whose session has not passed two-factor are told how to pass it,
    and the attempt goes to the staff-read log."""
    if has_support_permission(user) and not passed_two_factor():
        staff_file_read_record(reader=user, kind=REFUSED, file_name=what)
        logger.warning("staff read refused without two-factor", extra={"reader": user.pk, "what": what})
        return SecondFactorRequired(_("Two-factor authentication is needed to read other members' orders."))
    return Http404(f"No such {what.split(' ')[0]}")


def orders_visible_to(user) -> QuerySet[Order]:
    """Orders the user may see: their own as buyer or seller; all for support staff."""
    if not user.is_authenticated:
        return Order.objects.none()
    if may_read_any_order(user):
        return Order.objects.all()
    return Order.objects.filter(Q(buyer=user) | Q(seller=user))


def version_columns() -> dict[str, RawSQL]:
    """How many activities and messages an order has, as annotations. Every change a party makes to
    an order logs one of the two in the same transaction, and neither is ever deleted, so together
    they name what the order page shows: the live page's ETag and the key of the page's cached parts.

    Counts, not the latest ids: two transactions may commit in the other order than they took their
    ids, and the latest id would then miss the one committed second. Each count is an index-only
    scan of the order's rows (``order_id``'s index). Written as SQL: a Subquery's queryset cost more
    to build than the count costs to run."""
    order = Order._meta.db_table
    return {
        name: RawSQL(f"SELECT count(*) FROM {model._meta.db_table} WHERE order_id = {order}.id", ())  # noqa: S608, S611 - table names are ours
        for name, model in (("activity_count", Activity), ("message_count", OrderMessage))
    }


def order_version(order: Order) -> tuple[int, int]:
    """``version_columns`` of an order read by ``order_for_page``."""
    return (order.activity_count, order.message_count)  # type: ignore[attr-defined]


def order_for_user(user, order_id: int) -> Order:
    """The one permission check for an order: party or staff, else 404.

    404, not 403: an outsider must not learn that the order exists.
    """
    try:
        return orders_visible_to(user).select_related("buyer", "seller", "gig").get(pk=order_id)
    except Order.DoesNotExist:
        raise not_visible(user, f"order {order_id}") from None


def order_for_page(user, order_id: int) -> Order:
    """``order_for_user`` for the order page: the order's own row and its ``version_columns``, in one
    query. The parties are read with the page's parts, only when those are not cached."""
    try:
        return orders_visible_to(user).annotate(**version_columns()).get(pk=order_id)
    except Order.DoesNotExist:
        raise not_visible(user, f"order {order_id}") from None
