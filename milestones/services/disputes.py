"""Disputes: either party asks staff to decide (the escrow freezes, the
timers stop), both add their side, and staff who are not a party resolve it
in the admin (``milestones.admin_views``): release, refund or split. See the
package's docstring for the steps every service takes."""

from __future__ import annotations

from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from accounts.models import User
from marketplace.errors import DuplicateRequest, InvalidInput, InvalidTransition, NotAllowed
from marketplace.money import Amount, format_money, has_sub_minor_digits, round_money
from marketplace.uploads import validate_deliverable_file
from milestones.models import Dispute, DisputeOutcome, DisputeStatement, Milestone, lock_milestone
from milestones.services.steps import (
    after_close,
    log,
    notify,
    other_party,
    refund_words,
    save,
    sentences,
    settle,
    transition,
    withdraw_pending_proposals,
)
from notifications.services import notification_send
from payments.ledger import escrow_balance
from payments.models import TransactionKind

# Staff with this permission (every superuser) decide disputes, and may write in them.
RESOLVE_PERMISSION = "milestones.change_dispute"


def milestone_open_dispute(
    *, milestone: Milestone, actor: User, reason: str, attachment: UploadedFile | None = None
) -> Dispute:
    """Either party asks staff to decide. The escrow is frozen, timers stop."""
    reason = (reason or "").strip()
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        order = milestone.order
        if actor is None or not order.is_party(actor):
            raise NotAllowed(_("Only the buyer or the seller can open a dispute."))
        if not reason:
            raise InvalidInput(_("Explain what went wrong, for the staff who will decide."), field="reason")
        if len(reason) > 10000:
            raise InvalidInput(_("Keep the reason to 10,000 characters or fewer."), field="reason")
        before = transition(milestone, "disputed", milestone.open_dispute, at=now)
        withdraw_pending_proposals(milestone, at=now)
        save(milestone)
        dispute = Dispute.objects.create(milestone=milestone, opened_by=actor, reason=reason)
        if attachment is not None:
            name = validate_deliverable_file(attachment)[0]
            DisputeStatement.objects.create(
                dispute=dispute,
                author=actor,
                body=_("Attached when opening the dispute."),
                attachment=attachment,
                attachment_name=name,
            )
        log(milestone, actor, "disputed", before, reason)
        notify(
            milestone,
            to=other_party(order, actor),
            event="milestone_disputed",
            message=format_lazy(
                gettext_lazy("{user} opened a dispute on “{title}”. Add your side of the story."),
                user=actor.username,
                title=milestone.title,
            ),
        )
        for staff in User.objects.filter(is_staff=True, is_active=True):
            notification_send(
                recipient=staff,
                event="milestone_disputed",
                message=format_lazy(
                    gettext_lazy("New dispute on order #{number}, “{title}”."), number=order.pk, title=milestone.title
                ),
                url=f"/admin/milestones/dispute/{dispute.pk}/change/",
            )
    return dispute


def may_write_as_staff(actor: User) -> bool:
    """Staff who may decide disputes (the admin's resolve permission) may write in one."""
    return bool(actor.is_active and actor.is_staff and actor.has_perm(RESOLVE_PERMISSION))


