"""Adding a milestone: the rules of its terms (shared with the forms), the
buyer creating and paying one, and what happens once one is paid for
(``after_funding``, also for a seller's offer). See the package's docstring
for the steps every service takes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from accounts.models import User
from accounts.services import require_verified_email
from marketplace.errors import DuplicateRequest, InvalidInput, InvalidTransition
from marketplace.money import Amount, format_money, has_sub_minor_digits
from marketplace.text import clean_text
from milestones.models import Milestone, MilestoneState
from milestones.selectors import next_position
from milestones.services.steps import log, notify, refresh_order, require_buyer, require_open_accounts
from orders.models import Order, OrderStatus, lock_order
from payments.checkout import new_checkout
from payments.fees import buyer_service_fee
from payments.models import Checkout
from payments.services import FundingSource, escrow_fund

S = MilestoneState


def milestone_terms_errors(
    *, order: Order, title: str | None, description: str | None, deadline: datetime | None, amount: Money | None
) -> list[InvalidInput]:
    """Every rule the terms break, one per field (a field given as None was
    refused already, by the form, and is not checked again)."""
    errors: list[InvalidInput] = []
    if title is not None:
        if not clean_text(title):
            errors.append(InvalidInput(_("Give the milestone a title."), field="title"))
        elif len(title.strip()) > 200:
            errors.append(InvalidInput(_("Keep the title to 200 characters or fewer."), field="title"))
    if description is not None:
        if not clean_text(description):
            errors.append(
                InvalidInput(_("Describe the deliverables, so both sides know what “done” means."), field="description")
            )
        elif len(description) > 10000:
            errors.append(InvalidInput(_("Keep the description to 10,000 characters or fewer."), field="description"))
    if deadline is not None and deadline <= timezone.now():
        errors.append(InvalidInput(_("The deadline must be in the future."), field="deadline"))
    if amount is not None:
        error = _amount_error(order, amount)
        if error is not None:
            errors.append(error)
    return errors


def _amount_error(order: Order, amount: Money) -> InvalidInput | None:
    if str(amount.currency) != order.currency:
        return InvalidInput(
            _("This order is paid in {currency}; the amount must be in {currency} too.").format(
                currency=order.currency
            ),
            field="amount",
        )
    # NaN and Infinity are Decimals too; rounding or comparing them raises instead of refusing.
    if not amount.amount.is_finite():
        return InvalidInput(_("Enter the amount as a number."), field="amount")
    if has_sub_minor_digits(amount):
        return InvalidInput(_("Use at most two decimal places."), field="amount")
    low = Money(Decimal(settings.MILESTONE_MIN_AMOUNT), order.currency)
    high = Money(Decimal(settings.MILESTONE_MAX_AMOUNT), order.currency)
    if not low <= amount <= high:
        return InvalidInput(
            _("The amount must be between {low} and {high}.").format(low=format_money(low), high=format_money(high)),
            field="amount",
        )
    return None


def milestone_validate_terms(*, order: Order, title: str, description: str, deadline: datetime, amount: Money) -> None:
    """The rules for a milestone's terms, shared by the form and the service: the first one broken."""
    if deadline is None:
        raise InvalidInput(_("The deadline must be in the future."), field="deadline")
    errors = milestone_terms_errors(order=order, title=title, description=description, deadline=deadline, amount=amount)
    if errors:
        raise errors[0]


def new_milestone(
    order: Order,
    *,
    key: str,
    already: str,
    title: str,
    description: str,
    deadline: datetime,
    amount: Money,
    state: str,
    **extra,
) -> Milestone:
    """The next phase of the order, its terms checked; the buyer's and the
    seller's ways of adding one share it. Caller holds the order lock and has
    checked the actor's right. The same form's key twice raises
    ``DuplicateRequest`` (``already``) carrying the milestone if it is this order's."""
    existing = Milestone.objects.filter(funding_key=key).first()
    if existing is not None:
        raise DuplicateRequest(already, obj=existing if existing.order_id == order.pk else None)
    if order.status == OrderStatus.COMPLETED:
        raise InvalidTransition(_("This order is complete; no milestones can be added."))
    milestone_validate_terms(order=order, title=title, description=description, deadline=deadline, amount=amount)
    return Milestone.objects.create(
        order=order,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        position=next_position(order),
        title=title.strip(),
        description=description.strip(),
        deadline=deadline,
        amount=amount,
        buyer_fee=buyer_service_fee(amount),
        funding_key=key,
        state=state,
        **extra,
    )


