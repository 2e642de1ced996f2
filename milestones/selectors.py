"""Reads about milestones used by more than one view or template.

``milestone_actions`` is the one place that decides which buttons a viewer
sees. It asks the state machine which transitions the milestone allows now
and keeps those that belong to the viewer's role (``milestones.actions``). The services
enforce the same rules again; this only spares people buttons that would be
refused.
"""

from __future__ import annotations

from milestones.actions import ACTIONS, BUYER, BY_NAME, SELLER
from milestones.models import Milestone, MilestoneState
from orders.models import Order, OrderStatus

S = MilestoneState


def milestone_actions(milestone: Milestone, user, order: Order | None = None) -> list[str]:
    """The actions ``user`` may take on ``milestone`` now, in display order.

    Staff see none: they act on disputes in the admin, and the services refuse
    them everything else. ``add_statement`` is adding one's side to an open
    dispute.
    """
    order = order or milestone.order
    role = order.role_of(user) if user.is_authenticated else None
    if role is None:
        return []
    allowed = {
        t.name
        for t in milestone.get_available_state_transitions()  # type: ignore[attr-defined]
        if t.name in BY_NAME and role in BY_NAME[t.name].roles
    }
    if milestone.state == S.DISPUTED:
        dispute = getattr(milestone, "dispute", None)
        if dispute is not None and dispute.state == "open":
            allowed.add("add_statement")
    if milestone.state in (S.AWAITING_ACCEPTANCE, S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED):
        # One request of a kind at a time; the order page passes the pending ones it has read.
        pending = getattr(milestone, "pending_proposals", None)
        if pending is None:
            pending = list(milestone.proposals.filter(state="pending"))
        waiting = {p.kind for p in pending}
    if milestone.state == S.AWAITING_ACCEPTANCE and role == SELLER and "changes" not in waiting:
        allowed.add("propose_changes")
    if milestone.state in (S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED):
        if "cancellation" not in waiting:
            allowed.add("request_cancellation")
        if role == SELLER and milestone.state != S.IN_REVIEW and "extension" not in waiting:
            allowed.add("request_extension")
    return [action.name for action in ACTIONS if action.name in allowed]


def buyers_in_touch(seller) -> list:
    """The buyers a seller may send a custom offer: those who have opened an
    order with them, or asked them about a gig ("Contact seller")."""
    from django.db.models import Q

    from accounts.models import User

    return list(
        User.objects.filter(Q(orders_as_buyer__seller=seller) | Q(inquiries_sent__seller=seller), is_active=True)
        .distinct()
        .order_by("username")
    )


def can_create_milestone(order: Order, user) -> bool:
    return user.is_authenticated and order.role_of(user) == BUYER and order.status != OrderStatus.COMPLETED


def can_offer_milestone(order: Order, user) -> bool:
    return user.is_authenticated and order.role_of(user) == SELLER and order.status != OrderStatus.COMPLETED


def order_actions(order: Order, user, *, has_open_milestone: bool) -> list[str]:
    """Order-level actions: adding a milestone (the buyer) or offering one (the
    seller), and closing the order."""
    if can_offer_milestone(order, user):
        return ["propose_milestone"]
    if not can_create_milestone(order, user):
        return []
    actions = ["create_milestone"]
    if not has_open_milestone:
        actions.append("complete")
    return actions