def dispute_add_statement(
    *,
    dispute: Dispute,
    actor: User,
    body: str,
    attachment: UploadedFile | None = None,
    idempotency_key: str | None = None,
) -> DisputeStatement:
    """A message in the dispute's thread, which both parties and staff read (on the order page
    and the dispute's admin page) while it is open: a party adds their side, staff ask and answer
    (staff who may decide it, and are not a party: no one writes as judge in their own case).

    Everyone else in the conversation is told: the other party (or both, when staff write), and
    the staff who have written in it; a party's first message after opening also reaches them.
    The same form sent twice (``idempotency_key``) adds one message.
    """
    body = (body or "").strip()
    with transaction.atomic():
        milestone = lock_milestone(dispute.milestone_id)
        dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
        order = milestone.order
        as_party = order.is_party(actor)
        if not as_party and not may_write_as_staff(actor):
            raise NotAllowed(_("Only the buyer, the seller or staff can write in this dispute."))
        if dispute.state != "open":
            raise InvalidTransition(_("This dispute is resolved; nothing more can be added."))
        if not body:
            raise InvalidInput(
                _("Write your side of the story.") if as_party else _("Write your message."), field="body"
            )
        if len(body) > 10000:
            raise InvalidInput(_("Keep it to 10,000 characters or fewer."), field="body")
        name = ""
        if attachment is not None:
            name = validate_deliverable_file(attachment)[0]
        if idempotency_key and DisputeStatement.objects.filter(idempotency_key=idempotency_key).exists():
            raise DuplicateRequest(_("This was already sent; nothing more was added."))
        try:
            with transaction.atomic():
                statement = DisputeStatement.objects.create(
                    dispute=dispute,
                    author=actor,
                    body=body,
                    attachment=attachment or "",
                    attachment_name=name,
                    idempotency_key=idempotency_key or None,
                )
        except IntegrityError:
            raise DuplicateRequest(_("This was already sent; nothing more was added.")) from None
        log(milestone, actor, "dispute_statement" if as_party else "dispute_staff_message", note=body)
        if as_party:
            notify(
                milestone,
                to=other_party(order, actor),
                event="dispute_statement",
                message=format_lazy(
                    gettext_lazy("{user} added their side to the dispute on “{title}”."),
                    user=actor.username,
                    title=milestone.title,
                ),
            )
        else:
            notify(
                milestone,
                to=(order.buyer, order.seller),
                event="dispute_staff_message",
                message=format_lazy(
                    gettext_lazy("Staff ({user}) wrote in the dispute on “{title}”: {message}"),
                    user=actor.username,
                    title=milestone.title,
                    message=f"{body[:150]}{'…' if len(body) > 150 else ''}",
                ),
            )
        for staff in _staff_in_thread(dispute, order).exclude(pk=actor.pk):
            notification_send(
                recipient=staff,
                event="dispute_statement",
                message=format_lazy(
                    gettext_lazy("{user} wrote in the dispute on order #{number}, “{title}”."),
                    user=actor.username,
                    number=order.pk,
                    title=milestone.title,
                ),
                url=f"/admin/milestones/dispute/{dispute.pk}/change/",
            )
    return statement


def _staff_in_thread(dispute: Dispute, order) -> QuerySet[User]:
    """The staff who have written in the dispute (never its parties)."""
    authors = DisputeStatement.objects.filter(dispute=dispute).values("author_id")
    return User.objects.filter(pk__in=authors, is_active=True).exclude(pk__in=[order.buyer_id, order.seller_id])


# Staff's decision in words, by (the seller's part pays commission, the buyer's part carries some
# of the service fee back): whole sentences; ``outcome`` is the decision's label.
RESOLVED_WORDS = {
    (False, False): gettext_lazy("{outcome}: {seller} to the seller, {buyer} to the buyer."),
    (True, False): gettext_lazy("{outcome}: {seller} ({net} after the {fee} fee) to the seller, {buyer} to the buyer."),
    (False, True): gettext_lazy(
        "{outcome}: {seller} to the seller, {buyer} ({buyer_part} and {fee_back} of the service fee) to the buyer."
    ),
    (True, True): gettext_lazy(
        "{outcome}: {seller} ({net} after the {fee} fee) to the seller, "
        "{buyer} ({buyer_part} and {fee_back} of the service fee) to the buyer."
    ),
}


def split_share(held: Money, percent: Decimal) -> Money:
    """The seller's part of a split given as a percentage of the escrow: rounded once, half up
    (``round_money``), so the preview staff confirm and the posting are the same figure."""
    return round_money(Money(held.amount * percent / 100, held.currency))


