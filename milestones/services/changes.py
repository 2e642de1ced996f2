"""Changes before acceptance: on a milestone awaiting acceptance the seller
proposes another deadline, amount or description (a ``Proposal`` of kind
``changes``); the buyer accepts (a higher amount is charged for the
difference and its service fee, from the balance or by card; a lower one is
refunded with its share of the fee) or declines. A card payment applies them
through the checkout purpose ``changes`` (``purposes``). See the package's
docstring for the steps every service takes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise
from djmoney.money import Money

from accounts.models import User
from accounts.services import require_verified_email
from marketplace.errors import InvalidInput, InvalidTransition
from marketplace.money import Amount
from milestones.models import Milestone, MilestoneState, Proposal, ProposalKind, lock_milestone
from milestones.services.creation import milestone_terms_errors, milestone_validate_terms
from milestones.services.proposals import answered, lock_proposal, propose, require_answerer
from milestones.services.steps import (
    log,
    notify,
    refund_words,
    require_open_accounts,
    require_seller,
    sentences,
    state_words,
    when_words,
)
from notifications.times import notice_time
from payments.checkout import new_checkout
from payments.fees import buyer_service_fee
from payments.services import FundingSource, escrow_reduce, escrow_top_up

S = MilestoneState


def changes_request(
    *,
    milestone: Milestone,
    actor: User,
    new_deadline: datetime | None,
    new_amount: Money | None,
    new_description: str,
) -> Proposal:
    """Before accepting, the seller proposes other terms (deadline, amount,
    description). The buyer accepts (a higher amount is charged for the
    difference, a lower one refunded, each with its service fee) or declines
    (the terms stay; the seller may still accept or decline). Unanswered after
    ``CHANGES_RESPONSE_PERIOD`` it lapses."""
    new_description = (new_description or "").strip()
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        order = milestone.order
        require_seller(order, actor, "propose changes")
        require_open_accounts(order, "proposing changes")
        if milestone.state not in (S.AWAITING_ACCEPTANCE, S.PLANNED):
            raise InvalidTransition(
                _(
                    "“{title}” is {state}; changes can be proposed only before you accept it, or on a planned step. "
                    "Nothing was changed."
                ).format(title=milestone.title, state=state_words(milestone.get_state_display()))
            )
        new_deadline = new_deadline or milestone.deadline
        new_amount = milestone.amount if new_amount is None else new_amount
        new_description = new_description or milestone.description
        if milestone.state == S.PLANNED:
            # A planned step's deadline is its length from when the order was placed
            # (``Milestone.planned_length``), set from the day it starts: it need not be ahead of now.
            errors = milestone_terms_errors(
                order=order, title=milestone.title, description=new_description, deadline=None, amount=new_amount
            )
            if errors:
                raise errors[0]
            if new_deadline <= milestone.created_at:
                raise InvalidInput(_("A planned step needs at least a day."), field="deadline")
        else:
            milestone_validate_terms(
                order=order,
                title=milestone.title,
                description=new_description,
                deadline=new_deadline,
                amount=new_amount,
            )
        if (new_deadline, new_amount, new_description) == (milestone.deadline, milestone.amount, milestone.description):
            raise InvalidInput(_("Change at least one of the deadline, the amount or the description."), field="amount")
        proposal = propose(
            milestone,
            actor=actor,
            kind=ProposalKind.CHANGES,
            reason="",
            respond_in=settings.CHANGES_RESPONSE_PERIOD,
            now=now,
            new_deadline=new_deadline,
            new_amount=new_amount,
            new_description=new_description,
        )
        words = changes_words(milestone, proposal)
        log(milestone, actor, "changes_proposed", note=str(words))
        notify(
            milestone,
            to=order.buyer,
            event="changes_proposed",
            message=sentences(
                format_lazy(
                    gettext_lazy("{user} proposes changes to “{title}”: {changes}"),
                    user=actor.username,
                    title=milestone.title,
                    changes=changes_words(milestone, proposal, moment=notice_time),
                ),
                format_lazy(gettext_lazy("Answer by {when}."), when=notice_time(proposal.respond_by)),
            ),
        )
    return proposal


# What proposed changes change, by (amount, deadline, description) changed: whole sentences.
CHANGES_WORDS = {
    (True, True, True): gettext_lazy(
        "Amount {old} → {new}; deadline {old_deadline} → {new_deadline}; a new description."
    ),
    (True, True, False): gettext_lazy("Amount {old} → {new}; deadline {old_deadline} → {new_deadline}."),
    (True, False, True): gettext_lazy("Amount {old} → {new}; a new description."),
    (True, False, False): gettext_lazy("Amount {old} → {new}."),
    (False, True, True): gettext_lazy("Deadline {old_deadline} → {new_deadline}; a new description."),
    (False, True, False): gettext_lazy("Deadline {old_deadline} → {new_deadline}."),
    (False, False, True): gettext_lazy("A new description."),
    (False, False, False): gettext_lazy("No change."),
}


def changes_words(
    milestone: Milestone, proposal: Proposal, *, moment: Callable[[datetime], str] = when_words
) -> StrOrPromise:
    """What the proposed changes change, in words: "Amount 500.00 → 600.00 USD." ``moment``
    writes a time: ``notice_time`` in a notice, which its reader sees in their own zone. Made in
    the reader's language when the words are made."""
    assert proposal.new_amount is not None and proposal.new_deadline is not None
    changed = (
        proposal.new_amount != milestone.amount,
        proposal.new_deadline != milestone.deadline,
        proposal.new_description != milestone.description,
    )
    return format_lazy(
        CHANGES_WORDS[changed],
        old=Amount(milestone.amount),
        new=Amount(proposal.new_amount),
        old_deadline=moment(milestone.deadline),
        new_deadline=moment(proposal.new_deadline),
    )


