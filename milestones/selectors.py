"""Reads about milestones: those more than one view or template uses, and
the query conditions the services and the sweeps share (what is late, what
completes by itself), so a sweep selects exactly what its service accepts.

Which buttons a viewer sees is decided beside the action table
(``milestones.actions.milestone_actions``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, Max, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy, pgettext_lazy

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


def order_actions(order: Order, user, *, has_open_milestone: bool, has_milestone: bool) -> list[str]:
    """Order-level actions: adding a milestone (the buyer) or offering one (the
    seller), and closing the order: never one without a milestone, which there is
    nothing to complete (``order_complete`` refuses it)."""
    if can_offer_milestone(order, user):
        return ["propose_milestone"]
    completable = has_milestone and not has_open_milestone
    if closed_party(order) is not None:
        # Only what ends the order: completing it (its milestones end on their own cards).
        closable = user.is_authenticated and order.role_of(user) == BUYER and order.status != OrderStatus.COMPLETED
        return ["complete"] if closable and completable else []
    if not can_create_milestone(order, user):
        return []
    actions = ["create_milestone"]
    if completable:
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


def order_continue_condition() -> Q:
    """Orders waiting for the buyer to continue an ordered package: not complete, a planned step,
    nothing open or waiting for payment (on a queryset annotated with ``last_closed``)."""
    planned = Milestone.objects.filter(order=OuterRef("pk"), state=S.PLANNED)
    busy = Milestone.objects.filter(order=OuterRef("pk"), state__in=OPEN_STATES | {S.AWAITING_PAYMENT})
    return ~Q(status=OrderStatus.COMPLETED) & Q(Exists(planned)) & ~Q(Exists(busy)) & Q(last_closed__isnull=False)


def orders_waiting_to_continue() -> QuerySet[Order]:
    return Order.objects.annotate(last_closed=Max("milestones__closed_at")).filter(order_continue_condition())


def orders_due_to_stop(now: datetime) -> QuerySet[Order]:
    """Orders whose next planned step was not continued within ``CONTINUE_PERIOD``."""
    return orders_waiting_to_continue().filter(last_closed__lte=now - settings.CONTINUE_PERIOD)


# --- the order history (/orders/) -----------------------------------------------------------------

# Closed without any work approved or any money kept by the seller: an order whose every milestone
# ended in one of these is "Cancelled" in the history. ``OrderStatus`` has no such status (the
# buyer may still add a milestone to it), so it is worked out here from the milestones.
UNDONE_STATES = frozenset({S.DECLINED, S.CANCELLED, S.PAYMENT_EXPIRED, S.OFFER_DECLINED, S.OFFER_EXPIRED})

# The history's filters, in the order of its tabs: (key, label).
HISTORY_FILTERS = (
    ("all", pgettext_lazy("orders", "All")),
    ("active", pgettext_lazy("order", "Active")),
    ("completed", pgettext_lazy("order", "Completed")),
    ("cancelled", pgettext_lazy("order", "Cancelled")),
)


@dataclass(frozen=True)
class Standing:
    """An order's state in words, and the badge class (``badge-<key>``) that shows it."""

    key: str
    words: Any  # lazy words: shown in the reader's language


def order_standing(
    *,
    completed: bool,
    has_open: bool,
    awaiting_payment: bool,
    offered: bool,
    cancelled: bool,
    has_milestone: bool,
    planned: bool = False,
) -> Standing:
    """What an order waits for, from what its milestones are: one home for the words that the
    history and the order page's badge show. A paid milestone in work makes it "Active"; one that
    only waits for payment does not (issue 34: it said "Active" with nothing paid)."""
    if completed:
        return Standing("completed", pgettext_lazy("order", "Completed"))
    if has_open:
        return Standing("active", pgettext_lazy("order", "Active"))
    if awaiting_payment:
        return Standing("pending", gettext_lazy("Waiting for payment"))
    if offered:
        return Standing("pending", gettext_lazy("Waiting for the buyer to accept and pay the offer"))
    if planned:
        # An ordered package between two steps (issue 35).
        return Standing(
            "pending", gettext_lazy("Waiting for the buyer to continue to the next milestone or stop the order")
        )
    if cancelled:
        return Standing("cancelled", pgettext_lazy("order", "Cancelled"))
    if not has_milestone:
        return Standing("awaiting_milestone", gettext_lazy("Waiting for the first milestone"))
    return Standing("awaiting_milestone", gettext_lazy("Every milestone closed"))