def dispute_resolve(
    *,
    dispute: Dispute,
    actor: User,
    outcome: str,
    seller_amount: Money | None = None,
    seller_percent: Decimal | None = None,
    note: str = "",
) -> Dispute:
    """Staff decide: release to the seller, refund the buyer, or split.

    The split pays the seller ``seller_amount`` (or ``seller_percent`` of the escrow, worked
    out here under the lock by ``split_share``) less the commission (on that
    part only) and returns the rest of the escrow to the buyer, with the same
    share of the service fee (to their balance or card, as their profile says). Two
    staff clicking at once: the first wins, the second gets ``InvalidTransition``.
    """
    note = (note or "").strip()
    now = timezone.now()
    if actor is None or not actor.is_staff:
        raise NotAllowed(_("Only staff can resolve disputes."))
    with transaction.atomic():
        milestone = lock_milestone(dispute.milestone_id)
        dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
        order = milestone.order
        currency = order.currency
        # Staff accounts buy and sell too; no one judges their own case.
        if order.is_party(actor):
            raise NotAllowed(_("You are a party to this order; another member of staff must resolve its dispute."))
        if dispute.state != "open":
            raise InvalidTransition(_("This dispute was already resolved; nothing was changed."))
        held = escrow_balance(milestone)
        if outcome == DisputeOutcome.RELEASE:
            seller_gross = held
        elif outcome == DisputeOutcome.REFUND:
            seller_gross = Money(0, currency)
        elif outcome == DisputeOutcome.SPLIT:
            if seller_percent is not None:
                if not seller_percent.is_finite() or not 0 < seller_percent < 100:
                    raise InvalidInput(
                        _(
                            "A split gives the seller more than 0% and less than 100%; "
                            "use release or refund for all of it."
                        ),
                        field="seller_amount",
                    )
                seller_amount = split_share(held, seller_percent)
            if seller_amount is None:
                raise InvalidInput(_("Enter the amount for the seller."), field="seller_amount")
            if str(seller_amount.currency) != currency:
                raise InvalidInput(
                    _("The amount must be in {currency}.").format(currency=currency), field="seller_amount"
                )
            if not seller_amount.amount.is_finite():
                raise InvalidInput(_("Enter the seller's part as a number."), field="seller_amount")
            if has_sub_minor_digits(seller_amount):
                raise InvalidInput(_("Use at most two decimal places."), field="seller_amount")
            if not (0 < seller_amount.amount < held.amount):
                raise InvalidInput(
                    _(
                        "A split gives the seller more than {low} and less than {high}; "
                        "use release or refund for all of it."
                    ).format(low=format_money(Money(0, currency)), high=format_money(held)),
                    field="seller_amount",
                )
            seller_gross = seller_amount
        else:
            raise InvalidInput(_("Unknown outcome {outcome}.").format(outcome=repr(outcome)), field="outcome")
        before = transition(milestone, "resolved", milestone.resolve, at=now)
        kind = {
            DisputeOutcome.RELEASE: TransactionKind.RELEASE,
            DisputeOutcome.REFUND: TransactionKind.REFUND,
            DisputeOutcome.SPLIT: TransactionKind.SPLIT,
        }[DisputeOutcome(outcome)]
        settlement = settle(milestone, seller_gross=seller_gross, kind=kind, actor=actor, now=now)
        earning = settlement.earning
        buyer_part = held - seller_gross
        dispute.resolve(
            by=actor, outcome=outcome, seller_amount=seller_gross, buyer_amount=buyer_part, note=note, at=now
        )
        dispute.save()
        save(milestone)
        # What each side really receives: the seller's part less the commission, the buyer's with its
        # share of the service fee (the figures ``escrow_settle`` just posted).
        summary = format_lazy(
            RESOLVED_WORDS[(earning is not None, settlement.refunded != buyer_part)],
            outcome=DisputeOutcome(outcome).label,
            seller=Amount(seller_gross),
            net=Amount(earning.net if earning is not None else seller_gross),
            fee=Amount(settlement.fee),
            buyer=Amount(settlement.refunded),
            buyer_part=Amount(buyer_part),
            fee_back=Amount(settlement.refunded - buyer_part),
        )
        log(milestone, actor, "resolved", before, f"{summary} {note}".strip())
        after_close(milestone, at=now)
        resolved = format_lazy(gettext_lazy("The dispute on “{title}” was resolved."), title=milestone.title)
        refunded = refund_words(settlement) if settlement.refunded.amount > 0 else ""
        for recipient, text in (
            (order.seller, sentences(resolved, summary)),
            (order.buyer, sentences(resolved, summary, refunded)),
        ):
            notify(milestone, to=recipient, event="dispute_resolved", message=text)
    return dispute
