"""Reads of the inbox: every conversation of a person, newest first, with
what is unread in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from inbox.models import Inquiry, InquiryMessage
from inbox.services import conversation_url
from notifications.models import NEW_MESSAGE, Notification
from orders.models import Order, OrderMessage
from orders.selectors import may_read_any_order, not_visible

# The inbox lists at most this many of each kind (orders, inquiries), newest first.
CONVERSATIONS_READ = 200


@dataclass(frozen=True)
class Conversation:
    kind: str  # "order" or "inquiry"
    title: str
    other: str  # the other party's username
    url: str
    last_at: datetime
    last_text: str
    unread: int


def _unread_by_url(user) -> dict[str, int]:
    rows = (
        Notification.objects.filter(recipient=user, event=NEW_MESSAGE, read_at__isnull=True)
        .values("url")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["url"]: row["n"] for row in rows}


def conversations_for(user, *, unread_only: bool = False) -> list[Conversation]:
    """The user's conversations: one per order they are in, and one per gig
    they asked about or were asked about, by their latest message. Three queries."""
    unread = _unread_by_url(user)
    last_order_message = OrderMessage.objects.filter(order=OuterRef("pk")).order_by("-created_at", "-id")
    orders = (
        Order.objects.filter(Q(buyer=user) | Q(seller=user))
        .select_related("buyer", "seller")
        .annotate(
            last_at=Coalesce(Max("messages__created_at"), "created_at"),
            last_text=Subquery(last_order_message.values("body")[:1]),
        )
        .order_by("-last_at", "-id")[:CONVERSATIONS_READ]
    )
    last_inquiry_message = InquiryMessage.objects.filter(inquiry=OuterRef("pk")).order_by("-created_at", "-id")
    inquiries = (
        # A conversation is listed from its first message (before "Contact seller" took the
        # first message, some were opened empty: they stay out of both parties' inboxes).
        Inquiry.objects.filter(Q(buyer=user) | Q(seller=user), last_message_at__isnull=False)
        .select_related("buyer", "seller", "gig")
        .annotate(last_text=Subquery(last_inquiry_message.values("body")[:1]))
        .order_by("-last_message_at", "-id")[:CONVERSATIONS_READ]
    )
    found = []
    for order in orders:
        url = conversation_url(order=order)
        found.append(
            Conversation(
                kind="order",
                title=order.title,
                other=(order.seller if order.buyer_id == user.pk else order.buyer).username,
                url=url,
                last_at=order.last_at,  # type: ignore[attr-defined]
                last_text=order.last_text or "",  # type: ignore[attr-defined]
                unread=unread.get(url, 0),
            )
        )
    for inquiry in inquiries:
        url = conversation_url(inquiry=inquiry)
        found.append(
            Conversation(
                kind="inquiry",
                title=_("About “{title}”").format(title=inquiry.gig.title),
                other=(inquiry.seller if inquiry.buyer_id == user.pk else inquiry.buyer).username,
                url=url,
                last_at=inquiry.last_message_at or inquiry.created_at,
                last_text=inquiry.last_text or "",  # type: ignore[attr-defined]
                unread=unread.get(url, 0),
            )
        )
    found.sort(key=lambda c: c.last_at, reverse=True)
    return [c for c in found if c.unread] if unread_only else found


def inquiry_for(user, pk: int) -> Inquiry:
    """An inquiry its buyer or seller may read; anyone else gets 404, as for an order."""
    inquiry = Inquiry.objects.select_related("gig", "buyer", "seller").filter(pk=pk).first()
    if inquiry is None or not (inquiry.is_party(user) or may_read_any_order(user)):
        raise not_visible(user, f"conversation {pk}")
    return inquiry
