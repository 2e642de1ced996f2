"""Changes of terms one party asks and the other answers (``Proposal``):
the seller's deadline extension and either party's cancellation by
agreement, with what every kind shares (one pending per kind, the answerer,
the lock order: order, milestone, then proposal). The seller's changes
before acceptance, which may move money, are ``changes``. See the package's
docstring for the steps every service takes."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import TransitionNotAllowed
from django_stubs_ext import StrOrPromise
from djmoney.money import Money

from accounts.models import User
from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from marketplace.money import Amount, format_money, has_sub_minor_digits
from marketplace.text import sentence
from milestones.models import (
    Dispute,
    Milestone,
    MilestoneReminder,
    MilestoneState,
    Proposal,
    ProposalKind,
    ProposalState,
    lock_milestone,
)
from milestones.services.lifecycle import LATE_KIND
from milestones.services.steps import (
    after_close,
    log,
    notify,
    other_party,
    refund_words,
    require_open_accounts,
    require_seller,
    save,
    sentences,
    settle,
    state_words,
    transition,
    when_words,
)
from notifications.times import notice_time
from payments.ledger import escrow_balance
from payments.models import TransactionKind
from payments.services import REFUND_TO_BALANCE, REFUND_TO_CARD, SettlementFigures, card_payment_of, settlement_figures

S = MilestoneState
P = ProposalState

# A moment in words made when a lazy notice is made (month names in the recipient's language).
lazy_when_words = lazy(when_words, str)


# The states in which the seller still owes work before a deadline.
EXTENSION_STATES = (S.IN_PROGRESS, S.REVISION_REQUESTED)
MAX_EXTENSION = timedelta(days=365)


# The states in which both parties may agree to stop. In a dispute too: the parties may still settle
# it between themselves, and accepting the cancellation withdraws the dispute (``_cancellation_apply``).
# A planned step of an ordered package too: cancelled by agreement it closes, no money moved (none is held).
CANCELLABLE_STATES = (S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED, S.DISPUTED, S.PLANNED)
# Lazy (words in the reader's language), typed as the text it becomes.
PLANNED_WORDS = cast(str, gettext_lazy("No money moves: nothing is held for a planned step, and it will not be done."))


def silence_accepts(milestone: Milestone, proposal: Proposal) -> bool:
    """The silence rule: a request left unanswered is settled in favour of the party who was
    silent, never of the party who asked. So only a cancellation is ever accepted by silence,
    and only where that cannot pay the asker for work not delivered and reviewed:

    * the seller's, only if it gives the buyer everything back (a partial refund lapses as
      declined: the seller may still open a dispute);
    * the buyer's, only while no delivery awaits the buyer's review (once one does, the
      auto-approval and dispute paths decide; a seller who delivers need not answer).

    Extensions and changes lapse and the terms stay."""
    if proposal.kind != ProposalKind.CANCELLATION or milestone.state not in CANCELLABLE_STATES:
        return False
    if milestone.state == S.DISPUTED:
        # Staff decide a dispute; only an answer, never silence, settles it instead.
        return False
    if proposal.proposer_id == milestone.order.seller_id:
        return proposal.refund_amount == milestone.amount
    return milestone.state != S.IN_REVIEW


# What happens to a request not answered by ``respond_by`` (``silence_key``): as a clause
# ("Unanswered by <time>, …"), and as the sentence of a notice that asks for the answer.
SILENCE_WORDS = {
    "accepted_unless_review": gettext_lazy(
        "it is accepted, unless a delivery is waiting for the buyer's review by then"
    ),
    "accepted": gettext_lazy("it is accepted"),
    "lapses_escrow": gettext_lazy("it lapses as declined and the escrow stays as it is"),
    "lapses": gettext_lazy("it lapses and the terms stay"),
}
ANSWER_BY = {
    "accepted_unless_review": gettext_lazy(
        "Answer by {when}; unanswered, it is accepted, unless a delivery is waiting for the buyer's review by then."
    ),
    "accepted": gettext_lazy("Answer by {when}; unanswered, it is accepted."),
    "lapses_escrow": gettext_lazy("Answer by {when}; unanswered, it lapses as declined and the escrow stays as it is."),
    "lapses": gettext_lazy("Answer by {when}; unanswered, it lapses and the terms stay."),
}


def silence_key(milestone: Milestone, proposal: Proposal) -> str:
    """Which of ``SILENCE_WORDS`` happens if the request is not answered by ``respond_by``."""
    if silence_accepts(milestone, proposal):
        if proposal.proposer_id == milestone.order.buyer_id:
            return "accepted_unless_review"
        return "accepted"
    if proposal.kind == ProposalKind.CANCELLATION:
        return "lapses_escrow"
    return "lapses"


def silence_words(milestone: Milestone, proposal: Proposal) -> StrOrPromise:
    """What happens if the request is not answered by ``respond_by``, as a clause."""
    return SILENCE_WORDS[silence_key(milestone, proposal)]


def propose(
    milestone: Milestone, *, actor: User, kind: str, reason: str, respond_in: timedelta, now: datetime, **terms
) -> Proposal:
    """The checks every request shares (a reason; one pending of its kind), then
    the row. Caller holds the milestone lock and has checked the terms."""
    if not reason and kind != ProposalKind.CHANGES:
        raise InvalidInput(
            _("Tell the buyer why you need more time.")
            if kind == ProposalKind.EXTENSION
            else _("Say why you want to cancel."),
            field="reason",
        )
    if len(reason) > 2000:
        raise InvalidInput(_("Keep the reason to 2,000 characters or fewer."), field="reason")
    if Proposal.objects.filter(milestone=milestone, kind=kind, state=P.PENDING).exists():
        raise InvalidTransition(str(ALREADY_WAITING[ProposalKind(kind)]))
    return Proposal.objects.create(
        milestone=milestone, kind=kind, proposer=actor, reason=reason, respond_by=now + respond_in, **terms
    )


def lock_proposal(proposal_id: int) -> tuple[Milestone, Proposal]:
    """The lock order: the order, the milestone, then the proposal."""
    milestone_id = Proposal.objects.values_list("milestone_id", flat=True).get(pk=proposal_id)
    milestone = lock_milestone(milestone_id)
    return milestone, Proposal.objects.select_for_update().get(pk=proposal_id)


# The words of each kind of request, whole sentences by kind.
ALREADY_WAITING = {
    ProposalKind.EXTENSION: gettext_lazy("A deadline extension request is already waiting for an answer."),
    ProposalKind.CANCELLATION: gettext_lazy("A cancellation request is already waiting for an answer."),
    ProposalKind.CHANGES: gettext_lazy("A change of terms request is already waiting for an answer."),
}
ANSWERED = {
    ProposalKind.EXTENSION: gettext_lazy("This deadline extension request is {state}; nothing was changed."),
    ProposalKind.CANCELLATION: gettext_lazy("This cancellation request is {state}; nothing was changed."),
    ProposalKind.CHANGES: gettext_lazy("This change of terms request is {state}; nothing was changed."),
}
ACCEPTED_NOTICE = {
    ProposalKind.EXTENSION: gettext_lazy(
        "{user} accepted your deadline extension request on “{title}”. New deadline {deadline}"
    ),
}
DECLINED_NOTICE = {
    ProposalKind.EXTENSION: gettext_lazy(
        "{user} declined your deadline extension request on “{title}”; the terms stay as they were."
    ),
    ProposalKind.CANCELLATION: gettext_lazy(
        "{user} declined your cancellation request on “{title}”; the terms stay as they were."
    ),
    ProposalKind.CHANGES: gettext_lazy(
        "{user} declined your change of terms request on “{title}”; the terms stay as they were."
    ),
}
WITHDRAWN_NOTICE = {
    ProposalKind.EXTENSION: gettext_lazy(
        "{user} withdrew their deadline extension request on “{title}”; the terms stay as they were."
    ),
    ProposalKind.CANCELLATION: gettext_lazy(
        "{user} withdrew their cancellation request on “{title}”; the terms stay as they were."
    ),
    ProposalKind.CHANGES: gettext_lazy(
        "{user} withdrew their change of terms request on “{title}”; the terms stay as they were."
    ),
}
LAPSED_NOTICE = {
    ProposalKind.EXTENSION: gettext_lazy(
        "The deadline extension request on “{title}” was not answered in time and has lapsed; "
        "the terms stay as they were."
    ),
    ProposalKind.CHANGES: gettext_lazy(
        "The change of terms request on “{title}” was not answered in time and has lapsed; the terms stay as they were."
    ),
}
CANCELLATION_LAPSED = {
    S.IN_REVIEW: gettext_lazy(
        "The cancellation request on “{title}” was not answered in time and has lapsed; the milestone goes on, "
        "and the delivery waiting for review is approved or disputed as any other."
    ),
    S.DISPUTED: gettext_lazy(
        "The cancellation request on “{title}” was not answered in time and has lapsed; the dispute goes on, "
        "and staff decide how the escrow is shared."
    ),
    None: gettext_lazy(
        "The cancellation request on “{title}” was not answered in time and has lapsed; the milestone goes on "
        "and its escrow stays as it is; either party may still open a dispute."
    ),
}


def answered(proposal: Proposal) -> InvalidTransition:
    return InvalidTransition(
        str(ANSWERED[ProposalKind(proposal.kind)]).format(state=state_words(proposal.get_state_display()))
    )


def require_answerer(milestone: Milestone, proposal: Proposal, actor: User | None) -> None:
    order = milestone.order
    answerer_id = order.buyer_id if proposal.proposer_id == order.seller_id else order.seller_id
    if actor is None or actor.pk != answerer_id:
        if answerer_id == order.buyer_id:
            raise NotAllowed(_("Only the buyer of this order can answer this request."))
        raise NotAllowed(_("Only the seller of this order can answer this request."))


def extension_request(*, milestone: Milestone, actor: User, new_deadline: datetime | None, reason: str) -> Proposal:
    """The seller asks for a later deadline; the buyer answers within
    ``EXTENSION_RESPONSE_PERIOD`` or it lapses as declined."""
    reason = (reason or "").strip()
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_seller(milestone.order, actor, "ask for an extension")
        require_open_accounts(milestone.order, "an extension")
        if milestone.state not in EXTENSION_STATES:
            raise InvalidTransition(
                _(
                    "“{title}” is {state}; an extension can be asked only while the work is owed. Nothing was changed."
                ).format(title=milestone.title, state=state_words(milestone.get_state_display()))
            )
        if new_deadline is None:
            raise InvalidInput(_("Choose the new deadline."), field="new_deadline")
        if new_deadline <= max(milestone.deadline, now):
            raise InvalidInput(
                _("The new deadline must be later than the current one ({deadline}) and in the future.").format(
                    deadline=when_words(milestone.deadline)
                ),
                field="new_deadline",
            )
        if new_deadline > milestone.deadline + MAX_EXTENSION:
            raise InvalidInput(_("An extension can add at most a year."), field="new_deadline")
        proposal = propose(
            milestone,
            actor=actor,
            kind=ProposalKind.EXTENSION,
            reason=reason,
            respond_in=settings.EXTENSION_RESPONSE_PERIOD,
            now=now,
            new_deadline=new_deadline,
        )
        log(
            milestone,
            actor,
            "extension_requested",
            note=_("New deadline {deadline}: {reason}").format(deadline=when_words(new_deadline), reason=reason),
        )
        notify(
            milestone,
            to=milestone.order.buyer,
            event="extension_requested",
            message=sentences(
                format_lazy(
                    gettext_lazy("{user} asks to move the deadline of “{title}” to {deadline}: {reason}"),
                    user=actor.username,
                    title=milestone.title,
                    deadline=notice_time(new_deadline),
                    reason=sentence(reason[:150]),
                ),
                format_lazy(gettext_lazy("Answer by {when}."), when=notice_time(proposal.respond_by)),
            ),
        )
    return proposal


def _extension_apply(milestone: Milestone, proposal: Proposal, *, now: datetime) -> None:
    """The deadline moves; a late flag clears if the new deadline is ahead, and
    the deadline reminder and late notice may be sent again for it."""
    assert proposal.new_deadline is not None
    if milestone.state not in EXTENSION_STATES:
        raise InvalidTransition(
            _("“{title}” is no longer in work; its deadline cannot move now.").format(title=milestone.title)
        )
    milestone.deadline = proposal.new_deadline
    if milestone.late_flagged_at is not None and proposal.new_deadline > now:
        milestone.late_flagged_at = None
    milestone.save(update_fields=["deadline", "late_flagged_at"])
    MilestoneReminder.objects.filter(milestone=milestone, kind__in=[LATE_KIND, "deadline"]).delete()


def cancellation_figures(milestone: Milestone, refund: Money, *, held: Money | None = None) -> SettlementFigures | None:
    """What a cancellation refunding ``refund`` of the milestone's amount would move, as
    ``_cancellation_apply`` settles it (``settlement_figures``, which ``escrow_settle`` posts):
    the buyer's refund with its share of the service fee, the seller's net after commission.
    None for a refund outside 0 and the amount. ``held``: the escrow, if the caller knows it
    (the order page takes the amount, as every milestone in work holds it); else read."""
    if milestone.state == S.PLANNED:
        return None  # nothing held, nothing to split (``PLANNED_WORDS``)
    if str(refund.currency) != milestone.order.currency or not refund.amount.is_finite():
        return None
    if has_sub_minor_digits(refund) or not Decimal("0") <= refund.amount <= milestone.amount.amount:
        return None
    if held is None:
        held = escrow_balance(milestone) if milestone.state in CANCELLABLE_STATES else milestone.amount
    seller_gross = milestone.amount - refund
    if seller_gross > held:
        return None
    return settlement_figures(buyer_fee=milestone.buyer_fee, held=held, seller_gross=seller_gross)


def cancellation_request(
    *, milestone: Milestone, actor: User, refund: Money | None, reason: str, refund_to: str = ""
) -> Proposal:
    """Either party asks to stop a milestone in work: ``refund`` (default all
    of it) goes back to the buyer with its share of the service fee, the rest
    of the escrow to the seller less commission (``cancellation_figures``).
    The buyer may say where their refund goes (``refund_to``: balance or card;
    empty, where their profile says). The other party answers; unanswered after
    ``CANCELLATION_RESPONSE_PERIOD`` it is accepted or lapses by ``silence_accepts``."""
    reason = (reason or "").strip()
    refund_to = refund_to or ""
    if refund_to not in ("", REFUND_TO_BALANCE, REFUND_TO_CARD):
        raise InvalidInput(_("Choose where the refund goes."), field="refund_to")
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        order = milestone.order
        if actor is None or not order.is_party(actor):
            raise NotAllowed(_("Only the buyer or the seller of this order can ask to cancel a milestone."))
        if milestone.state not in CANCELLABLE_STATES:
            raise InvalidTransition(
                _(
                    "“{title}” is {state}; a cancellation can be asked only while it is in work. Nothing was changed."
                ).format(title=milestone.title, state=state_words(milestone.get_state_display()))
            )
        refund = milestone.amount if refund is None or milestone.state == S.PLANNED else refund
        if milestone.state == S.PLANNED:
            refund_to = ""  # nothing is held: nothing goes anywhere
        if str(refund.currency) != order.currency:
            raise InvalidInput(_("The refund must be in {currency}.").format(currency=order.currency), field="refund")
        if not refund.amount.is_finite():
            raise InvalidInput(_("Enter the refund as a number."), field="refund")
        if has_sub_minor_digits(refund):
            raise InvalidInput(_("Use at most two decimal places."), field="refund")
        if not Decimal("0") <= refund.amount <= milestone.amount.amount:
            raise InvalidInput(
                _("The refund must be between {low} and {high}.").format(
                    low=format_money(Money(0, order.currency)), high=format_money(milestone.amount)
                ),
                field="refund",
            )
        if refund_to and actor.pk != order.buyer_id:
            raise NotAllowed(_("Only the buyer chooses where the buyer's refund goes."))
        if refund_to == REFUND_TO_CARD and card_payment_of(milestone) is None:
            raise InvalidInput(
                _("No card paid for this milestone; the refund can only go to your balance."), field="refund_to"
            )
        proposal = propose(
            milestone,
            actor=actor,
            kind=ProposalKind.CANCELLATION,
            reason=reason,
            respond_in=settings.CANCELLATION_RESPONSE_PERIOD,
            now=now,
            refund_amount=refund,
            refund_to=refund_to,
        )
        terms = _cancellation_terms(milestone, refund)
        log(milestone, actor, "cancellation_requested", note=f"{terms} {reason}")
        notify(
            milestone,
            to=other_party(order, actor),
            event="cancellation_requested",
            message=sentences(
                format_lazy(
                    gettext_lazy("{user} asks to cancel “{title}”: {terms}"),
                    user=actor.username,
                    title=milestone.title,
                    terms=terms,
                ),
                format_lazy(ANSWER_BY[silence_key(milestone, proposal)], when=notice_time(proposal.respond_by)),
            ),
        )
    return proposal


# The split of a cancellation, by whether the buyer gets part of the service fee back and whether
# the seller's part pays commission: whole sentences.
SPLIT_WORDS = {
    (False, False): gettext_lazy("{refunded} back to the buyer, {net} to the seller."),
    (True, False): gettext_lazy(
        "{refunded} back to the buyer ({buyer_part} and {fee_back} of the service fee), {net} to the seller."
    ),
    (False, True): gettext_lazy(
        "{refunded} back to the buyer, {net} to the seller ({gross} less the {commission} fee)."
    ),
    (True, True): gettext_lazy(
        "{refunded} back to the buyer ({buyer_part} and {fee_back} of the service fee), "
        "{net} to the seller ({gross} less the {commission} fee)."
    ),
}


def _cancellation_terms(milestone: Milestone, refund: Money) -> StrOrPromise:
    """The split in words, with what each side really receives (``cancellation_figures``); made
    in the reader's language when the words are made."""
    if milestone.state == S.PLANNED:
        return PLANNED_WORDS
    figures = cancellation_figures(milestone, refund)
    rest = milestone.amount - refund
    if figures is None:
        return format_lazy(
            gettext_lazy("{refund} back to the buyer, {rest} released to the seller."),
            refund=Amount(refund),
            rest=Amount(rest),
        )
    return format_lazy(
        SPLIT_WORDS[(figures.fee_back.amount > 0, figures.seller_gross.amount > 0)],
        refunded=Amount(figures.refunded),
        buyer_part=Amount(figures.buyer_part),
        fee_back=Amount(figures.fee_back),
        net=Amount(figures.seller_net),
        gross=Amount(figures.seller_gross),
        commission=Amount(figures.commission),
    )


