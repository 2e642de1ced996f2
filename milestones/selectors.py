"""Reads about milestones: those more than one view or template uses, and
the query conditions the services and the sweeps share (what is late, what
completes by itself), so a sweep selects exactly what its service accepts.

Which buttons a viewer sees is decided beside the action table
(``milestones.actions.milestone_actions``).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet

from accounts.models import User
from milestones.models import DEADLINE_STATES, IN_WORK_STATES, OPEN_STATES, UNPAID_STATES, Milestone, MilestoneState
from orders.models import BUYER, SELLER, Order, OrderStatus

S = MilestoneState


def buyers_in_touch(seller) -> list:
    """The buyers a seller may send a custom offer: those who have opened an
    order with them, or asked them about a gig ("Contact seller")."""
    return list(
        User.objects.filter(Q(orders_as_buyer__seller=seller) | Q(inquiries_sent__seller=seller), is_active=True)
        .distinct()
        .order_by("username")
    )


def closed_party(order: Order):
    """The party of the order whose account was closed (deleted, or deactivated by staff), or
    None. With a closed party nothing new may start on the order: no milestone, offer, tip,
    changes or extension; the other party may only end what is left."""
    for party in (order.seller, order.buyer):
        if not party.is_active:
            return party
    return None


def can_create_milestone(order: Order, user) -> bool:
    return (
        user.is_authenticated
        and order.role_of(user) == BUYER
        and order.status != OrderStatus.COMPLETED
        and closed_party(order) is None
    )


def can_offer_milestone(order: Order, user) -> bool:
    return (
        user.is_authenticated
        and order.role_of(user) == SELLER
        and order.status != OrderStatus.COMPLETED
        and closed_party(order) is None
    )


def order_actions(order: Order, user, *, has_open_milestone: bool) -> list[str]:
    """Order-level actions: adding a milestone (the buyer) or offering one (the
    seller), and closing the order."""
    if can_offer_milestone(order, user):
        return ["propose_milestone"]
    if closed_party(order) is not None:
        # Only what ends the order: completing it (its milestones end on their own cards).
        closable = user.is_authenticated and order.role_of(user) == BUYER and order.status != OrderStatus.COMPLETED
        return ["complete"] if closable and not has_open_milestone else []
    if not can_create_milestone(order, user):
        return []
    actions = ["create_milestone"]
    if not has_open_milestone:
        actions.append("complete")
    return actions


def has_open_milestone(order: Order) -> bool:
    return Milestone.objects.filter(order=order).open().exists()


def waits_for_earlier(milestone: Milestone) -> bool:
    """Whether it must queue: an earlier milestone is still open, or another
    is in work already (a later one may have started while an earlier offer
    waited unpaid). One milestone of an order is in work at a time."""
    return (
        Milestone.objects.filter(order_id=milestone.order_id)
        .exclude(pk=milestone.pk)
        .filter(Q(position__lt=milestone.position, state__in=OPEN_STATES) | Q(state__in=IN_WORK_STATES))
        .exists()
    )


def next_position(order: Order) -> int:
    return (Milestone.objects.filter(order=order).aggregate(m=Max("position"))["m"] or 0) + 1


def late_condition(now: datetime) -> Q:
    # Past the deadline with the work still owed, and not delivered on time
    # before (a revision requested after an on-time delivery is not late).
    return Q(state__in=DEADLINE_STATES, deadline__lte=now, late_flagged_at__isnull=True) & (
        Q(submitted_at__isnull=True) | Q(submitted_at__gt=F("deadline"))
    )


def order_auto_complete_condition(now: datetime) -> Q:
    """Orders due to complete by themselves: not complete, one milestone
    approved, none open, offered or unpaid, and the last one closed at least
    ``ORDER_AUTO_COMPLETE`` ago (on a queryset annotated with ``last_closed``)."""
    waiting = Milestone.objects.filter(order=OuterRef("pk"), state__in=OPEN_STATES | UNPAID_STATES)
    approved = Milestone.objects.filter(order=OuterRef("pk"), state=S.APPROVED)
    return (
        ~Q(status=OrderStatus.COMPLETED)
        & Q(Exists(approved))
        & ~Q(Exists(waiting))
        & Q(last_closed__lte=now - settings.ORDER_AUTO_COMPLETE)
    )


def orders_due_to_complete(now: datetime) -> QuerySet[Order]:
    return Order.objects.annotate(last_closed=Max("milestones__closed_at")).filter(order_auto_complete_condition(now))
