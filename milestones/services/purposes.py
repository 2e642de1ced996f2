"""What a paid or an expired checkout does, per purpose: ``milestone`` (a
milestone paid by card, or an offer accepted by card) and ``changes`` (the
difference of accepted changes). ``CHECKOUT_PURPOSES`` is registered with
``payments.checkout`` in ``MilestonesConfig.ready``, with the purpose ``tip``
(``tips``); the webhook and the buyer's return page call them through
payments, which never imports milestones.

Each is idempotent and safe against every order of events: a second report
of the same payment changes nothing; a payment that can no longer apply, a
second payment, or one of another amount is refunded to the card."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from marketplace.money import format_money
from milestones.models import MilestoneState, Proposal, lock_milestone
from milestones.services import packages, tips
from milestones.services.changes import changes_apply, changes_money
from milestones.services.creation import after_funding
from milestones.services.proposals import lock_proposal
from milestones.services.steps import fund_transition, log, notify, refresh_order, save, transition
from payments.checkout import (
    CheckoutPurpose,
    checkout_close,
    checkout_mark_paid,
    late_payment_refund,
    lock_checkout,
    payment_matches,
)
from payments.models import Checkout, CheckoutStatus
from payments.services import FundingSource, escrow_fund

S = MilestoneState


def checkout_description(checkout: Checkout) -> str:
    milestone = checkout.milestone
    assert milestone is not None
    return _("Milestone “{title}” of order “{order}” (escrow plus service fee)").format(
        title=milestone.title, order=milestone.order.title
    )


def milestone_checkout_paid(checkout_id: int, payment_reference: str, amount: Money) -> str:
    """The provider says the checkout is paid: fund escrow, await the seller.

    Idempotent, and safe against every order of events: a second report of
    the same payment changes nothing; a payment for a milestone no longer
    waiting (its checkout expired or was cancelled), a second payment, or a
    payment of another amount is refunded to the card, never funds it.
    Locks: order, milestone, checkout, then the ledger's accounts.
    """
    milestone_id = Checkout.objects.values_list("milestone_id", flat=True).get(pk=checkout_id)
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        checkout = lock_checkout(checkout_id)
        if checkout.status == CheckoutStatus.PAID and checkout.payment_reference == payment_reference:
            return "already funded"
        if checkout.status == CheckoutStatus.OPEN and milestone.state == S.AWAITING_PAYMENT:
            if payment_matches(checkout, payment_reference=payment_reference, amount=amount):
                escrow_fund(
                    milestone=milestone,
                    buyer=checkout.buyer,
                    source=FundingSource(method="checkout", payment_reference=payment_reference),
                    key=milestone.funding_key,
                )
                checkout_mark_paid(checkout, payment_reference=payment_reference)
                before = fund_transition(milestone, at=timezone.now())
                save(milestone)
                log(
                    milestone,
                    checkout.buyer,
                    "funded",
                    before,
                    _("{amount} paid by card").format(amount=format_money(amount)),
                )
                after_funding(milestone, actor=checkout.buyer)
                return "funded"
            return late_payment_refund(
                checkout, payment_reference=payment_reference, amount=amount, why="for a different amount"
            )
        why = "after the checkout had closed" if checkout.status != CheckoutStatus.PAID else "a second time"
        return late_payment_refund(checkout, payment_reference=payment_reference, amount=amount, why=why)


def milestone_checkout_expired(checkout_id: int, *, now: datetime | None = None) -> str:
    """An unpaid checkout ran out: the milestone closes, no money moved."""
    now = now or timezone.now()
    milestone_id = Checkout.objects.values_list("milestone_id", flat=True).get(pk=checkout_id)
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        checkout = lock_checkout(checkout_id)
        if checkout.status != CheckoutStatus.OPEN or milestone.state != S.AWAITING_PAYMENT:
            return f"nothing to expire ({checkout.status})"
        checkout_close(checkout, status=CheckoutStatus.EXPIRED)
        before = transition(milestone, "payment expired", milestone.expire_payment, at=now)
        save(milestone)
        log(milestone, None, "payment_expired", before, _("The checkout closed unpaid; nothing was charged."))
        refresh_order(milestone.order)
        notify(
            milestone,
            to=milestone.order.buyer,
            event="checkout_expired",
            message=format_lazy(
                gettext_lazy(
                    "“{title}” was not paid in time and has closed; nothing was charged. "
                    "Add it again when you are ready."
                ),
                title=milestone.title,
            ),
        )
    return "expired"


def _changes_proposal_of(checkout_id: int) -> int:
    """The proposal a checkout of a difference was for: its current one, or an
    earlier checkout it replaced (its key is ``checkout:changes:<proposal>:<nonce>``)."""
    current = Proposal.objects.filter(checkout_id=checkout_id).values_list("pk", flat=True).first()
    if current is not None:
        return current
    key = Checkout.objects.values_list("idempotency_key", flat=True).get(pk=checkout_id)
    return int(key.split(":")[2])


def changes_checkout_description(checkout: Checkout) -> str:
    proposal = Proposal.objects.select_related("milestone__order").get(pk=_changes_proposal_of(checkout.pk))
    return _("A higher amount for milestone “{title}” of order “{order}”").format(
        title=proposal.milestone.title, order=proposal.milestone.order.title
    )


def changes_checkout_paid(checkout_id: int, payment_reference: str, amount: Money) -> str:
    """The difference is paid: the changes apply, if they still can; else the
    payment goes back to the card. Locks: order, milestone, proposal, checkout."""
    proposal_id = _changes_proposal_of(checkout_id)
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = lock_proposal(proposal_id)
        checkout = lock_checkout(checkout_id)
        if checkout.status == CheckoutStatus.PAID and checkout.payment_reference == payment_reference:
            return "already applied"
        still_due = (
            checkout.status == CheckoutStatus.OPEN
            and proposal.checkout_id == checkout.pk
            and proposal.is_pending
            and milestone.state == S.AWAITING_ACCEPTANCE
            and changes_money(milestone, proposal).total == checkout.amount
        )
        if still_due and payment_matches(checkout, payment_reference=payment_reference, amount=amount):
            checkout_mark_paid(checkout, payment_reference=payment_reference)
            changes_apply(
                milestone,
                proposal,
                actor=checkout.buyer,
                now=now,
                source=FundingSource(method="checkout", payment_reference=payment_reference),
            )
            return "changes applied"
        why = "after the changes could no longer apply" if not still_due else "for a different amount"
        if checkout.status == CheckoutStatus.OPEN and not still_due:
            checkout_close(checkout, status=CheckoutStatus.CANCELLED)
        return late_payment_refund(checkout, payment_reference=payment_reference, amount=amount, why=why)


def changes_checkout_expired(checkout_id: int, *, now: datetime | None = None) -> str:
    """The difference was not paid in time: the checkout closes; the proposal
    stays as it was (the buyer may accept again until it lapses)."""
    proposal_id = _changes_proposal_of(checkout_id)
    with transaction.atomic():
        lock_proposal(proposal_id)
        checkout = lock_checkout(checkout_id)
        if checkout.status != CheckoutStatus.OPEN:
            return f"nothing to expire ({checkout.status})"
        checkout_close(checkout, status=CheckoutStatus.EXPIRED)
    return "expired"


CHECKOUT_PURPOSES: dict[str, CheckoutPurpose] = {
    "milestone": CheckoutPurpose(
        description=checkout_description, paid=milestone_checkout_paid, expired=milestone_checkout_expired
    ),
    "tip": CheckoutPurpose(
        description=tips.tip_checkout_description, paid=tips.tip_checkout_paid, expired=tips.tip_checkout_expired
    ),
    "continue": CheckoutPurpose(
        description=packages.continue_checkout_description,
        paid=packages.continue_checkout_paid,
        expired=packages.continue_checkout_expired,
    ),
    "changes": CheckoutPurpose(
        description=changes_checkout_description, paid=changes_checkout_paid, expired=changes_checkout_expired
    ),
}