# How a milestone was cancelled, by (agreed by an answer, in a dispute): whole sentences.
CANCELLED_HOW = {
    (True, False): gettext_lazy("“{title}” was cancelled by agreement."),
    (False, False): gettext_lazy("“{title}” was cancelled automatically: the request was not answered in time."),
    (True, True): gettext_lazy(
        "“{title}” was cancelled by agreement, which settles the dispute (withdrawn; staff no longer decide it)."
    ),
    (False, True): gettext_lazy(
        "“{title}” was cancelled automatically: the request was not answered in time, which settles the dispute "
        "(withdrawn; staff no longer decide it)."
    ),
}

# The activity log's note of the same (in the actor's language).
CANCELLED_NOTE = {
    (True, False): gettext_lazy("Cancelled by agreement."),
    (False, False): gettext_lazy("Cancelled automatically: the request was not answered in time."),
    (True, True): gettext_lazy(
        "Cancelled by agreement, which settles the dispute (withdrawn; staff no longer decide it)."
    ),
    (False, True): gettext_lazy(
        "Cancelled automatically: the request was not answered in time, which settles the dispute "
        "(withdrawn; staff no longer decide it)."
    ),
}


def _cancellation_apply(milestone: Milestone, proposal: Proposal, *, actor: User | None, now: datetime) -> StrOrPromise:
    """Close the milestone as cancelled and split its escrow as agreed. In a dispute, the
    agreement settles it: the dispute is withdrawn (locked after the proposal: the lock order)."""
    assert proposal.refund_amount is not None
    agreed = actor is not None
    if milestone.state == S.PLANNED:
        before = transition(milestone, "cancelled", milestone.stop_planned, at=now)
        save(milestone)
        log(milestone, actor, "cancelled", before, str(sentences(CANCELLED_NOTE[(agreed, False)], PLANNED_WORDS)))
        after_close(milestone, at=now)
        order = milestone.order
        notify(
            milestone,
            to=[order.buyer, order.seller],
            event="cancellation_accepted",
            message=sentences(format_lazy(CANCELLED_HOW[(agreed, False)], title=milestone.title), PLANNED_WORDS),
        )
        return PLANNED_WORDS
    disputed = milestone.state == S.DISPUTED
    before = transition(milestone, "cancelled", milestone.cancel_agreed, at=now)
    if disputed:
        dispute = Dispute.objects.select_for_update().get(milestone=milestone)
        try:
            dispute.withdraw(at=now)
        except TransitionNotAllowed:
            raise InvalidTransition(_("This dispute was already resolved; nothing was changed.")) from None
        dispute.save()
    seller_gross = milestone.amount - proposal.refund_amount
    if seller_gross.amount == 0:
        kind = TransactionKind.REFUND
    elif proposal.refund_amount.amount == 0:
        kind = TransactionKind.RELEASE
    else:
        kind = TransactionKind.SPLIT
    words = _cancellation_terms(milestone, proposal.refund_amount)
    settlement = settle(
        milestone, seller_gross=seller_gross, kind=kind, actor=actor, now=now, refund_to=proposal.refund_to or None
    )
    save(milestone)
    log(milestone, actor, "cancelled", before, str(sentences(CANCELLED_NOTE[(agreed, disputed)], words)))
    after_close(milestone, at=now)
    order = milestone.order
    how = format_lazy(CANCELLED_HOW[(agreed, disputed)], title=milestone.title)
    refunded = refund_words(settlement) if settlement.refunded.amount > 0 else ""
    for recipient, text in ((order.buyer, sentences(how, words, refunded)), (order.seller, sentences(how, words))):
        notify(milestone, to=recipient, event="cancellation_accepted", message=text)
    return words


