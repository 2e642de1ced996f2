"""The steps every milestone service takes (see the package's docstring):
the transition and its save, the activity log, the notices, the settlement
of the escrow, and what closing a milestone starts next. Callers hold the
order and milestone locks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import formats, timezone
from django.utils.text import format_lazy
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed
from django_stubs_ext import StrOrPromise
from djmoney.money import Money

from accounts.models import User
from marketplace.errors import InvalidTransition, NotAllowed
from marketplace.money import Amount
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


def refund_words(settlement: Settlement) -> StrOrPromise:
    """Where the buyer's money went, for the notices: a sentence, made in the reader's language."""
    if settlement.refunded_to == REFUND_TO_CARD:
        return format_lazy(gettext_lazy("{amount} is being refunded to your card."), amount=Amount(settlement.refunded))
    return format_lazy(gettext_lazy("{amount} is back in your balance."), amount=Amount(settlement.refunded))


def sentences(*parts: StrOrPromise) -> StrOrPromise:
    """Whole sentences, each translated on its own, joined by a space when the words are made
    (lazily: in a notice's recipient's language). Empty parts are left out."""
    kept = [part for part in parts if part]
    return format_lazy(" ".join(["{}"] * len(kept)), *kept)


def state_words(label: StrOrPromise) -> str:
    """A state's label inside a sentence: lower case, as English and Spanish write it; German
    keeps its nouns capitalised (the sentences quote the label)."""
    text = str(label)
    return text if (get_language() or "").startswith("de") else text.lower()


# What a second click (or a stale tab) is told, by the transition it tried: whole sentences.
REFUSED = {
    "accepted": gettext_lazy(
        "“{title}” is {state}, so it cannot be accepted now. Nothing was changed; reload to see its current state."
    ),
    "declined": gettext_lazy(
        "“{title}” is {state}, so it cannot be declined now. Nothing was changed; reload to see its current state."
    ),
    "cancelled": gettext_lazy(
        "“{title}” is {state}, so it cannot be cancelled now. Nothing was changed; reload to see its current state."
    ),
    "submitted": gettext_lazy(
        "“{title}” is {state}, so it cannot be submitted now. Nothing was changed; reload to see its current state."
    ),
    "sent back for revision": gettext_lazy(
        "“{title}” is {state}, so it cannot be sent back for revision now. "
        "Nothing was changed; reload to see its current state."
    ),
    "sent back for another revision": gettext_lazy(
        "“{title}” is {state}, so it cannot be sent back for another revision now. "
        "Nothing was changed; reload to see its current state."
    ),
    "approved": gettext_lazy(
        "“{title}” is {state}, so it cannot be approved now. Nothing was changed; reload to see its current state."
    ),
    "approved automatically": gettext_lazy(
        "“{title}” is {state}, so it cannot be approved automatically now. "
        "Nothing was changed; reload to see its current state."
    ),
    "disputed": gettext_lazy(
        "“{title}” is {state}, so it cannot be disputed now. Nothing was changed; reload to see its current state."
    ),
    "resolved": gettext_lazy(
        "“{title}” is {state}, so it cannot be resolved now. Nothing was changed; reload to see its current state."
    ),
    "started": gettext_lazy(
        "“{title}” is {state}, so it cannot be started now. Nothing was changed; reload to see its current state."
    ),
    "funded": gettext_lazy(
        "“{title}” is {state}, so it cannot be funded now. Nothing was changed; reload to see its current state."
    ),
    "continued": gettext_lazy(
        "“{title}” is {state}, so it cannot be continued now. Nothing was changed; reload to see its current state."
    ),
    "stopped": gettext_lazy(
        "“{title}” is {state}, so it cannot be stopped now. Nothing was changed; reload to see its current state."
    ),
    "payment expired": gettext_lazy(
        "“{title}” is {state}, so its payment cannot expire now. Nothing was changed; reload to see its current state."
    ),
    "withdrawn": gettext_lazy(
        "“{title}” is {state}, so it cannot be withdrawn now. Nothing was changed; reload to see its current state."
    ),
    "expired": gettext_lazy(
        "“{title}” is {state}, so it cannot expire now. Nothing was changed; reload to see its current state."
    ),
}


def refused(milestone: Milestone, action: str) -> InvalidTransition:
    """The message a second click (or a stale tab) gets."""
    return InvalidTransition(
        str(REFUSED[action]).format(title=milestone.title, state=state_words(milestone.get_state_display()))
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


def notify(milestone: Milestone, *, to: User | Iterable[User], event: str, message: StrOrPromise) -> None:
    """Tell ``to`` (one party, or several) what happened to the milestone, with
    a link to it; the e-mail copy goes after commit (``notification_send``)."""
    for recipient in (to,) if isinstance(to, User) else to:
        notification_send(recipient=recipient, event=event, message=message, url=milestone.get_absolute_url())


def other_party(order: Order, actor: User) -> User:
    """The buyer if ``actor`` is the seller, else the seller."""
    return order.seller if actor.pk == order.buyer_id else order.buyer


# Who may do what, by the action a service names: whole sentences, each translated on its own.
ONLY_BUYER = {
    "accept an offer": gettext_lazy("Only the buyer of this order can accept an offer."),
    "decline an offer": gettext_lazy("Only the buyer of this order can decline an offer."),
    "cancel a milestone": gettext_lazy("Only the buyer of this order can cancel a milestone."),
    "request a revision": gettext_lazy("Only the buyer of this order can request a revision."),
    "approve a milestone": gettext_lazy("Only the buyer of this order can approve a milestone."),
    "choose what the seller's portfolio shows": gettext_lazy(
        "Only the buyer of this order can choose what the seller's portfolio shows."
    ),
    "create milestones": gettext_lazy("Only the buyer of this order can create milestones."),
    "continue the order": gettext_lazy("Only the buyer of this order can continue the order."),
    "stop the order": gettext_lazy("Only the buyer of this order can stop the order."),
    "buy a revision": gettext_lazy("Only the buyer of this order can buy a revision."),
}
ONLY_SELLER = {
    "accept a milestone": gettext_lazy("Only the seller of this order can accept a milestone."),
    "decline a milestone": gettext_lazy("Only the seller of this order can decline a milestone."),
    "submit work": gettext_lazy("Only the seller of this order can submit work."),
    "ask for an extension": gettext_lazy("Only the seller of this order can ask for an extension."),
    "propose changes": gettext_lazy("Only the seller of this order can propose changes."),
    "offer a milestone": gettext_lazy("Only the seller of this order can offer a milestone."),
    "withdraw an offer": gettext_lazy("Only the seller of this order can withdraw an offer."),
}
# Starting something new with a party whose account closed, by what was started and who closed.
CLOSED_SELLER = {
    "a new milestone": gettext_lazy(
        "The seller of this order closed their account, so a new milestone is no longer possible. Nothing was changed."
    ),
    "a new offer": gettext_lazy(
        "The seller of this order closed their account, so a new offer is no longer possible. Nothing was changed."
    ),
    "an extension": gettext_lazy(
        "The seller of this order closed their account, so an extension is no longer possible. Nothing was changed."
    ),
    "proposing changes": gettext_lazy(
        "The seller of this order closed their account, so proposing changes is no longer possible. "
        "Nothing was changed."
    ),
    "a tip": gettext_lazy(
        "The seller of this order closed their account, so a tip is no longer possible. Nothing was changed."
    ),
    "continuing": gettext_lazy(
        "The seller of this order closed their account, so continuing is no longer possible. Nothing was changed."
    ),
}
CLOSED_BUYER = {
    "a new milestone": gettext_lazy(
        "The buyer of this order closed their account, so a new milestone is no longer possible. Nothing was changed."
    ),
    "a new offer": gettext_lazy(
        "The buyer of this order closed their account, so a new offer is no longer possible. Nothing was changed."
    ),
    "an extension": gettext_lazy(
        "The buyer of this order closed their account, so an extension is no longer possible. Nothing was changed."
    ),
    "proposing changes": gettext_lazy(
        "The buyer of this order closed their account, so proposing changes is no longer possible. Nothing was changed."
    ),
    "a tip": gettext_lazy(
        "The buyer of this order closed their account, so a tip is no longer possible. Nothing was changed."
    ),
    "continuing": gettext_lazy(
        "The buyer of this order closed their account, so continuing is no longer possible. Nothing was changed."
    ),
}


def require_buyer(order: Order, actor: User | None, action: str) -> None:
    if actor is None or actor.pk != order.buyer_id:
        raise NotAllowed(str(ONLY_BUYER[action]))


def require_seller(order: Order, actor: User | None, action: str) -> None:
    if actor is None or actor.pk != order.seller_id:
        raise NotAllowed(str(ONLY_SELLER[action]))


def require_open_accounts(order: Order, doing: str) -> None:
    """Refuse to start anything new with a party whose account was closed: money sent to a
    closed account could never be withdrawn, and work offered to one never accepted."""
    closed = closed_party(order)
    if closed is not None:
        words = CLOSED_SELLER if closed.pk == order.seller_id else CLOSED_BUYER
        raise NotAllowed(str(words[doing]))


def when_words(moment: datetime) -> str:
    """A moment in the current zone, for the activity log and messages to the one who acts: as
    the current language writes a date and time (``DATETIME_FORMAT``)."""
    return formats.date_format(timezone.localtime(moment), "d M Y H:i")


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
    log(first_open, None, "started", before, note=_("Started automatically after the previous milestone closed."))
    notify(
        first_open,
        to=order.seller,
        event="milestone_started",
        message=format_lazy(
            gettext_lazy("“{title}” has started; it is due {deadline}."),
            title=first_open.title,
            deadline=notice_time(first_open.deadline),
        ),
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
