"""The steps every milestone service takes (see the package's docstring):
the transition and its save, the activity log, the notices, the settlement
of the escrow, and what closing a milestone starts next. Callers hold the
order and milestone locks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone
from django_fsm import TransitionNotAllowed
from djmoney.money import Money

from accounts.models import User
from marketplace.errors import InvalidTransition, NotAllowed
from marketplace.money import format_money
from milestones.models import (
    IN_WORK_STATES,
    Milestone,
    MilestoneState,
    Proposal,
    ProposalState,
    lock_open_milestones,
    save_changed,
)
from milestones.selectors import closed_party, has_open_milestone, waits_for_earlier
from notifications.services import notification_send
from notifications.times import notice_time
from orders.models import Order
from orders.services import activity_record, order_refresh_status
from payments.services import REFUND_TO_CARD, Settlement, escrow_settle
from webhooks.payloads import subject_data, time_data
from webhooks.services import webhooks_emit_to

S = MilestoneState
P = ProposalState


def refund_words(settlement: Settlement) -> str:
    """Where the buyer's money went, for the notices."""
    if settlement.refunded_to == REFUND_TO_CARD:
        return f"{format_money(settlement.refunded)} is being refunded to your card"
    return f"{format_money(settlement.refunded)} is back in your balance"


def refused(milestone: Milestone, action: str) -> InvalidTransition:
    """The message a second click (or a stale tab) gets."""
    return InvalidTransition(
        f"“{milestone.title}” is {milestone.get_state_display().lower()}, so it cannot be {action} now. "
        "Nothing was changed; reload to see its current state."
    )


def transition(milestone: Milestone, action: str, method, **kwargs) -> str:
    before = milestone.state
    try:
        method(**kwargs)
    except TransitionNotAllowed:
        raise refused(milestone, action) from None
    return before


def save(milestone: Milestone) -> None:
    # ConcurrentTransitionMixin adds "AND state = <as loaded>" to this UPDATE;
    # with the row lock held it cannot fail, it is the belt to those braces.
    save_changed(milestone)


def log(milestone: Milestone, actor: User | None, verb: str, before: str | None = None, note: str = "") -> None:
    """The milestone's activity: with ``before`` (the state the transition
    left), a change of state; without, something that kept it (a request, a
    statement)."""
    activity_record(
        order=milestone.order,
        milestone=milestone,
        actor=actor,
        verb=verb,
        from_state="" if before is None else before,
        to_state="" if before is None else milestone.state,
        note=note,
    )
    _emit(milestone, actor, verb, before)


# The activity verbs of proposals: a seller's offer, and the changes, extension and cancellation
# requests with their answers (``<kind>_accepted``, ``_declined``, ``_withdrawn``, ``_expired``).
PROPOSAL_PREFIXES = ("offer", "changes_", "extension_", "cancellation_")


def _emit(milestone: Milestone, actor: User | None, verb: str, before: str | None) -> None:
    """The webhooks of the order's two parties, from the same point as the activity log: a change
    of state, and every step of a proposal (sent after commit, ``webhooks_emit``)."""
    order = milestone.order
    data = {
        "milestone": {**subject_data(milestone), "deadline": time_data(milestone.deadline)},
        "order": {"id": order.pk, "title": order.title},
        "action": verb,
        "actor": actor.username if actor is not None else None,
    }
    parties = (order.buyer, order.seller)
    if before is not None and before != milestone.state:
        webhooks_emit_to(
            users=parties,
            event_type="milestone.state_changed",
            data={**data, "from_state": before, "to_state": milestone.state},
        )
    if verb.startswith(PROPOSAL_PREFIXES):
        webhooks_emit_to(users=parties, event_type="proposal.updated", data=data)


def notify(milestone: Milestone, *, to: User | Iterable[User], event: str, message: str) -> None:
    """Tell ``to`` (one party, or several) what happened to the milestone, with
    a link to it; the e-mail copy goes after commit (``notification_send``)."""
    for recipient in (to,) if isinstance(to, User) else to:
        notification_send(recipient=recipient, event=event, message=message, url=milestone.get_absolute_url())


