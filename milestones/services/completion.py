"""The order as a whole: the buyer completes it once it has a milestone and none
is open or waiting for payment, or it completes by itself ``ORDER_AUTO_COMPLETE`` after
its last milestone closed (the ``orders`` sweep). None can be added after."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from marketplace.errors import InvalidTransition, NotAllowed
from marketplace.timewords import period_words
from milestones.models import UNPAID_STATES, Milestone, MilestoneState
from milestones.selectors import has_open_milestone, orders_due_to_complete
from notifications.services import notification_send
from orders.models import Order, OrderStatus, lock_order
from orders.services import activity_record

S = MilestoneState

# A period in words made when a lazy notice is made, in its recipient's language.
lazy_period_words = lazy(period_words, str)


def _completion_blocker(order: Order) -> str:
    """Why the order cannot complete now, or "" if it can. Caller holds the order lock."""
    if not Milestone.objects.filter(order=order).exists():
        return _("Add a milestone before completing the order: it has none, so there is nothing to complete.")
    if has_open_milestone(order):
        return _("Close every open milestone before completing the order.")
    unpaid = set(Milestone.objects.filter(order=order, state__in=UNPAID_STATES).values_list("state", flat=True))
    if S.OFFERED in unpaid:
        return _("The seller's offer is waiting for your answer; accept and pay it, or decline it, first.")
    if unpaid:
        return _("A milestone is waiting for payment; pay or cancel it before completing the order.")
    return ""


def order_complete(*, order: Order, actor: User) -> Order:
    """The buyer closes the order; it needs one milestone at least, none may be open, none can be
    added after."""
    with transaction.atomic():
        order = lock_order(order.pk)
        if actor is None or actor.pk != order.buyer_id:
            raise NotAllowed(_("Only the buyer can mark the order complete."))
        if order.status == OrderStatus.COMPLETED:
            raise InvalidTransition(_("This order is already complete."))
        blocker = _completion_blocker(order)
        if blocker:
            raise InvalidTransition(blocker)
        _complete(order, actor=actor)
        notification_send(
            recipient=order.seller,
            event="order_completed",
            message=format_lazy(
                gettext_lazy("{user} marked “{title}” complete."), user=actor.username, title=order.title
            ),
            url=order.get_absolute_url(),
        )
    return order


def _complete(order: Order, *, actor: User | None, note: str = "") -> None:
    order.status = OrderStatus.COMPLETED
    order.completed_at = timezone.now()
    order.save(update_fields=["status", "completed_at", "updated_at"])
    activity_record(order=order, actor=actor, verb="order_completed", note=note)


def order_complete_if_done(*, order: Order, actor: User | None, note: str) -> bool:
    """Complete the order if it may be (a milestone, none open or unpaid): what "Stop the order
    here" ends with, the buyer's or the continue timer's (``actor=None``). Caller holds the order
    lock and tells the parties. Returns whether it completed."""
    if order.status == OrderStatus.COMPLETED or _completion_blocker(order):
        return False
    _complete(order, actor=actor, note=note)
    return True


def order_auto_complete(*, order_id: int, now: datetime | None = None) -> bool:
    """The buyer did not mark it complete: ``ORDER_AUTO_COMPLETE`` after the
    last milestone closed (one approved, nothing open or proposed) it
    completes by itself; both parties are told. Once."""
    now = now or timezone.now()
    with transaction.atomic():
        order = lock_order(order_id)
        if not orders_due_to_complete(now).filter(pk=order.pk).exists():
            return False
        order.status = OrderStatus.COMPLETED
        order.completed_at = now
        order.completed_automatically = True
        order.save(update_fields=["status", "completed_at", "completed_automatically", "updated_at"])
        activity_record(
            order=order,
            actor=None,
            verb="order_auto_completed",
            note=_("Every milestone had been closed for {period}.").format(
                period=period_words(settings.ORDER_AUTO_COMPLETE)
            ),
        )
        for recipient in (order.buyer, order.seller):
            notification_send(
                recipient=recipient,
                event="order_completed",
                message=format_lazy(
                    gettext_lazy("“{title}” is complete: its last milestone closed {period} ago."),
                    title=order.title,
                    period=lazy_period_words(settings.ORDER_AUTO_COMPLETE),
                ),
                url=order.get_absolute_url(),
            )
    return True
