"""Tips: after approving a milestone the buyer may thank its seller with money.

A tip is once per milestone, within ``TIP_WINDOW`` of its approval, at most
the milestone's amount. It is paid from the buyer's balance at once, or by
card on the provider's hosted page (a ``Checkout`` of purpose ``tip``, its
key ``checkout:tip:<milestone>:<nonce>``); either way ``payments.services.tip_pay``
posts it to the seller's pending balance less the commission, and it clears
like any earning. No service fee is charged on a tip.

Locks, as every money path: order, then milestone (``lock_milestone``), then
the checkout row, then the ledger accounts.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from accounts.models import User
from accounts.services import require_verified_email
from marketplace.errors import DomainError, InvalidInput, InvalidTransition, NotAllowed
from marketplace.money import Amount, format_money, has_sub_minor_digits
from marketplace.timewords import period_words
from milestones.models import Milestone, MilestoneState, lock_milestone
from milestones.services.steps import log, notify, require_open_accounts
from payments.checkout import (
    checkout_close,
    checkout_mark_paid,
    late_payment_refund,
    lock_checkout,
    new_checkout,
    payment_matches,
)
from payments.models import Checkout, CheckoutStatus, Tip
from payments.services import FundingSource, tip_pay

TIP_MINIMUM = "1.00"
METHODS = ("balance", "card")


def tip_closes_at(milestone: Milestone) -> datetime | None:
    """When the buyer may no longer tip this milestone (None: not approved)."""
    if milestone.state != MilestoneState.APPROVED or milestone.approved_at is None:
        return None
    return milestone.approved_at + settings.TIP_WINDOW


def tip_refusal(
    milestone: Milestone, actor: User | None, *, now: datetime | None = None, already_tipped: bool
) -> DomainError | None:
    """Why ``actor`` may not tip ``milestone`` now (the error a service would
    raise), or None if they may. ``already_tipped``: a tip was given already."""
    now = now or timezone.now()
    if actor is None or actor.pk != milestone.order.buyer_id:
        return NotAllowed(_("Only the buyer of this order can leave a tip."))
    closes = tip_closes_at(milestone)
    if closes is None:
        return InvalidTransition(_("A tip can be left once “{title}” is approved.").format(title=milestone.title))
    if already_tipped:
        return InvalidTransition(_("You already tipped for “{title}”; thank you.").format(title=milestone.title))
    if now >= closes:
        return InvalidTransition(
            _("Tips for “{title}” closed on {day}, {period} after it was approved.").format(
                title=milestone.title,
                day=formats.date_format(closes, "d M Y"),
                period=period_words(settings.TIP_WINDOW),
            )
        )
    return None


def tipped(milestone: Milestone) -> bool:
    return Tip.objects.filter(milestone_id=milestone.pk).exists()


def _check(milestone: Milestone, actor: User, amount: Money, *, now: datetime) -> None:
    refusal = tip_refusal(milestone, actor, now=now, already_tipped=tipped(milestone))
    if refusal is not None:
        raise refusal
    currency = milestone.order.currency
    if str(amount.currency) != currency:
        raise InvalidInput(
            _("Tip in {currency}, the currency of this order.").format(currency=currency), field="amount"
        )
    if has_sub_minor_digits(amount):
        raise InvalidInput(_("Use at most two decimal places."), field="amount")
    least = Money(TIP_MINIMUM, currency)
    if amount < least or amount > milestone.amount:
        raise InvalidInput(
            _("A tip is between {low} and {high}, the milestone's amount.").format(
                low=format_money(least), high=format_money(milestone.amount)
            ),
            field="amount",
        )


def tip_leave(*, milestone: Milestone, actor: User, amount: Money, method: str) -> Tip | Checkout:
    """The buyer tips the seller of an approved milestone.

    From the balance the tip is paid at once and the ``Tip`` returned. By
    card an open ``Checkout`` is returned, which the caller sends the buyer
    to after commit; the tip is paid when the provider confirms it
    (``tip_checkout_paid``). A second card attempt with the same amount
    reuses the open checkout; a different amount replaces it.
    """
    if method not in METHODS:
        raise InvalidInput(_("Choose how to pay the tip."), field="method")
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _check(milestone, actor, amount, now=now)
        require_open_accounts(milestone.order, "a tip")
        require_verified_email(actor, "leave a tip")
        if method == "card":
            return _tip_checkout(milestone, actor, amount)
        tip = tip_pay(milestone=milestone, buyer=actor, amount=amount, source=FundingSource(method="balance"), now=now)
        _tipped_notices(milestone, tip, actor=actor)
    return tip


def _tip_checkouts(milestone: Milestone):
    return Checkout.objects.filter(purpose="tip", idempotency_key__startswith=f"checkout:tip:{milestone.pk}:")


def open_tip_checkout(milestone: Milestone) -> Checkout | None:
    """The newest open card checkout of a tip on this milestone, if any."""
    return _tip_checkouts(milestone).filter(status=CheckoutStatus.OPEN).order_by("-pk").first()


def _tip_checkout(milestone: Milestone, buyer: User, amount: Money) -> Checkout:
    for checkout in _tip_checkouts(milestone).select_for_update().filter(status=CheckoutStatus.OPEN):
        if checkout.amount == amount:
            return checkout
        checkout_close(checkout, status=CheckoutStatus.CANCELLED)
    return new_checkout(
        purpose="tip",
        buyer=buyer,
        amount=amount,
        key=f"tip:{milestone.pk}:{uuid.uuid4().hex[:8]}",
        expires_in=settings.CHECKOUT_EXPIRY,
    )


def _tipped_notices(milestone: Milestone, tip: Tip, *, actor: User) -> None:
    log(milestone, actor, "tipped", note=_("{amount} tip").format(amount=format_money(tip.amount)))
    notify(
        milestone,
        to=milestone.order.seller,
        event="tip_received",
        message=format_lazy(
            gettext_lazy(
                "{user} left you a {amount} tip for “{title}”. It clears with your earnings, less the commission."
            ),
            user=actor.username,
            amount=Amount(tip.amount),
            title=milestone.title,
        ),
    )


def tip_milestone_id(checkout: Checkout) -> int:
    return int(checkout.idempotency_key.split(":")[2])


def tip_checkout_description(checkout: Checkout) -> str:
    milestone = Milestone.objects.select_related("order").get(pk=tip_milestone_id(checkout))
    return _("A tip for milestone “{title}” of order “{order}”").format(
        title=milestone.title, order=milestone.order.title
    )


def tip_checkout_paid(checkout_id: int, payment_reference: str, amount: Money) -> str:
    """The card paid the tip: it is posted, if it still may be given; else
    the payment goes back to the card. Locks: order, milestone, checkout."""
    milestone_id = tip_milestone_id(Checkout.objects.get(pk=checkout_id))
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        checkout = lock_checkout(checkout_id)
        if checkout.status == CheckoutStatus.PAID and checkout.payment_reference == payment_reference:
            return "already paid"
        already = tipped(milestone)
        # The window is checked when the buyer starts paying; a payment that lands after it closes still counts.
        seller_closed = not milestone.order.seller.is_active
        still_due = (
            checkout.status == CheckoutStatus.OPEN
            and not already
            and milestone.state == MilestoneState.APPROVED
            and not seller_closed
        )
        if still_due and payment_matches(checkout, payment_reference=payment_reference, amount=amount):
            checkout_mark_paid(checkout, payment_reference=payment_reference)
            source = FundingSource(method="checkout", payment_reference=payment_reference)
            tip = tip_pay(milestone=milestone, buyer=checkout.buyer, amount=amount, source=source, now=now)
            _tipped_notices(milestone, tip, actor=checkout.buyer)
            return "tip paid"
        why = "after a tip was already given" if already else "after the checkout closed"
        if seller_closed and not already:
            why = "after the seller closed their account"
        if still_due:
            why = "for a different amount"
        elif checkout.status == CheckoutStatus.OPEN:
            checkout_close(checkout, status=CheckoutStatus.CANCELLED)
        return late_payment_refund(checkout, payment_reference=payment_reference, amount=amount, why=why)


def tip_checkout_expired(checkout_id: int, *, now: datetime | None = None) -> str:
    """The tip was not paid in time: the checkout closes; nothing else changes."""
    milestone_id = tip_milestone_id(Checkout.objects.get(pk=checkout_id))
    with transaction.atomic():
        lock_milestone(milestone_id)
        checkout = lock_checkout(checkout_id)
        if checkout.status != CheckoutStatus.OPEN:
            return f"nothing to expire ({checkout.status})"
        checkout_close(checkout, status=CheckoutStatus.EXPIRED)
    return "expired"


def tip_checkouts_close_for(user: User) -> int:
    """The account of ``user`` is closing: the open card checkouts of tips they started, and of
    tips to them as the seller, are cancelled (a payment landing later goes back to the card,
    ``tip_checkout_paid``). Inside the caller's transaction; returns how many closed."""
    # Only a milestone still inside its tip window can have a tip checkout open.
    milestone_ids = Milestone.objects.filter(
        order__seller=user,
        state=MilestoneState.APPROVED,
        approved_at__gt=timezone.now() - settings.TIP_WINDOW - settings.CHECKOUT_EXPIRY,
    ).values_list("pk", flat=True)
    keys = Q(buyer=user)
    for milestone_id in milestone_ids:
        keys |= Q(idempotency_key__startswith=f"checkout:tip:{milestone_id}:")
    closing = Checkout.objects.select_for_update().filter(keys, purpose="tip", status=CheckoutStatus.OPEN)
    count = 0
    for checkout in closing:
        checkout_close(checkout, status=CheckoutStatus.CANCELLED)
        count += 1
    return count