def proposal_accept(*, proposal: Proposal, actor: User) -> Proposal:
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = lock_proposal(proposal.pk)
        require_answerer(milestone, proposal, actor)
        try:
            proposal.accept(by=actor, at=now)
        except TransitionNotAllowed:
            raise answered(proposal) from None
        if proposal.kind == ProposalKind.CHANGES:
            raise InvalidTransition(_("Accept changes on their confirmation page, which says what they cost."))
        if proposal.kind == ProposalKind.CANCELLATION:
            if milestone.state not in CANCELLABLE_STATES:
                raise InvalidTransition(
                    _("“{title}” is {state}; it cannot be cancelled now.").format(
                        title=milestone.title, state=state_words(milestone.get_state_display())
                    )
                )
            proposal.save()
            _cancellation_apply(milestone, proposal, actor=actor, now=now)
            return proposal
        _extension_apply(milestone, proposal, now=now)
        proposal.save()
        verb = f"{proposal.kind}_accepted"
        log(milestone, actor, verb, note=_("New deadline {deadline}").format(deadline=when_words(milestone.deadline)))
        notify(
            milestone,
            to=proposal.proposer,
            event=verb,
            message=format_lazy(
                ACCEPTED_NOTICE[ProposalKind(proposal.kind)],
                user=actor.username,
                title=milestone.title,
                deadline=lazy_when_words(milestone.deadline),
            ),
        )
    return proposal