def card_checkout(milestone: Milestone, *, buyer: User) -> Checkout:
    """The hosted checkout of a milestone paid by card; opened with the provider after commit."""
    return new_checkout(
        purpose="milestone",
        buyer=buyer,
        amount=milestone.total_charged,
        key=milestone.funding_key,
        expires_in=settings.CHECKOUT_EXPIRY,
        milestone=milestone,
    )


def milestone_create(
    *,
    order: Order,
    actor: User,
    title: str,
    description: str,
    deadline: datetime,
    amount: Money,
    source: FundingSource,
    idempotency_key: str,
    revisions_included: int | None = None,
) -> Milestone:
    """The buyer adds a phase and pays for it.

    From the balance (``source.method == "balance"``) it is funded at once and
    awaits the seller's acceptance. By card (``"checkout"``) it is recorded
    ``awaiting_payment`` with an open ``Checkout``; the caller then sends the
    buyer to the provider's page (``payments.checkout.checkout_open``, after
    this commits), and the payment funds it (``milestone_checkout_paid``).

    ``idempotency_key`` comes from the form: the same form posted twice
    (double click, back button, two tabs) raises ``DuplicateRequest`` carrying
    the milestone it created the first time, and charges nothing more.
    """
    if not idempotency_key:
        raise InvalidInput(_("The form has expired; please fill it in again."))
    if source.method not in ("balance", "checkout"):
        raise InvalidInput(_("Unknown payment method {method}.").format(method=repr(source.method)), field="method")
    with transaction.atomic():
        order = lock_order(order.pk)
        # The right to act comes first: a duplicate answer carries the milestone,
        # which only this order's buyer may see.
        require_buyer(order, actor, "create milestones")
        require_open_accounts(order, "a new milestone")
        require_verified_email(actor, "pay for a milestone")
        by_card = source.method == "checkout"
        milestone = new_milestone(
            order,
            key=idempotency_key,
            already=_("This milestone was already created."),
            title=title,
            description=description,
            deadline=deadline,
            amount=amount,
            state=S.AWAITING_PAYMENT if by_card else S.AWAITING_ACCEPTANCE,
            revisions_included=revisions_included,
        )
        if by_card:
            card_checkout(milestone, buyer=actor)
            log(
                milestone,
                actor,
                "created",
                "",
                _("{amount} to pay by card").format(amount=format_money(milestone.total_charged)),
            )
            return milestone
        escrow_fund(milestone=milestone, buyer=actor, source=source, key=idempotency_key)
        log(milestone, actor, "created", "", _("{amount} funded into escrow").format(amount=format_money(amount)))
        after_funding(milestone, actor=actor)
    return milestone


def after_funding(milestone: Milestone, *, actor: User) -> None:
    """Paid into escrow (from the balance, or the card's payment arrived): the
    order is active and the seller is told."""
    order = milestone.order
    refresh_order(order)
    if milestone.is_offer:
        started = milestone.state == S.IN_PROGRESS
        notify(
            milestone,
            to=order.seller,
            event="offer_accepted",
            message=format_lazy(
                gettext_lazy("{user} accepted and paid your offer “{title}” ({amount} in escrow). Work starts now.")
                if started
                else gettext_lazy(
                    "{user} accepted and paid your offer “{title}” ({amount} in escrow). "
                    "It starts when the current milestone closes."
                ),
                user=actor.username,
                title=milestone.title,
                amount=Amount(milestone.amount),
            ),
        )
        return
    notify(
        milestone,
        to=order.seller,
        event="milestone_created",
        message=format_lazy(
            gettext_lazy("{user} created and funded “{title}” ({amount}). Accept it to start."),
            user=actor.username,
            title=milestone.title,
            amount=Amount(milestone.amount),
        ),
    )