def other_party(order: Order, actor: User) -> User:
    """The buyer if ``actor`` is the seller, else the seller."""
    return order.seller if actor.pk == order.buyer_id else order.buyer


def require_buyer(order: Order, actor: User | None, action: str) -> None:
    if actor is None or actor.pk != order.buyer_id:
        raise NotAllowed(f"Only the buyer of this order can {action}.")


def require_seller(order: Order, actor: User | None, action: str) -> None:
    if actor is None or actor.pk != order.seller_id:
        raise NotAllowed(f"Only the seller of this order can {action}.")


def require_open_accounts(order: Order, doing: str) -> None:
    """Refuse to start anything new with a party whose account was closed: money sent to a
    closed account could never be withdrawn, and work offered to one never accepted."""
    closed = closed_party(order)
    if closed is not None:
        who = "seller" if closed.pk == order.seller_id else "buyer"
        raise NotAllowed(
            f"The {who} of this order closed their account, so {doing} is no longer possible. Nothing was changed."
        )


def when_words(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%d %b %Y %H:%M}"


def settle(
    milestone: Milestone,
    *,
    seller_gross: Money,
    kind: str,
    actor: User | None,
    now: datetime,
    refund_to: str | None = None,
) -> Settlement:
    """Empty the milestone's escrow (``escrow_settle``) and keep the commission
    it took on the milestone; the caller saves it. The buyer's part goes where
    they chose (``refund_to``), else where their profile says refunds go."""
    settlement = escrow_settle(
        milestone=milestone,
        seller_gross=seller_gross,
        kind=kind,
        actor=actor,
        refund_to=refund_to or milestone.order.buyer.refund_to,
        now=now,
    )
    milestone.seller_fee = settlement.fee
    return settlement


def withdraw_pending_proposals(milestone: Milestone, *, at: datetime) -> None:
    """A dispute takes over, or the milestone closed: its open requests are withdrawn."""
    Proposal.objects.filter(milestone=milestone, state=P.PENDING).update(state=P.WITHDRAWN, decided_at=at)


def activate_next(order: Order, *, at: datetime) -> bool:
    """Start the next phase if its turn has come. Caller holds the order lock.

    Milestones run in the order they were created: the earliest open one is
    the only one that may be in work; if it is accepted and waiting, it
    starts now, in the same transaction that closed the one before it.
    Reads the order's open milestones in one query (locked: the order lock
    already serialises every write on them) and returns whether any is open.
    """
    open_ones = lock_open_milestones(order)
    if not open_ones or open_ones[0].state != S.ACCEPTED:
        return bool(open_ones)
    first_open = open_ones[0]
    if any(m.state in IN_WORK_STATES for m in open_ones):
        # A later one is in work already (it started while an earlier offer waited unpaid): this one waits for it.
        return True
    before = transition(first_open, "started", first_open.activate, at=at)
    save(first_open)
    log(first_open, None, "started", before, note="Started automatically after the previous milestone closed.")
    notify(
        first_open,
        to=order.seller,
        event="milestone_started",
        message=f"“{first_open.title}” has started; it is due {notice_time(first_open.deadline)}.",
    )
    return True


def refresh_order(order: Order) -> None:
    """The order's status follows its milestones: active while one is open."""
    order_refresh_status(order=order, has_open_milestone=has_open_milestone(order))


def after_close(milestone: Milestone, *, at: datetime) -> None:
    # Requests on a closed milestone have nothing left to change.
    withdraw_pending_proposals(milestone, at=at)
    has_open = activate_next(milestone.order, at=at)
    order_refresh_status(order=milestone.order, has_open_milestone=has_open)


def fund_transition(milestone: Milestone, *, at: datetime) -> str:
    """Paid: a buyer's milestone awaits the seller; an offer starts, or queues
    behind an earlier open milestone. Returns the state before."""
    return transition(milestone, "funded", milestone.fund, start_now=not waits_for_earlier(milestone), at=at)