def proposal_decline(*, proposal: Proposal, actor: User) -> Proposal:
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = lock_proposal(proposal.pk)
        require_answerer(milestone, proposal, actor)
        try:
            proposal.decline(by=actor, at=now)
        except TransitionNotAllowed:
            raise answered(proposal) from None
        proposal.save()
        verb = f"{proposal.kind}_declined"
        log(milestone, actor, verb)
        notify(
            milestone,
            to=proposal.proposer,
            event=verb,
            message=format_lazy(
                DECLINED_NOTICE[ProposalKind(proposal.kind)], user=actor.username, title=milestone.title
            ),
        )
    return proposal


def proposal_withdraw(*, proposal: Proposal, actor: User) -> Proposal:
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = lock_proposal(proposal.pk)
        if actor is None or actor.pk != proposal.proposer_id:
            raise NotAllowed(_("Only the party who asked can withdraw this request."))
        try:
            proposal.withdraw(by=actor, at=now)
        except TransitionNotAllowed:
            raise answered(proposal) from None
        proposal.save()
        log(milestone, actor, f"{proposal.kind}_withdrawn")
        notify(
            milestone,
            to=other_party(milestone.order, actor),
            event=f"{proposal.kind}_withdrawn",
            message=format_lazy(
                WITHDRAWN_NOTICE[ProposalKind(proposal.kind)], user=actor.username, title=milestone.title
            ),
        )
    return proposal