def standing_of_states(order: Order, states: Iterable[str]) -> Standing:
    """``order_standing`` from the states of all the order's milestones (the order page has them)."""
    present = set(states)
    return order_standing(
        completed=order.status == OrderStatus.COMPLETED,
        has_open=bool(present & OPEN_STATES),
        awaiting_payment=S.AWAITING_PAYMENT in present,
        offered=S.OFFERED in present,
        cancelled=bool(present) and present <= UNDONE_STATES,
        has_milestone=bool(present),
        planned=S.PLANNED in present,
    )


def _milestones_in(states: Iterable[str]) -> Exists:
    return Exists(Milestone.objects.filter(order=OuterRef("pk"), state__in=list(states)))


def order_history(user, *, show: str = "all", search: str = "") -> QuerySet[Order]:
    """Every order of ``user``, as buyer or as seller, newest change first, for /orders/.

    ``show`` is one of ``HISTORY_FILTERS``: "completed" is the order's status; "cancelled" is an
    order not completed with at least one milestone and every milestone in ``UNDONE_STATES``;
    "active" is every other order not completed (waiting for a milestone, for payment, for work).
    ``search`` matches the title or the other party's username. Each row carries what
    ``order_standing`` needs as ``Exists`` annotations, read only for the rows of the page shown,
    so a page costs the same queries at ten orders or ten thousand (a count, then the page)."""
    cancelled = _milestones_in(S) & ~_milestones_in(set(S) - UNDONE_STATES)
    orders = (
        Order.objects.filter(Q(buyer=user) | Q(seller=user))
        .select_related("buyer", "seller")
        .annotate(
            has_open=_milestones_in(OPEN_STATES),
            awaiting_payment=_milestones_in([S.AWAITING_PAYMENT]),
            offered=_milestones_in([S.OFFERED]),
            planned=_milestones_in([S.PLANNED]),
            has_milestone=_milestones_in(S),
            is_cancelled=ExpressionWrapper(cancelled, output_field=BooleanField()),
        )
        .order_by("-updated_at", "-id")
    )
    if show == "completed":
        orders = orders.filter(status=OrderStatus.COMPLETED)
    elif show == "cancelled":
        orders = orders.exclude(status=OrderStatus.COMPLETED).filter(cancelled)
    elif show == "active":
        orders = orders.exclude(status=OrderStatus.COMPLETED).exclude(cancelled)
    search = search.strip()
    if search:
        other = Q(buyer=user, seller__username__icontains=search) | Q(seller=user, buyer__username__icontains=search)
        orders = orders.filter(Q(title__icontains=search) | other)
    return orders


def history_row(order: Order, user) -> Order:
    """An order of ``order_history`` with what its row shows: the viewer's role, the other party
    and the order's standing."""
    order.role = order.role_of(user)  # type: ignore[attr-defined]
    order.other_party = order.seller if order.role == BUYER else order.buyer  # type: ignore[attr-defined]
    order.standing = order_standing(  # type: ignore[attr-defined]
        completed=order.status == OrderStatus.COMPLETED,
        has_open=order.has_open,  # type: ignore[attr-defined]
        awaiting_payment=order.awaiting_payment,  # type: ignore[attr-defined]
        offered=order.offered,  # type: ignore[attr-defined]
        cancelled=order.is_cancelled,  # type: ignore[attr-defined]
        has_milestone=order.has_milestone,  # type: ignore[attr-defined]
        planned=order.planned,  # type: ignore[attr-defined]
    )
    return order