@dataclass(frozen=True)
class ChangesMoney:
    """What accepting changes moves: the difference in amount and in service fee
    (positive: charged to the buyer; negative: refunded)."""

    amount: Money
    fee: Money
    new_fee: Money

    @property
    def total(self) -> Money:
        return self.amount + self.fee

    @property
    def charges(self) -> bool:
        return self.total.amount > 0

    @property
    def refunds(self) -> bool:
        return self.total.amount < 0


def changes_money(milestone: Milestone, proposal: Proposal) -> ChangesMoney:
    assert proposal.new_amount is not None
    new_fee = buyer_service_fee(proposal.new_amount)
    return ChangesMoney(
        amount=proposal.new_amount - milestone.amount, fee=new_fee - milestone.buyer_fee, new_fee=new_fee
    )


def changes_apply(
    milestone: Milestone, proposal: Proposal, *, actor: User, now: datetime, source: FundingSource | None
) -> StrOrPromise:
    """Move the difference, then the new terms. Caller holds the locks and has
    checked the milestone still awaits acceptance."""
    money = changes_money(milestone, proposal)
    assert proposal.new_amount is not None and proposal.new_deadline is not None
    words: StrOrPromise = changes_words(milestone, proposal)
    buyer_words: StrOrPromise = ""
    planned = milestone.state == S.PLANNED
    if planned:
        # Nothing is held for a planned step: the new price is what continuing charges.
        words = sentences(words, gettext_lazy("No money moved; the new price is charged when the buyer continues."))
    elif money.charges:
        assert source is not None
        escrow_top_up(
            milestone=milestone,
            buyer=milestone.order.buyer,
            extra=money.amount,
            extra_fee=money.fee,
            source=source,
            key=f"changes:{proposal.pk}",
        )
        words = sentences(words, format_lazy(gettext_lazy("{amount} more was charged."), amount=Amount(money.total)))
    elif money.refunds:
        settlement = escrow_reduce(
            milestone=milestone,
            less=-money.amount,
            less_fee=-money.fee,
            key=f"changes:{proposal.pk}",
            refund_to=milestone.order.buyer.refund_to,
            actor=actor,
        )
        words = sentences(
            words, format_lazy(gettext_lazy("{amount} went back to the buyer."), amount=Amount(settlement.refunded))
        )
        buyer_words = refund_words(settlement)
    milestone.amount = proposal.new_amount
    milestone.buyer_fee = money.new_fee
    milestone.deadline = proposal.new_deadline
    milestone.description = proposal.new_description
    milestone.save(
        update_fields=["amount", "amount_currency", "buyer_fee", "buyer_fee_currency", "deadline", "description"]
    )
    proposal.accept(by=actor, at=now)
    proposal.save()
    log(milestone, actor, "changes_accepted", note=str(words))
    notify(
        milestone,
        to=proposal.proposer,
        event="changes_accepted",
        message=sentences(
            format_lazy(
                gettext_lazy("{user} accepted your changes to “{title}”."), user=actor.username, title=milestone.title
            ),
            words,
            "" if planned else gettext_lazy("Accept the milestone to start."),
        ),
    )
    if buyer_words:
        notify(
            milestone,
            to=milestone.order.buyer,
            event="changes_refunded",
            message=sentences(
                format_lazy(gettext_lazy("You accepted the changes to “{title}”."), title=milestone.title),
                buyer_words,
            ),
        )
    return words


def changes_accept(*, proposal: Proposal, actor: User, method: str = "balance") -> Proposal:
    """The buyer accepts the seller's changes. A higher amount is paid for the
    difference from the balance (``method="balance"``, at once) or by card
    (``"card"``: an open checkout the caller sends the buyer to after
    commit; the changes apply when it is paid, ``changes_checkout_paid``)."""
    if method not in ("balance", "card"):
        raise InvalidInput(_("Choose how to pay the difference."), field="method")
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = lock_proposal(proposal.pk)
        require_answerer(milestone, proposal, actor)
        if proposal.kind != ProposalKind.CHANGES:
            raise InvalidTransition(_("This is not a proposal of changes."))
        if not proposal.is_pending:
            raise answered(proposal)
        if milestone.state not in (S.AWAITING_ACCEPTANCE, S.PLANNED):
            raise InvalidTransition(
                _("“{title}” is no longer awaiting acceptance; its terms cannot change now.").format(
                    title=milestone.title
                )
            )
        money = changes_money(milestone, proposal)
        if milestone.state == S.PLANNED:
            changes_apply(milestone, proposal, actor=actor, now=now, source=None)
            return proposal
        if money.charges:
            require_verified_email(actor, "pay the difference")
        if money.charges and method == "card":
            if proposal.checkout is not None and proposal.checkout.is_open:
                return proposal
            proposal.checkout = new_checkout(
                purpose="changes",
                buyer=actor,
                amount=money.total,
                key=f"changes:{proposal.pk}:{uuid.uuid4().hex[:8]}",
                expires_in=settings.CHECKOUT_EXPIRY,
            )
            proposal.save(update_fields=["checkout"])
            return proposal
        changes_apply(milestone, proposal, actor=actor, now=now, source=FundingSource(method="balance"))
    return proposal
