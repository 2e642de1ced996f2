"""Reads about milestones used by more than one view or template.

``milestone_actions`` is the one place that decides which buttons a viewer
sees. It asks the state machine which transitions the milestone allows now
and keeps those that belong to the viewer's role in the order. The services
enforce the same rules again; this only spares people buttons that would be
refused.
"""

from __future__ import annotations

from milestones.models import Milestone, MilestoneState
from orders.models import Order, OrderStatus

S = MilestoneState

BUYER, SELLER = "buyer", "seller"

# Transition name (milestones/models.py) -> roles that may ask for it. The
# system's ``activate`` and staff's ``resolve`` are nobody's button here.
TRANSITION_ROLES: dict[str, frozenset[str]] = {
    "accept": frozenset({SELLER}),
    "decline": frozenset({SELLER}),
    "cancel": frozenset({BUYER}),
    "submit": frozenset({SELLER}),
    "request_revision": frozenset({BUYER}),
    "approve": frozenset({BUYER}),
    "open_dispute": frozenset({BUYER, SELLER}),
}

# The order in which the buttons appear: the expected next step first.
ACTION_ORDER = (
    "accept",
    "submit",
    "approve",
    "request_revision",
    "add_statement",
    "decline",
    "cancel",
    "open_dispute",
)


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
        if role in TRANSITION_ROLES.get(t.name, frozenset())
    }
    if milestone.state == S.DISPUTED:
        dispute = getattr(milestone, "dispute", None)
        if dispute is not None and dispute.state == "open":
            allowed.add("add_statement")
    return [name for name in ACTION_ORDER if name in allowed]


def can_create_milestone(order: Order, user) -> bool:
    return user.is_authenticated and order.role_of(user) == BUYER and order.status != OrderStatus.COMPLETED


def order_actions(order: Order, user, *, has_open_milestone: bool) -> list[str]:
    """Order-level actions: adding a milestone, and closing the order."""
    if not can_create_milestone(order, user):
        return []
    actions = ["create_milestone"]
    if not has_open_milestone:
        actions.append("complete")
    return actions