def _lapsed_words(milestone: Milestone, proposal: Proposal) -> StrOrPromise:
    """The notice of a request that lapsed, with what happens next: a whole sentence by kind."""
    if proposal.kind != ProposalKind.CANCELLATION:
        return format_lazy(LAPSED_NOTICE[ProposalKind(proposal.kind)], title=milestone.title)
    state = milestone.state if milestone.state in (S.IN_REVIEW, S.DISPUTED) else None
    return format_lazy(CANCELLATION_LAPSED[state], title=milestone.title)


def proposal_expire(*, proposal_id: int, now: datetime | None = None) -> bool:
    """A request left unanswered past ``respond_by`` is accepted or lapses as declined, by the
    silence rule (``silence_accepts``), with a notice to both. Once: False if answered meanwhile."""
    now = now or timezone.now()
    with transaction.atomic():
        milestone, proposal = lock_proposal(proposal_id)
        if not proposal.is_pending or proposal.respond_by > now:
            return False
        if silence_accepts(milestone, proposal):
            proposal.accept(by=None, at=now)
            proposal.save()
            _cancellation_apply(milestone, proposal, actor=None, now=now)
            return True
        proposal.expire(at=now)
        proposal.save()
        log(milestone, None, f"{proposal.kind}_expired")
        notify(
            milestone,
            to=(milestone.order.buyer, milestone.order.seller),
            event=f"{proposal.kind}_expired",
            message=_lapsed_words(milestone, proposal),
        )
    return True
