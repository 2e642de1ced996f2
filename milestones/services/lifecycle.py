"""A milestone from the seller's answer to its release: accept or decline,
the buyer cancelling before work starts, the delivery, a revision, the
approval (the buyer's, or the system's once the review period passed), the
portfolio consent, and the late flag. See the package's docstring for the
steps every service takes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from djmoney.money import Money

from accounts.models import User
from marketplace.errors import InvalidInput, InvalidTransition
from marketplace.money import Amount, format_money
from marketplace.text import sentence
from marketplace.uploads import validate_deliverable_file
from milestones.models import (
    Delivery,
    DeliveryFile,
    Milestone,
    MilestoneReminder,
    MilestoneState,
    Proposal,
    ProposalKind,
    ProposalState,
    RevisionRequest,
    lock_milestone,
)
from milestones.selectors import late_condition, waits_for_earlier
from milestones.services.steps import (
    after_close,
    log,
    notify,
    refresh_order,
    refund_words,
    refused,
    require_buyer,
    require_seller,
    save,
    sentences,
    settle,
    transition,
    when_words,
    withdraw_pending_proposals,
)
from notifications.times import notice_day, notice_time
from payments.checkout import checkout_close
from payments.models import Checkout, CheckoutStatus, TransactionKind
from payments.services import REFUND_TO_BALANCE, REFUND_TO_CARD, Settlement, card_payment_of

S = MilestoneState
P = ProposalState


def _refund_before_work(
    milestone: Milestone, *, actor: User, now: datetime, refund_to: str | None = None
) -> Settlement:
    """Decline and cancel: no work was done, so the buyer gets everything
    back, the service fee included. Caller holds the locks and has applied
    the transition."""
    settlement = settle(
        milestone,
        seller_gross=Money(0, milestone.order.currency),
        kind=TransactionKind.REFUND,
        actor=actor,
        refund_to=refund_to,
        now=now,
    )
    save(milestone)
    return settlement


def milestone_accept(*, milestone: Milestone, actor: User) -> Milestone:
    """Starts at once if no earlier milestone of the order is open, else queues."""
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_seller(milestone.order, actor, "accept a milestone")
        before = transition(milestone, "accepted", milestone.accept, start_now=not waits_for_earlier(milestone), at=now)
        save(milestone)
        # Accepted as it stands: changes the seller proposed and the buyer has not answered are moot.
        withdraw_pending_proposals(milestone, at=now)
        note = "" if milestone.state == S.IN_PROGRESS else _("Queued: starts when the previous milestone closes.")
        log(milestone, actor, "accepted", before, note)
        notify(
            milestone,
            to=milestone.order.buyer,
            event="milestone_accepted",
            message=format_lazy(
                gettext_lazy("{user} accepted “{title}”. Work has started.")
                if milestone.state == S.IN_PROGRESS
                else gettext_lazy("{user} accepted “{title}”. It starts after the current one."),
                user=actor.username,
                title=milestone.title,
            ),
        )
    return milestone


def milestone_decline(*, milestone: Milestone, actor: User, reason: str) -> Milestone:
    """The seller says no; the buyer gets the escrow and the service fee back."""
    reason = (reason or "").strip()
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_seller(milestone.order, actor, "decline a milestone")
        if not reason:
            raise InvalidInput(_("Tell the buyer why you decline."), field="reason")
        before = transition(milestone, "declined", milestone.decline, reason=reason[:2000], at=now)
        settlement = _refund_before_work(milestone, actor=actor, now=now)
        log(milestone, actor, "declined", before, reason)
        after_close(milestone, at=now)
        notify(
            milestone,
            to=milestone.order.buyer,
            event="milestone_declined",
            message=sentences(
                format_lazy(
                    gettext_lazy("{user} declined “{title}”: {reason}"),
                    user=actor.username,
                    title=milestone.title,
                    reason=sentence(reason[:150]),
                ),
                refund_words(settlement),
            ),
        )
    return milestone


def milestone_cancel(*, milestone: Milestone, actor: User, refund_to: str = REFUND_TO_BALANCE) -> Milestone:
    """The buyer withdraws a milestone before work starts: a full refund, to
    the balance (instant) or to the card that paid (``refund_to="card"``).
    An unpaid one just closes, and its checkout with it."""
    now = timezone.now()
    if refund_to not in (REFUND_TO_BALANCE, REFUND_TO_CARD):
        raise InvalidInput(_("Choose where the refund goes."), field="refund_to")
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_buyer(milestone.order, actor, "cancel a milestone")
        if milestone.state == S.AWAITING_PAYMENT:
            checkout = Checkout.objects.select_for_update().filter(milestone=milestone).first()
            before = transition(milestone, "cancelled", milestone.cancel, at=now)
            if checkout is not None and checkout.is_open:
                checkout_close(checkout, status=CheckoutStatus.CANCELLED)
            save(milestone)
            log(milestone, actor, "cancelled", before, _("Cancelled before payment; nothing was charged."))
            refresh_order(milestone.order)
            return milestone
        if refund_to == REFUND_TO_CARD and card_payment_of(milestone) is None:
            raise InvalidInput(
                _("This milestone was paid from your balance, so the refund can only go back there."),
                field="refund_to",
            )
        before = transition(milestone, "cancelled", milestone.cancel, at=now)
        settlement = _refund_before_work(milestone, actor=actor, now=now, refund_to=refund_to)
        if settlement.refunded_to == REFUND_TO_CARD:
            where = _("{amount} back to the buyer's card")
        else:
            where = _("{amount} back to the buyer's balance")
        log(milestone, actor, "cancelled", before, where.format(amount=format_money(settlement.refunded)))
        after_close(milestone, at=now)
        notify(
            milestone,
            to=milestone.order.seller,
            event="milestone_cancelled",
            message=format_lazy(
                gettext_lazy("{user} cancelled “{title}” before work started."),
                user=actor.username,
                title=milestone.title,
            ),
        )
    return milestone


MAX_LINKS = 10


def _clean_links(links: Sequence[str]) -> list[str]:
    validate = URLValidator(schemes=["http", "https"])
    cleaned = []
    for link in links:
        link = (link or "").strip()
        if not link:
            continue
        try:
            validate(link)
        except ValidationError:
            raise InvalidInput(
                _("“{link}” is not a web address (http:// or https://).").format(link=link[:80]), field="links"
            ) from None
        cleaned.append(link)
    if len(cleaned) > MAX_LINKS:
        raise InvalidInput(
            ngettext("Add at most {n} link.", "Add at most {n} links.", MAX_LINKS).format(n=MAX_LINKS), field="links"
        )
    return cleaned


def milestone_submit(
    *,
    milestone: Milestone,
    actor: User,
    message: str = "",
    links: Sequence[str] = (),
    files: Sequence[UploadedFile] = (),
) -> Delivery:
    """The seller delivers for review: at least one file, link or message.

    Sets ``auto_approve_at``: if the buyer stays silent that long, the
    auto-approval sweep approves it.
    """
    message = (message or "").strip()
    cleaned_links = _clean_links(links)
    if len(files) > settings.DELIVERABLE_MAX_FILES:
        most = settings.DELIVERABLE_MAX_FILES
        raise InvalidInput(
            ngettext("Attach at most {n} file.", "Attach at most {n} files.", most).format(n=most), field="files"
        )
    checked = [validate_deliverable_file(f) for f in files]
    if len(message) > 10000:
        raise InvalidInput(_("Keep the message to 10,000 characters or fewer."), field="message")
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_seller(milestone.order, actor, "submit work")
        if not (message or cleaned_links or files):
            raise InvalidInput(_("Add at least one deliverable: a file, a link or a message."), field="message")
        before = transition(
            milestone,
            "submitted",
            milestone.submit,
            at=now,
            auto_approve_at=now + settings.AUTO_APPROVE_PERIOD,
        )
        number = milestone.deliveries.count() + 1
        delivery = Delivery.objects.create(
            milestone=milestone, number=number, author=actor, message=message, links=cleaned_links
        )
        for upload, (name, content_type) in zip(files, checked, strict=True):
            DeliveryFile.objects.create(
                delivery=delivery, file=upload, original_name=name, size=upload.size or 0, content_type=content_type
            )
        # Reminders are per submission: a resubmission gets its own.
        milestone.reminders.filter(kind__startswith="review:").delete()
        save(milestone)
        log(milestone, actor, "submitted", before, _("Delivery {number}").format(number=number))
        assert milestone.auto_approve_at is not None  # set by the submit transition
        notify(
            milestone,
            to=milestone.order.buyer,
            event="milestone_submitted",
            message=format_lazy(
                gettext_lazy(
                    "{user} submitted “{title}” for review. It is approved automatically on {when} if you do nothing."
                ),
                user=actor.username,
                title=milestone.title,
                when=notice_time(milestone.auto_approve_at),
            ),
        )
    return delivery


def milestone_request_revision(*, milestone: Milestone, actor: User, feedback: str) -> RevisionRequest:
    feedback = (feedback or "").strip()
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_buyer(milestone.order, actor, "request a revision")
        if not feedback:
            raise InvalidInput(_("Tell the seller what to change."), field="feedback")
        if len(feedback) > 10000:
            raise InvalidInput(_("Keep the feedback to 10,000 characters or fewer."), field="feedback")
        if milestone.state == S.IN_REVIEW and milestone.revisions_left == 0:
            used = milestone.revisions_included
            raise InvalidTransition(
                ngettext(
                    "The {n} revision included in “{title}” is used up. Nothing was changed; "
                    "use “Buy a revision” to ask the seller to offer another.",
                    "The {n} revisions included in “{title}” are used up. Nothing was changed; "
                    "use “Buy a revision” to ask the seller to offer another.",
                    used or 0,
                ).format(n=used, title=milestone.title)
            )
        before = transition(milestone, "sent back for revision", milestone.request_revision, at=now)
        revision = RevisionRequest.objects.create(
            milestone=milestone,
            delivery=milestone.deliveries.order_by("-number").first(),
            author=actor,
            feedback=feedback,
        )
        save(milestone)
        log(milestone, actor, "revision_requested", before, feedback)
        notify(
            milestone,
            to=milestone.order.seller,
            event="revision_requested",
            message=format_lazy(
                gettext_lazy("{user} asked for a revision of “{title}”."), user=actor.username, title=milestone.title
            ),
        )
    return revision


def milestone_approve(
    *, milestone: Milestone, actor: User | None, now: datetime | None = None, portfolio: bool = False
) -> Milestone:
    """Release the escrow to the seller, less the commission; start the next phase.

    ``actor=None`` is the system's auto-approval, allowed only once
    ``auto_approve_at`` has passed. The earning clears after the clearance
    period of the seller's withdrawal method.

    ``now`` is the sweep's clock and counts only for the system: a person's
    approval always happens at the real time, so no caller can backdate it
    and make the money clear early.
    """
    now = (now if actor is None else None) or timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        order = milestone.order
        if actor is None:
            if milestone.state != S.IN_REVIEW or milestone.auto_approve_at is None or milestone.auto_approve_at > now:
                raise refused(milestone, "approved automatically")
            if Proposal.objects.filter(milestone=milestone, kind=ProposalKind.CANCELLATION, state=P.PENDING).exists():
                raise InvalidTransition(
                    _("“{title}” has a cancellation request waiting; it is not approved automatically.").format(
                        title=milestone.title
                    )
                )
        else:
            require_buyer(order, actor, "approve a milestone")
        before = transition(milestone, "approved", milestone.approve, at=now)
        if portfolio and actor is not None:
            milestone.portfolio_allowed_at = now
        earning = settle(
            milestone, seller_gross=milestone.amount, kind=TransactionKind.RELEASE, actor=actor, now=now
        ).earning
        save(milestone)
        note = _("Approved automatically: the review period passed without an answer.") if actor is None else ""
        log(milestone, actor, "approved", before, note)
        after_close(milestone, at=now)
        assert earning is not None
        if actor is None:
            approved = gettext_lazy("“{title}” was approved automatically.")
        else:
            approved = gettext_lazy("“{title}” was approved.")
        if earning.cleared_at:
            clears = format_lazy(gettext_lazy("{amount} clears now."), amount=Amount(earning.net))
        else:
            clears = format_lazy(
                gettext_lazy("{amount} clears on {day}."), amount=Amount(earning.net), day=notice_day(earning.clears_at)
            )
        notify(
            milestone,
            to=order.seller,
            event="milestone_approved",
            message=sentences(format_lazy(approved, title=milestone.title), clears),
        )
        if actor is None:
            notify(
                milestone,
                to=order.buyer,
                event="milestone_approved",
                message=format_lazy(
                    gettext_lazy("“{title}” was approved automatically after the review period."),
                    title=milestone.title,
                ),
            )
    return milestone


def portfolio_consent(*, milestone: Milestone, actor: User, allowed: bool) -> Milestone:
    """The buyer allows an approved milestone's work in the seller's public
    portfolio, or withdraws that consent; it shows there only while allowed."""
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_buyer(milestone.order, actor, "choose what the seller's portfolio shows")
        if milestone.state != S.APPROVED:
            raise InvalidTransition(_("Only approved work can be shown in a portfolio."))
        if allowed == (milestone.portfolio_allowed_at is not None):
            return milestone
        milestone.portfolio_allowed_at = timezone.now() if allowed else None
        milestone.save(update_fields=["portfolio_allowed_at"])
        log(milestone, actor, "portfolio_allowed" if allowed else "portfolio_withdrawn")
    return milestone


# The MilestoneReminder kind that records the late notice, so it is sent once.
LATE_KIND = "late"


def milestone_flag_late(*, milestone_id: int, now: datetime | None = None) -> bool:
    """Mark a milestone whose deadline passed without a submission, and tell both parties.

    Once: returns False and changes nothing if it is flagged already or not
    late (delivered meanwhile). Locks the order, then the milestone. Only
    ``late_flagged_at`` changes; the state does not.
    """
    now = now or timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        if not Milestone.objects.filter(late_condition(now), pk=milestone.pk).exists():
            return False
        milestone.late_flagged_at = now
        milestone.save(update_fields=["late_flagged_at"])
        MilestoneReminder.objects.get_or_create(milestone=milestone, kind=LATE_KIND)
        # The state stays; logged as a step from it to itself, so the history shows it.
        note = _("The deadline ({deadline}) passed without a submission.").format(
            deadline=when_words(milestone.deadline)
        )
        log(milestone, None, "flagged_late", milestone.state, note)
        deadline = notice_time(milestone.deadline)
        notify(
            milestone,
            to=milestone.order.seller,
            event="milestone_late",
            message=format_lazy(
                gettext_lazy(
                    "“{title}” passed its deadline ({deadline}) without a submission. "
                    "Submit it as soon as you can, or tell the buyer where it stands."
                ),
                title=milestone.title,
                deadline=deadline,
            ),
        )
        notify(
            milestone,
            to=milestone.order.buyer,
            event="milestone_late",
            message=format_lazy(
                gettext_lazy(
                    "“{title}” passed its deadline ({deadline}) without a submission. "
                    "You can message the seller, or open a dispute if work has stopped."
                ),
                title=milestone.title,
                deadline=deadline,
            ),
        )
    return True
