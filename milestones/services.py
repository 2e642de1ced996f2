"""Every milestone transition, one service each (ARCHITECTURE.md, "Rules every write follows").

Each service, in one ``transaction.atomic()``:

1. locks the order, then the milestone (``lock_order``, ``lock_milestone``);
2. checks the actor's right to act, then the input;
3. applies the django-fsm transition (which refuses a second click: the
   state it needs is gone);
4. moves money through ``payments.services`` (which locks the accounts last);
5. writes the activity log and the notifications;
6. leaves e-mails and tasks to ``transaction.on_commit``.

A ``DomainError`` leaves everything as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from djmoney.money import Money

from accounts.models import User
from accounts.services import require_verified_email
from gigs.models import Gig
from marketplace.errors import DuplicateRequest, InvalidInput, InvalidTransition, NotAllowed
from marketplace.money import format_money, has_sub_minor_digits
from marketplace.text import clean_text, sentence
from marketplace.timewords import period_words
from marketplace.uploads import validate_deliverable_file
from milestones.models import (
    DEADLINE_STATES,
    IN_WORK_STATES,
    OPEN_STATES,
    UNPAID_STATES,
    Delivery,
    DeliveryFile,
    Dispute,
    DisputeOutcome,
    DisputeStatement,
    Milestone,
    MilestoneReminder,
    MilestoneState,
    Proposal,
    ProposalKind,
    ProposalState,
    RevisionRequest,
    lock_milestone,
    lock_open_milestones,
    save_changed,
)
from notifications.services import notification_send
from orders.models import Order, OrderStatus, lock_order
from orders.services import activity_record, order_create, order_refresh_status
from payments.checkout import (
    checkout_close,
    checkout_mark_paid,
    late_payment_refund,
    lock_checkout,
    new_checkout,
    payment_matches,
)
from payments.fees import buyer_service_fee
from payments.ledger import escrow_balance
from payments.models import Checkout, CheckoutStatus, TransactionKind
from payments.services import (
    REFUND_TO_BALANCE,
    REFUND_TO_CARD,
    FundingSource,
    Settlement,
    card_payment_of,
    card_refund_room,
    escrow_fund,
    escrow_reduce,
    escrow_settle,
    escrow_top_up,
)

S = MilestoneState
P = ProposalState
MAX_LINKS = 10


def _refused(milestone: Milestone, action: str) -> InvalidTransition:
    """The message a second click (or a stale tab) gets."""
    return InvalidTransition(
        f"“{milestone.title}” is {milestone.get_state_display().lower()}, so it cannot be {action} now. "
        "Nothing was changed; reload to see its current state."
    )


def _transition(milestone: Milestone, action: str, method, **kwargs) -> str:
    before = milestone.state
    try:
        method(**kwargs)
    except TransitionNotAllowed:
        raise _refused(milestone, action) from None
    return before


def _save(milestone: Milestone) -> None:
    # ConcurrentTransitionMixin adds "AND state = <as loaded>" to this UPDATE;
    # with the row lock held it cannot fail, it is the belt to those braces.
    save_changed(milestone)


def _log(milestone: Milestone, actor: User | None, verb: str, before: str, note: str = "") -> None:
    activity_record(
        order=milestone.order,
        milestone=milestone,
        actor=actor,
        verb=verb,
        from_state=before,
        to_state=milestone.state,
        note=note,
    )


def _require_buyer(order: Order, actor: User | None, action: str) -> None:
    if actor is None or actor.pk != order.buyer_id:
        raise NotAllowed(f"Only the buyer of this order can {action}.")


def _require_seller(order: Order, actor: User | None, action: str) -> None:
    if actor is None or actor.pk != order.seller_id:
        raise NotAllowed(f"Only the seller of this order can {action}.")


def _activate_next(order: Order, *, at: datetime) -> bool:
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
    before = _transition(first_open, "started", first_open.activate, at=at)
    _save(first_open)
    _log(first_open, None, "started", before, note="Started automatically after the previous milestone closed.")
    notification_send(
        recipient=order.seller,
        event="milestone_started",
        message=f"“{first_open.title}” has started; it is due {first_open.deadline:%d %b %Y %H:%M}.",
        url=first_open.get_absolute_url(),
    )
    return True


def _has_open_milestone(order: Order) -> bool:
    return Milestone.objects.filter(order=order).open().exists()


def _refresh_order(order: Order) -> None:
    """The order's status follows its milestones: active while one is open."""
    order_refresh_status(order=order, has_open_milestone=_has_open_milestone(order))


def _settle(
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


def refund_words(settlement: Settlement) -> str:
    """Where the buyer's money went, for the notices."""
    if settlement.refunded_to == REFUND_TO_CARD:
        return f"{format_money(settlement.refunded)} is being refunded to your card"
    return f"{format_money(settlement.refunded)} is back in your balance"


def _after_close(milestone: Milestone, *, at: datetime) -> None:
    # Requests on a closed milestone have nothing left to change.
    _withdraw_pending_proposals(milestone, at=at)
    has_open = _activate_next(milestone.order, at=at)
    order_refresh_status(order=milestone.order, has_open_milestone=has_open)


# --- create ---------------------------------------------------------------------


def milestone_terms_errors(
    *, order: Order, title: str | None, description: str | None, deadline: datetime | None, amount: Money | None
) -> list[InvalidInput]:
    """Every rule the terms break, one per field (a field given as None was
    refused already, by the form, and is not checked again)."""
    errors: list[InvalidInput] = []
    if title is not None:
        if not clean_text(title):
            errors.append(InvalidInput("Give the milestone a title.", field="title"))
        elif len(title.strip()) > 200:
            errors.append(InvalidInput("Keep the title to 200 characters or fewer.", field="title"))
    if description is not None:
        if not clean_text(description):
            errors.append(
                InvalidInput("Describe the deliverables, so both sides know what “done” means.", field="description")
            )
        elif len(description) > 10000:
            errors.append(InvalidInput("Keep the description to 10,000 characters or fewer.", field="description"))
    if deadline is not None and deadline <= timezone.now():
        errors.append(InvalidInput("The deadline must be in the future.", field="deadline"))
    if amount is not None:
        error = _amount_error(order, amount)
        if error is not None:
            errors.append(error)
    return errors


def _amount_error(order: Order, amount: Money) -> InvalidInput | None:
    if str(amount.currency) != order.currency:
        return InvalidInput(
            f"This order is paid in {order.currency}; the amount must be in {order.currency} too.", field="amount"
        )
    # NaN and Infinity are Decimals too; rounding or comparing them raises instead of refusing.
    if not amount.amount.is_finite():
        return InvalidInput("Enter the amount as a number.", field="amount")
    if has_sub_minor_digits(amount):
        return InvalidInput(f"{order.currency} amounts have at most two decimal places.", field="amount")
    low = Money(Decimal(settings.MILESTONE_MIN_AMOUNT), order.currency)
    high = Money(Decimal(settings.MILESTONE_MAX_AMOUNT), order.currency)
    if not low <= amount <= high:
        return InvalidInput(f"The amount must be between {format_money(low)} and {format_money(high)}.", field="amount")
    return None


def milestone_validate_terms(*, order: Order, title: str, description: str, deadline: datetime, amount: Money) -> None:
    """The rules for a milestone's terms, shared by the form and the service: the first one broken."""
    if deadline is None:
        raise InvalidInput("The deadline must be in the future.", field="deadline")
    errors = milestone_terms_errors(order=order, title=title, description=description, deadline=deadline, amount=amount)
    if errors:
        raise errors[0]


def _new_milestone(
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
        raise InvalidTransition("This order is complete; no milestones can be added.")
    milestone_validate_terms(order=order, title=title, description=description, deadline=deadline, amount=amount)
    return Milestone.objects.create(
        order=order,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        position=_next_position(order),
        title=title.strip(),
        description=description.strip(),
        deadline=deadline,
        amount=amount,
        buyer_fee=buyer_service_fee(amount),
        funding_key=key,
        state=state,
        **extra,
    )


def _card_checkout(milestone: Milestone, *, buyer: User) -> Checkout:
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
        raise InvalidInput("The form has expired; please fill it in again.")
    if source.method not in ("balance", "checkout"):
        raise InvalidInput(f"Unknown payment method {source.method!r}.", field="method")
    with transaction.atomic():
        order = lock_order(order.pk)
        # The right to act comes first: a duplicate answer carries the milestone,
        # which only this order's buyer may see.
        _require_buyer(order, actor, "create milestones")
        require_verified_email(actor, "pay for a milestone")
        by_card = source.method == "checkout"
        milestone = _new_milestone(
            order,
            key=idempotency_key,
            already="This milestone was already created.",
            title=title,
            description=description,
            deadline=deadline,
            amount=amount,
            state=S.AWAITING_PAYMENT if by_card else S.AWAITING_ACCEPTANCE,
        )
        if by_card:
            _card_checkout(milestone, buyer=actor)
            activity_record(
                order=order,
                milestone=milestone,
                actor=actor,
                verb="created",
                to_state=milestone.state,
                note=f"{format_money(milestone.total_charged)} to pay by card",
            )
            return milestone
        escrow_fund(milestone=milestone, buyer=actor, source=source, key=idempotency_key)
        activity_record(
            order=order,
            milestone=milestone,
            actor=actor,
            verb="created",
            to_state=milestone.state,
            note=f"{format_money(amount)} funded into escrow",
        )
        _funded(milestone, actor=actor)
    return milestone


def _earlier_open(milestone: Milestone) -> bool:
    """Whether it must queue: an earlier milestone is still open, or another
    is in work already (a later one may have started while an earlier offer
    waited unpaid). One milestone of an order is in work at a time."""
    return (
        Milestone.objects.filter(order_id=milestone.order_id)
        .exclude(pk=milestone.pk)
        .filter(Q(position__lt=milestone.position, state__in=OPEN_STATES) | Q(state__in=IN_WORK_STATES))
        .exists()
    )


def _fund_transition(milestone: Milestone, *, at: datetime) -> str:
    """Paid: a buyer's milestone awaits the seller; an offer starts, or queues
    behind an earlier open milestone. Returns the state before."""
    return _transition(milestone, "funded", milestone.fund, start_now=not _earlier_open(milestone), at=at)


def _funded(milestone: Milestone, *, actor: User) -> None:
    order = milestone.order
    _refresh_order(order)
    if milestone.is_offer:
        started = milestone.state == S.IN_PROGRESS
        notification_send(
            recipient=order.seller,
            event="offer_accepted",
            message=f"{actor.username} accepted and paid your offer “{milestone.title}” "
            f"({format_money(milestone.amount)} in escrow). "
            + ("Work starts now." if started else "It starts when the current milestone closes."),
            url=milestone.get_absolute_url(),
        )
        return
    notification_send(
        recipient=order.seller,
        event="milestone_created",
        message=f"{actor.username} created and funded “{milestone.title}” ({format_money(milestone.amount)}). "
        "Accept it to start.",
        url=milestone.get_absolute_url(),
    )


# --- seller offers: a new milestone the seller proposes and the buyer pays -------------------


def _next_position(order: Order) -> int:
    return (Milestone.objects.filter(order=order).aggregate(m=Max("position"))["m"] or 0) + 1


def offer_create(
    *,
    order: Order,
    actor: User,
    title: str,
    description: str,
    deadline: datetime,
    amount: Money,
    idempotency_key: str,
) -> Milestone:
    """The seller proposes a new milestone (an add-on, or the first one of a
    custom offer). Nothing is charged: the buyer answers with "Accept and
    pay" (``offer_accept``) or "Decline offer"; unanswered, it expires after
    ``OFFER_EXPIRY``. Once paid it starts, or queues, as if already accepted."""
    if not idempotency_key:
        raise InvalidInput("The form has expired; please fill it in again.")
    expires = timezone.now() + settings.OFFER_EXPIRY
    with transaction.atomic():
        order = lock_order(order.pk)
        _require_seller(order, actor, "offer a milestone")
        milestone = _new_milestone(
            order,
            key=idempotency_key,
            already="This offer was already sent.",
            title=title,
            description=description,
            deadline=deadline,
            amount=amount,
            state=S.OFFERED,
            offer_expires_at=expires,
        )
        activity_record(
            order=order,
            milestone=milestone,
            actor=actor,
            verb="offered",
            to_state=milestone.state,
            note=f"{format_money(amount)}, due {_when_words(deadline)}",
        )
        notification_send(
            recipient=order.buyer,
            event="offer_received",
            message=f"{actor.username} offers a new milestone, “{milestone.title}”, for "
            f"{format_money(amount)}. Accept and pay, or decline it, by {_when_words(expires)}.",
            url=milestone.get_absolute_url(),
        )
    return milestone


def custom_offer_create(
    *,
    gig: Gig,
    seller: User,
    buyer: User,
    order_title: str,
    title: str,
    description: str,
    deadline: datetime,
    amount: Money,
    idempotency_key: str,
) -> Milestone:
    """From the gig page, the seller offers a buyer who has been in touch a
    first milestone: one transaction opens the order and makes the offer."""
    if gig.seller_id != seller.pk:
        raise NotAllowed("Only the gig's seller can send a custom offer from it.")
    if not Order.objects.filter(seller=seller, buyer=buyer).exists():
        raise InvalidInput("Send custom offers to buyers who have contacted you.", field="buyer")
    with transaction.atomic():
        existing = Milestone.objects.filter(funding_key=idempotency_key).first() if idempotency_key else None
        if existing is not None:
            raise DuplicateRequest("This offer was already sent.", obj=None)
        order = order_create(buyer=buyer, gig=gig, title=order_title, brief="", by_seller=True)
        return offer_create(
            order=order,
            actor=seller,
            title=title,
            description=description,
            deadline=deadline,
            amount=amount,
            idempotency_key=idempotency_key,
        )


def offer_consequence(milestone: Milestone) -> str:
    """What "Accept and pay" does with the money, for its confirmation page."""
    return (
        f"{format_money(milestone.total_charged)} ({format_money(milestone.amount)} and the "
        f"{format_money(milestone.buyer_fee)} service fee) is charged now; {format_money(milestone.amount)} is held "
        f"in escrow until you approve the work, and {milestone.order.seller.username} starts at once "
        "(or when the current milestone closes)."
    )


def offer_accept(*, milestone: Milestone, actor: User, source: FundingSource) -> Milestone:
    """The buyer accepts an offer and pays: from the balance it is funded and
    starts (or queues) at once; by card it waits for the provider's page
    (``awaiting_payment``, with a checkout the caller opens after commit)."""
    if source.method not in ("balance", "checkout"):
        raise InvalidInput(f"Unknown payment method {source.method!r}.", field="method")
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        order = milestone.order
        _require_buyer(order, actor, "accept an offer")
        require_verified_email(actor, "pay for an offer")
        if milestone.state == S.OFFERED and milestone.offer_expires_at and milestone.offer_expires_at <= now:
            raise InvalidTransition(f"The offer “{milestone.title}” has expired; ask the seller for a new one.")
        if order.status == OrderStatus.COMPLETED:
            raise InvalidTransition("This order is complete; no milestones can be added.")
        if source.method == "checkout":
            before = _transition(milestone, "accepted", milestone.offer_checkout)
            _save(milestone)
            _card_checkout(milestone, buyer=actor)
            _log(milestone, actor, "offer_accepted", before, f"{format_money(milestone.total_charged)} to pay by card")
            return milestone
        if milestone.state != S.OFFERED:
            raise _refused(milestone, "accepted")
        escrow_fund(milestone=milestone, buyer=actor, source=source, key=milestone.funding_key)
        before = _fund_transition(milestone, at=now)
        _save(milestone)
        _log(milestone, actor, "offer_accepted", before, f"{format_money(milestone.amount)} funded into escrow")
        _funded(milestone, actor=actor)
    return milestone


def offer_decline(*, milestone: Milestone, actor: User, reason: str = "") -> Milestone:
    """The buyer says no to an offer; nothing was charged, nothing moves."""
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise InvalidInput("Keep the reason to 2,000 characters or fewer.", field="reason")
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _require_buyer(milestone.order, actor, "decline an offer")
        before = _transition(milestone, "declined", milestone.decline_offer, reason=reason, at=now)
        _save(milestone)
        _log(milestone, actor, "offer_declined", before, reason)
        _refresh_order(milestone.order)
        notification_send(
            recipient=milestone.order.seller,
            event="offer_declined",
            message=f"{actor.username} declined your offer “{milestone.title}”"
            + (f": {sentence(reason[:150])}" if reason else "."),
            url=milestone.get_absolute_url(),
        )
    return milestone


def offer_withdraw(*, milestone: Milestone, actor: User) -> Milestone:
    """The seller takes back an offer the buyer has not answered."""
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _require_seller(milestone.order, actor, "withdraw an offer")
        before = _transition(milestone, "withdrawn", milestone.withdraw_offer, at=now)
        _save(milestone)
        _log(milestone, actor, "offer_withdrawn", before)
        _refresh_order(milestone.order)
        notification_send(
            recipient=milestone.order.buyer,
            event="offer_withdrawn",
            message=f"{actor.username} withdrew the offer “{milestone.title}”; nothing was charged.",
            url=milestone.get_absolute_url(),
        )
    return milestone


def offer_expire(*, milestone_id: int, now: datetime | None = None) -> bool:
    """An offer past ``offer_expires_at`` unanswered closes; both are told. Once."""
    now = now or timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        if milestone.state != S.OFFERED or milestone.offer_expires_at is None or milestone.offer_expires_at > now:
            return False
        before = _transition(milestone, "expired", milestone.expire_offer, at=now)
        _save(milestone)
        _log(milestone, None, "offer_expired", before, "The buyer did not answer in time; nothing was charged.")
        _refresh_order(milestone.order)
        for recipient in (milestone.order.buyer, milestone.order.seller):
            notification_send(
                recipient=recipient,
                event="offer_expired",
                message=f"The offer “{milestone.title}” was not answered in time and has expired; nothing was charged.",
                url=milestone.get_absolute_url(),
            )
    return True


# --- paying by card (the checkout purpose "milestone", registered in apps.py) -------------------


def checkout_description(checkout: Checkout) -> str:
    milestone = checkout.milestone
    assert milestone is not None
    return f"Milestone “{milestone.title}” of order “{milestone.order.title}” (escrow plus service fee)"


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
                before = _fund_transition(milestone, at=timezone.now())
                _save(milestone)
                _log(milestone, checkout.buyer, "funded", before, f"{format_money(amount)} paid by card")
                _funded(milestone, actor=checkout.buyer)
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
        before = _transition(milestone, "payment expired", milestone.expire_payment, at=now)
        _save(milestone)
        _log(milestone, None, "payment_expired", before, "The checkout closed unpaid; nothing was charged.")
        _refresh_order(milestone.order)
        notification_send(
            recipient=milestone.order.buyer,
            event="checkout_expired",
            message=f"“{milestone.title}” was not paid in time and has closed; nothing was charged. "
            "Add it again when you are ready.",
            url=milestone.get_absolute_url(),
        )
    return "expired"


# --- seller's answer ----------------------------------------------------------------


def _refund_before_work(
    milestone: Milestone, *, actor: User, now: datetime, refund_to: str | None = None
) -> Settlement:
    """Decline and cancel: no work was done, so the buyer gets everything
    back, the service fee included. Caller holds the locks and has applied
    the transition."""
    settlement = _settle(
        milestone,
        seller_gross=Money(0, milestone.order.currency),
        kind=TransactionKind.REFUND,
        actor=actor,
        refund_to=refund_to,
        now=now,
    )
    _save(milestone)
    return settlement


def milestone_accept(*, milestone: Milestone, actor: User) -> Milestone:
    """Starts at once if no earlier milestone of the order is open, else queues."""
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _require_seller(milestone.order, actor, "accept a milestone")
        before = _transition(milestone, "accepted", milestone.accept, start_now=not _earlier_open(milestone), at=now)
        _save(milestone)
        # Accepted as it stands: changes the seller proposed and the buyer has not answered are moot.
        _withdraw_pending_proposals(milestone, at=now)
        note = "" if milestone.state == S.IN_PROGRESS else "Queued: starts when the previous milestone closes."
        _log(milestone, actor, "accepted", before, note)
        notification_send(
            recipient=milestone.order.buyer,
            event="milestone_accepted",
            message=f"{actor.username} accepted “{milestone.title}”."
            + (" Work has started." if milestone.state == S.IN_PROGRESS else " It starts after the current one."),
            url=milestone.get_absolute_url(),
        )
    return milestone


def milestone_decline(*, milestone: Milestone, actor: User, reason: str) -> Milestone:
    """The seller says no; the buyer gets the escrow and the service fee back."""
    reason = (reason or "").strip()
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _require_seller(milestone.order, actor, "decline a milestone")
        if not reason:
            raise InvalidInput("Tell the buyer why you decline.", field="reason")
        before = _transition(milestone, "declined", milestone.decline, reason=reason[:2000], at=now)
        settlement = _refund_before_work(milestone, actor=actor, now=now)
        _log(milestone, actor, "declined", before, reason)
        _after_close(milestone, at=now)
        notification_send(
            recipient=milestone.order.buyer,
            event="milestone_declined",
            message=f"{actor.username} declined “{milestone.title}”: {sentence(reason[:150])} "
            f"{refund_words(settlement)}.",
            url=milestone.get_absolute_url(),
        )
    return milestone


def milestone_cancel(*, milestone: Milestone, actor: User, refund_to: str = REFUND_TO_BALANCE) -> Milestone:
    """The buyer withdraws a milestone before work starts: a full refund, to
    the balance (instant) or to the card that paid (``refund_to="card"``).
    An unpaid one just closes, and its checkout with it."""
    now = timezone.now()
    if refund_to not in (REFUND_TO_BALANCE, REFUND_TO_CARD):
        raise InvalidInput("Choose where the refund goes.", field="refund_to")
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _require_buyer(milestone.order, actor, "cancel a milestone")
        if milestone.state == S.AWAITING_PAYMENT:
            checkout = Checkout.objects.select_for_update().filter(milestone=milestone).first()
            before = _transition(milestone, "cancelled", milestone.cancel, at=now)
            if checkout is not None and checkout.is_open:
                checkout_close(checkout, status=CheckoutStatus.CANCELLED)
            _save(milestone)
            _log(milestone, actor, "cancelled", before, "Cancelled before payment; nothing was charged.")
            _refresh_order(milestone.order)
            return milestone
        if refund_to == REFUND_TO_CARD and card_payment_of(milestone) is None:
            raise InvalidInput(
                "This milestone was paid from your balance, so the refund can only go back there.",
                field="refund_to",
            )
        before = _transition(milestone, "cancelled", milestone.cancel, at=now)
        settlement = _refund_before_work(milestone, actor=actor, now=now, refund_to=refund_to)
        where = "the buyer's card" if settlement.refunded_to == REFUND_TO_CARD else "the buyer's balance"
        _log(milestone, actor, "cancelled", before, f"{format_money(settlement.refunded)} back to {where}")
        _after_close(milestone, at=now)
        notification_send(
            recipient=milestone.order.seller,
            event="milestone_cancelled",
            message=f"{actor.username} cancelled “{milestone.title}” before work started.",
            url=milestone.get_absolute_url(),
        )
    return milestone


# --- the work --------------------------------------------------------------------------


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
            raise InvalidInput(f"“{link[:80]}” is not a web address (http:// or https://).", field="links") from None
        cleaned.append(link)
    if len(cleaned) > MAX_LINKS:
        raise InvalidInput(f"Add at most {MAX_LINKS} links.", field="links")
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
        raise InvalidInput(f"Attach at most {settings.DELIVERABLE_MAX_FILES} files.", field="files")
    checked = [validate_deliverable_file(f) for f in files]
    if len(message) > 10000:
        raise InvalidInput("Keep the message to 10,000 characters or fewer.", field="message")
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _require_seller(milestone.order, actor, "submit work")
        if not (message or cleaned_links or files):
            raise InvalidInput("Add at least one deliverable: a file, a link or a message.", field="message")
        before = _transition(
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
        _save(milestone)
        _log(milestone, actor, "submitted", before, f"Delivery {number}")
        notification_send(
            recipient=milestone.order.buyer,
            event="milestone_submitted",
            message=f"{actor.username} submitted “{milestone.title}” for review. "
            f"It is approved automatically on {milestone.auto_approve_at:%d %b %Y} if you do nothing.",
            url=milestone.get_absolute_url(),
        )
    return delivery


def milestone_request_revision(*, milestone: Milestone, actor: User, feedback: str) -> RevisionRequest:
    feedback = (feedback or "").strip()
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _require_buyer(milestone.order, actor, "request a revision")
        if not feedback:
            raise InvalidInput("Tell the seller what to change.", field="feedback")
        if len(feedback) > 10000:
            raise InvalidInput("Keep the feedback to 10,000 characters or fewer.", field="feedback")
        before = _transition(milestone, "sent back for revision", milestone.request_revision, at=now)
        revision = RevisionRequest.objects.create(
            milestone=milestone,
            delivery=milestone.deliveries.order_by("-number").first(),
            author=actor,
            feedback=feedback,
        )
        _save(milestone)
        _log(milestone, actor, "revision_requested", before, feedback)
        notification_send(
            recipient=milestone.order.seller,
            event="revision_requested",
            message=f"{actor.username} asked for a revision of “{milestone.title}”.",
            url=milestone.get_absolute_url(),
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
                raise _refused(milestone, "approved automatically")
            if Proposal.objects.filter(milestone=milestone, kind=ProposalKind.CANCELLATION, state=P.PENDING).exists():
                raise InvalidTransition(
                    f"“{milestone.title}” has a cancellation request waiting; it is not approved automatically."
                )
        else:
            _require_buyer(order, actor, "approve a milestone")
        before = _transition(milestone, "approved", milestone.approve, at=now)
        if portfolio and actor is not None:
            milestone.portfolio_allowed_at = now
        earning = _settle(
            milestone, seller_gross=milestone.amount, kind=TransactionKind.RELEASE, actor=actor, now=now
        ).earning
        _save(milestone)
        note = "Approved automatically: the review period passed without an answer." if actor is None else ""
        _log(milestone, actor, "approved", before, note)
        _after_close(milestone, at=now)
        assert earning is not None
        when = "now" if earning.cleared_at else f"on {earning.clears_at:%d %b %Y}"
        notification_send(
            recipient=order.seller,
            event="milestone_approved",
            message=f"“{milestone.title}” was approved{' automatically' if actor is None else ''}. "
            f"{format_money(earning.net)} clears {when}.",
            url=milestone.get_absolute_url(),
        )
        if actor is None:
            notification_send(
                recipient=order.buyer,
                event="milestone_approved",
                message=f"“{milestone.title}” was approved automatically after the review period.",
                url=milestone.get_absolute_url(),
            )
    return milestone


def portfolio_consent(*, milestone: Milestone, actor: User, allowed: bool) -> Milestone:
    """The buyer allows an approved milestone's work in the seller's public
    portfolio, or withdraws that consent; it shows there only while allowed."""
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _require_buyer(milestone.order, actor, "choose what the seller's portfolio shows")
        if milestone.state != S.APPROVED:
            raise InvalidTransition("Only approved work can be shown in a portfolio.")
        if allowed == (milestone.portfolio_allowed_at is not None):
            return milestone
        milestone.portfolio_allowed_at = timezone.now() if allowed else None
        milestone.save(update_fields=["portfolio_allowed_at"])
        activity_record(
            order=milestone.order,
            milestone=milestone,
            actor=actor,
            verb="portfolio_allowed" if allowed else "portfolio_withdrawn",
        )
    return milestone


# --- disputes -----------------------------------------------------------------------------


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
            raise NotAllowed("Only the buyer or the seller can open a dispute.")
        if not reason:
            raise InvalidInput("Explain what went wrong, for the staff who will decide.", field="reason")
        if len(reason) > 10000:
            raise InvalidInput("Keep the reason to 10,000 characters or fewer.", field="reason")
        before = _transition(milestone, "disputed", milestone.open_dispute, at=now)
        _withdraw_pending_proposals(milestone, at=now)
        _save(milestone)
        dispute = Dispute.objects.create(milestone=milestone, opened_by=actor, reason=reason)
        if attachment is not None:
            name, _ = validate_deliverable_file(attachment)
            DisputeStatement.objects.create(
                dispute=dispute,
                author=actor,
                body="Attached when opening the dispute.",
                attachment=attachment,
                attachment_name=name,
            )
        _log(milestone, actor, "disputed", before, reason)
        other = order.seller if actor.pk == order.buyer_id else order.buyer
        notification_send(
            recipient=other,
            event="milestone_disputed",
            message=f"{actor.username} opened a dispute on “{milestone.title}”. Add your side of the story.",
            url=milestone.get_absolute_url(),
        )
        for staff in User.objects.filter(is_staff=True, is_active=True):
            notification_send(
                recipient=staff,
                event="milestone_disputed",
                message=f"New dispute on order #{order.pk}, “{milestone.title}”.",
                url=f"/admin/milestones/dispute/{dispute.pk}/change/",
            )
    return dispute


def dispute_add_statement(
    *,
    dispute: Dispute,
    actor: User,
    body: str,
    attachment: UploadedFile | None = None,
    idempotency_key: str | None = None,
) -> DisputeStatement:
    """Either party adds their side while the dispute is open.

    The same form sent twice (``idempotency_key``) adds one statement.
    """
    body = (body or "").strip()
    with transaction.atomic():
        milestone = lock_milestone(dispute.milestone_id)
        dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
        order = milestone.order
        if not order.is_party(actor):
            raise NotAllowed("Only the buyer or the seller can add to this dispute.")
        if dispute.state != "open":
            raise InvalidTransition("This dispute is resolved; nothing more can be added.")
        if not body:
            raise InvalidInput("Write your side of the story.", field="body")
        if len(body) > 10000:
            raise InvalidInput("Keep it to 10,000 characters or fewer.", field="body")
        name = ""
        if attachment is not None:
            name, _ = validate_deliverable_file(attachment)
        if idempotency_key and DisputeStatement.objects.filter(idempotency_key=idempotency_key).exists():
            raise DuplicateRequest("This was already sent; nothing more was added.")
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
            raise DuplicateRequest("This was already sent; nothing more was added.") from None
        activity_record(order=order, milestone=milestone, actor=actor, verb="dispute_statement", note=body)
        other = order.seller if actor.pk == order.buyer_id else order.buyer
        notification_send(
            recipient=other,
            event="dispute_statement",
            message=f"{actor.username} added their side to the dispute on “{milestone.title}”.",
            url=milestone.get_absolute_url(),
        )
    return statement


def dispute_resolve(
    *,
    dispute: Dispute,
    actor: User,
    outcome: str,
    seller_amount: Money | None = None,
    note: str = "",
) -> Dispute:
    """Staff decide: release to the seller, refund the buyer, or split.

    The split pays the seller ``seller_amount`` less the commission (on that
    part only) and returns the rest of the escrow to the buyer, with the same
    share of the service fee (to their balance or card, as their profile says). Two
    staff clicking at once: the first wins, the second gets ``InvalidTransition``.
    """
    note = (note or "").strip()
    now = timezone.now()
    if actor is None or not actor.is_staff:
        raise NotAllowed("Only staff can resolve disputes.")
    with transaction.atomic():
        milestone = lock_milestone(dispute.milestone_id)
        dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
        order = milestone.order
        currency = order.currency
        # Staff accounts buy and sell too; no one judges their own case.
        if order.is_party(actor):
            raise NotAllowed("You are a party to this order; another member of staff must resolve its dispute.")
        if dispute.state != "open":
            raise InvalidTransition("This dispute was already resolved; nothing was changed.")
        held = escrow_balance(milestone)
        if outcome == DisputeOutcome.RELEASE:
            seller_gross = held
        elif outcome == DisputeOutcome.REFUND:
            seller_gross = Money(0, currency)
        elif outcome == DisputeOutcome.SPLIT:
            if seller_amount is None:
                raise InvalidInput("Enter the amount for the seller.", field="seller_amount")
            if str(seller_amount.currency) != currency:
                raise InvalidInput(f"The amount must be in {currency}.", field="seller_amount")
            if not seller_amount.amount.is_finite():
                raise InvalidInput("Enter the seller's part as a number.", field="seller_amount")
            if has_sub_minor_digits(seller_amount):
                raise InvalidInput("Use at most two decimal places.", field="seller_amount")
            if not (0 < seller_amount.amount < held.amount):
                raise InvalidInput(
                    f"A split gives the seller more than {format_money(Money(0, currency))} "
                    f"and less than {format_money(held)}; "
                    "use release or refund for all of it.",
                    field="seller_amount",
                )
            seller_gross = seller_amount
        else:
            raise InvalidInput(f"Unknown outcome {outcome!r}.", field="outcome")
        before = _transition(milestone, "resolved", milestone.resolve, at=now)
        kind = {
            DisputeOutcome.RELEASE: TransactionKind.RELEASE,
            DisputeOutcome.REFUND: TransactionKind.REFUND,
            DisputeOutcome.SPLIT: TransactionKind.SPLIT,
        }[DisputeOutcome(outcome)]
        settlement = _settle(milestone, seller_gross=seller_gross, kind=kind, actor=actor, now=now)
        earning = settlement.earning
        buyer_part = held - seller_gross
        dispute.resolve(
            by=actor, outcome=outcome, seller_amount=seller_gross, buyer_amount=buyer_part, note=note, at=now
        )
        dispute.save()
        _save(milestone)
        summary = (
            f"{DisputeOutcome(outcome).label}: {format_money(seller_gross)} to the seller, "
            f"{format_money(buyer_part)} to the buyer."
        )
        _log(milestone, actor, "resolved", before, f"{summary} {note}".strip())
        _after_close(milestone, at=now)
        seller_msg = summary if earning is None else f"{summary} You receive {format_money(earning.net)} after the fee."
        buyer_msg = summary
        if settlement.refunded.amount > 0:
            buyer_msg = f"{summary} With your share of the service fee, {refund_words(settlement)}."
        for recipient, text in ((order.seller, seller_msg), (order.buyer, buyer_msg)):
            notification_send(
                recipient=recipient,
                event="dispute_resolved",
                message=f"The dispute on “{milestone.title}” was resolved. {text}",
                url=milestone.get_absolute_url(),
            )
    return dispute


# --- the late flag (the system's, run by the late sweep) -----------------------------

# The MilestoneReminder kind that records the late notice, so it is sent once.
LATE_KIND = "late"


def late_condition(now: datetime) -> Q:
    # Past the deadline with the work still owed, and not delivered on time
    # before (a revision requested after an on-time delivery is not late).
    return Q(state__in=DEADLINE_STATES, deadline__lte=now, late_flagged_at__isnull=True) & (
        Q(submitted_at__isnull=True) | Q(submitted_at__gt=F("deadline"))
    )


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
        deadline = f"{timezone.localtime(milestone.deadline):%d %b %Y %H:%M}"
        activity_record(
            order=milestone.order,
            milestone=milestone,
            actor=None,
            verb="flagged_late",
            from_state=milestone.state,
            to_state=milestone.state,
            note=f"The deadline ({deadline}) passed without a submission.",
        )
        notification_send(
            recipient=milestone.order.seller,
            event="milestone_late",
            message=f"“{milestone.title}” passed its deadline ({deadline}) without a submission. "
            "Submit it as soon as you can, or tell the buyer where it stands.",
            url=milestone.get_absolute_url(),
        )
        notification_send(
            recipient=milestone.order.buyer,
            event="milestone_late",
            message=f"“{milestone.title}” passed its deadline ({deadline}) without a submission. "
            "You can message the seller, or open a dispute if work has stopped.",
            url=milestone.get_absolute_url(),
        )
    return True


# --- the order as a whole ------------------------------------------------------------


def _completion_blocker(order: Order) -> str:
    """Why the order cannot complete now, or "" if it can. Caller holds the order lock."""
    if _has_open_milestone(order):
        return "Close every open milestone before completing the order."
    unpaid = set(Milestone.objects.filter(order=order, state__in=UNPAID_STATES).values_list("state", flat=True))
    if S.OFFERED in unpaid:
        return "The seller's offer is waiting for your answer; accept and pay it, or decline it, first."
    if unpaid:
        return "A milestone is waiting for payment; pay or cancel it before completing the order."
    return ""


def order_complete(*, order: Order, actor: User) -> Order:
    """The buyer closes the order; no milestone may be open, none can be added after."""
    with transaction.atomic():
        order = lock_order(order.pk)
        if actor is None or actor.pk != order.buyer_id:
            raise NotAllowed("Only the buyer can mark the order complete.")
        if order.status == OrderStatus.COMPLETED:
            raise InvalidTransition("This order is already complete.")
        blocker = _completion_blocker(order)
        if blocker:
            raise InvalidTransition(blocker)
        order.status = OrderStatus.COMPLETED
        order.completed_at = timezone.now()
        order.save(update_fields=["status", "completed_at", "updated_at"])
        activity_record(order=order, actor=actor, verb="order_completed")
        notification_send(
            recipient=order.seller,
            event="order_completed",
            message=f"{actor.username} marked “{order.title}” complete.",
            url=order.get_absolute_url(),
        )
    return order


def order_auto_complete_condition(now: datetime) -> Q:
    """Orders due to complete by themselves: not complete, one milestone
    approved, none open, offered or unpaid, and the last one closed at least
    ``ORDER_AUTO_COMPLETE`` ago (on a queryset annotated with ``last_closed``)."""
    waiting = Milestone.objects.filter(order=OuterRef("pk"), state__in=OPEN_STATES | UNPAID_STATES)
    approved = Milestone.objects.filter(order=OuterRef("pk"), state=S.APPROVED)
    return (
        ~Q(status=OrderStatus.COMPLETED)
        & Q(Exists(approved))
        & ~Q(Exists(waiting))
        & Q(last_closed__lte=now - settings.ORDER_AUTO_COMPLETE)
    )


def orders_due_to_complete(now: datetime):
    return Order.objects.annotate(last_closed=Max("milestones__closed_at")).filter(order_auto_complete_condition(now))


def order_auto_complete(*, order_id: int, now: datetime | None = None) -> bool:
    """The buyer did not mark it complete: ``ORDER_AUTO_COMPLETE`` after the
    last milestone closed (one approved, nothing open or proposed) it
    completes by itself; both parties are told. Once."""
    now = now or timezone.now()
    with transaction.atomic():
        order = lock_order(order_id)
        if not orders_due_to_complete(now).filter(pk=order.pk).exists():
            return False
        order.status = OrderStatus.COMPLETED
        order.completed_at = now
        order.completed_automatically = True
        order.save(update_fields=["status", "completed_at", "completed_automatically", "updated_at"])
        activity_record(
            order=order,
            actor=None,
            verb="order_auto_completed",
            note=f"Every milestone had been closed for {period_words(settings.ORDER_AUTO_COMPLETE)}.",
        )
        for recipient in (order.buyer, order.seller):
            notification_send(
                recipient=recipient,
                event="order_completed",
                message=f"“{order.title}” is complete: its last milestone closed "
                f"{period_words(settings.ORDER_AUTO_COMPLETE)} ago.",
                url=order.get_absolute_url(),
            )
    return True


# --- proposals: changes of terms one party asks and the other answers -----------------------

# The states in which the seller still owes work before a deadline.
EXTENSION_STATES = (S.IN_PROGRESS, S.REVISION_REQUESTED)
MAX_EXTENSION = timedelta(days=365)


def _when_words(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%d %b %Y %H:%M}"


def _propose(
    milestone: Milestone, *, actor: User, kind: str, reason: str, respond_in: timedelta, now: datetime, **terms
) -> Proposal:
    """The checks every request shares (a reason; one pending of its kind), then
    the row. Caller holds the milestone lock and has checked the terms."""
    if not reason and kind != ProposalKind.CHANGES:
        raise InvalidInput(
            "Tell the buyer why you need more time."
            if kind == ProposalKind.EXTENSION
            else "Say why you want to cancel.",
            field="reason",
        )
    if len(reason) > 2000:
        raise InvalidInput("Keep the reason to 2,000 characters or fewer.", field="reason")
    if Proposal.objects.filter(milestone=milestone, kind=kind, state=P.PENDING).exists():
        raise InvalidTransition(f"A {ProposalKind(kind).label.lower()} request is already waiting for an answer.")
    return Proposal.objects.create(
        milestone=milestone, kind=kind, proposer=actor, reason=reason, respond_by=now + respond_in, **terms
    )


def extension_request(*, milestone: Milestone, actor: User, new_deadline: datetime | None, reason: str) -> Proposal:
    """The seller asks for a later deadline; the buyer answers within
    ``EXTENSION_RESPONSE_PERIOD`` or it lapses as declined."""
    reason = (reason or "").strip()
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        _require_seller(milestone.order, actor, "ask for an extension")
        if milestone.state not in EXTENSION_STATES:
            raise InvalidTransition(
                f"“{milestone.title}” is {milestone.get_state_display().lower()}; an extension can be asked "
                "only while the work is owed. Nothing was changed."
            )
        if new_deadline is None:
            raise InvalidInput("Choose the new deadline.", field="new_deadline")
        if new_deadline <= max(milestone.deadline, now):
            raise InvalidInput(
                f"The new deadline must be later than the current one ({_when_words(milestone.deadline)}) "
                "and in the future.",
                field="new_deadline",
            )
        if new_deadline > milestone.deadline + MAX_EXTENSION:
            raise InvalidInput("An extension can add at most a year.", field="new_deadline")
        proposal = _propose(
            milestone,
            actor=actor,
            kind=ProposalKind.EXTENSION,
            reason=reason,
            respond_in=settings.EXTENSION_RESPONSE_PERIOD,
            now=now,
            new_deadline=new_deadline,
        )
        activity_record(
            order=milestone.order,
            milestone=milestone,
            actor=actor,
            verb="extension_requested",
            note=f"New deadline {_when_words(new_deadline)}: {reason}",
        )
        notification_send(
            recipient=milestone.order.buyer,
            event="extension_requested",
            message=f"{actor.username} asks to move the deadline of “{milestone.title}” to "
            f"{_when_words(new_deadline)}: {sentence(reason[:150])} Answer by {_when_words(proposal.respond_by)}.",
            url=milestone.get_absolute_url(),
        )
    return proposal


# The states in which both parties may agree to stop (a dispute has staff decide instead).
CANCELLABLE_STATES = (S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED)


def cancellation_request(*, milestone: Milestone, actor: User, refund: Money | None, reason: str) -> Proposal:
    """Either party asks to stop a milestone in work: ``refund`` (default all
    of it) goes back to the buyer, the rest of the escrow to the seller less
    commission. The other party answers; unanswered after
    ``CANCELLATION_RESPONSE_PERIOD`` it is accepted."""
    reason = (reason or "").strip()
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        order = milestone.order
        if actor is None or not order.is_party(actor):
            raise NotAllowed("Only the buyer or the seller of this order can ask to cancel a milestone.")
        if milestone.state not in CANCELLABLE_STATES:
            raise InvalidTransition(
                f"“{milestone.title}” is {milestone.get_state_display().lower()}; a cancellation can be asked "
                "only while it is in work. Nothing was changed."
            )
        refund = milestone.amount if refund is None else refund
        if str(refund.currency) != order.currency:
            raise InvalidInput(f"The refund must be in {order.currency}.", field="refund")
        if not refund.amount.is_finite():
            raise InvalidInput("Enter the refund as a number.", field="refund")
        if has_sub_minor_digits(refund):
            raise InvalidInput("Use at most two decimal places.", field="refund")
        if not Decimal("0") <= refund.amount <= milestone.amount.amount:
            raise InvalidInput(
                f"The refund must be between {format_money(Money(0, order.currency))} and "
                f"{format_money(milestone.amount)}.",
                field="refund",
            )
        proposal = _propose(
            milestone,
            actor=actor,
            kind=ProposalKind.CANCELLATION,
            reason=reason,
            respond_in=settings.CANCELLATION_RESPONSE_PERIOD,
            now=now,
            refund_amount=refund,
        )
        terms = _cancellation_terms(milestone, refund)
        activity_record(
            order=order, milestone=milestone, actor=actor, verb="cancellation_requested", note=f"{terms} {reason}"
        )
        other = order.seller if actor.pk == order.buyer_id else order.buyer
        notification_send(
            recipient=other,
            event="cancellation_requested",
            message=f"{actor.username} asks to cancel “{milestone.title}”: {terms} Answer by "
            f"{_when_words(proposal.respond_by)}, or it is accepted.",
            url=milestone.get_absolute_url(),
        )
    return proposal


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
        _require_seller(order, actor, "propose changes")
        if milestone.state != S.AWAITING_ACCEPTANCE:
            raise InvalidTransition(
                f"“{milestone.title}” is {milestone.get_state_display().lower()}; changes can be proposed only "
                "before you accept it. Nothing was changed."
            )
        new_deadline = new_deadline or milestone.deadline
        new_amount = milestone.amount if new_amount is None else new_amount
        new_description = new_description or milestone.description
        milestone_validate_terms(
            order=order, title=milestone.title, description=new_description, deadline=new_deadline, amount=new_amount
        )
        if (new_deadline, new_amount, new_description) == (milestone.deadline, milestone.amount, milestone.description):
            raise InvalidInput("Change at least one of the deadline, the amount or the description.", field="amount")
        proposal = _propose(
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
        activity_record(order=order, milestone=milestone, actor=actor, verb="changes_proposed", note=words)
        notification_send(
            recipient=order.buyer,
            event="changes_proposed",
            message=f"{actor.username} proposes changes to “{milestone.title}”: {words} "
            f"Answer by {_when_words(proposal.respond_by)}.",
            url=milestone.get_absolute_url(),
        )
    return proposal


def changes_words(milestone: Milestone, proposal: Proposal) -> str:
    """What the proposed changes change, in words: "Amount 500.00 → 600.00 USD." """
    assert proposal.new_amount is not None and proposal.new_deadline is not None
    parts = []
    if proposal.new_amount != milestone.amount:
        parts.append(f"amount {format_money(milestone.amount)} → {format_money(proposal.new_amount)}")
    if proposal.new_deadline != milestone.deadline:
        parts.append(f"deadline {_when_words(milestone.deadline)} → {_when_words(proposal.new_deadline)}")
    if proposal.new_description != milestone.description:
        parts.append("a new description")
    words = "; ".join(parts) or "no change"
    return words[0].upper() + words[1:] + "."


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


def _refund_destination(milestone: Milestone, amount: Money) -> str:
    """Where a refund of ``amount`` would go, in the buyer's words: their card
    only if they chose it and a card paid (and only up to what it can take)."""
    card = card_payment_of(milestone) if milestone.order.buyer.refund_to == REFUND_TO_CARD else None
    if card is None:
        return "your balance"
    room = card_refund_room(card)
    if room >= amount:
        return "your card"
    if room.amount <= 0:
        return "your balance"
    return f"your card ({format_money(room)}, what it can still take back) and your balance (the rest)"


def changes_consequence(milestone: Milestone, proposal: Proposal) -> str:
    """What "Accept changes" does with the money, for its confirmation page."""
    money = changes_money(milestone, proposal)
    if money.charges:
        return (
            f"{format_money(money.total)} more is charged now ({format_money(money.amount)} into escrow and "
            f"{format_money(money.fee)} of service fee); the seller then accepts or declines the new terms."
        )
    if money.refunds:
        where = _refund_destination(milestone, -money.total)
        return (
            f"{format_money(-money.total)} comes back to {where} now ({format_money(-money.amount)} out of escrow and "
            f"{format_money(-money.fee)} of service fee); the seller then accepts or declines the new terms."
        )
    return "No money moves; the seller then accepts or declines the new terms."


def _changes_apply(
    milestone: Milestone, proposal: Proposal, *, actor: User, now: datetime, source: FundingSource | None
) -> str:
    """Move the difference, then the new terms. Caller holds the locks and has
    checked the milestone still awaits acceptance."""
    money = changes_money(milestone, proposal)
    assert proposal.new_amount is not None and proposal.new_deadline is not None
    words = changes_words(milestone, proposal)
    buyer_words = ""
    if money.charges:
        assert source is not None
        escrow_top_up(
            milestone=milestone,
            buyer=milestone.order.buyer,
            extra=money.amount,
            extra_fee=money.fee,
            source=source,
            key=f"changes:{proposal.pk}",
        )
        words += f" {format_money(money.total)} more was charged."
    elif money.refunds:
        settlement = escrow_reduce(
            milestone=milestone,
            less=-money.amount,
            less_fee=-money.fee,
            key=f"changes:{proposal.pk}",
            refund_to=milestone.order.buyer.refund_to,
            actor=actor,
        )
        words += f" {format_money(settlement.refunded)} went back to the buyer."
        buyer_words = f" {refund_words(settlement)}."
    milestone.amount = proposal.new_amount
    milestone.buyer_fee = money.new_fee
    milestone.deadline = proposal.new_deadline
    milestone.description = proposal.new_description
    milestone.save(
        update_fields=["amount", "amount_currency", "buyer_fee", "buyer_fee_currency", "deadline", "description"]
    )
    proposal.accept(by=actor, at=now)
    proposal.save()
    activity_record(order=milestone.order, milestone=milestone, actor=actor, verb="changes_accepted", note=words)
    notification_send(
        recipient=proposal.proposer,
        event="changes_accepted",
        message=f"{actor.username} accepted your changes to “{milestone.title}”. {words} "
        "Accept the milestone to start.",
        url=milestone.get_absolute_url(),
    )
    if buyer_words:
        notification_send(
            recipient=milestone.order.buyer,
            event="changes_refunded",
            message=f"You accepted the changes to “{milestone.title}”.{buyer_words}",
            url=milestone.get_absolute_url(),
        )
    return words


def changes_accept(*, proposal: Proposal, actor: User, method: str = "balance") -> Proposal:
    """The buyer accepts the seller's changes. A higher amount is paid for the
    difference from the balance (``method="balance"``, at once) or by card
    (``"card"``: an open checkout the caller sends the buyer to after
    commit; the changes apply when it is paid, ``changes_checkout_paid``)."""
    if method not in ("balance", "card"):
        raise InvalidInput("Choose how to pay the difference.", field="method")
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = _lock_proposal(proposal.pk)
        _require_answerer(milestone, proposal, actor)
        if proposal.kind != ProposalKind.CHANGES:
            raise InvalidTransition("This is not a proposal of changes.")
        if not proposal.is_pending:
            raise _answered(proposal)
        if milestone.state != S.AWAITING_ACCEPTANCE:
            raise InvalidTransition(
                f"“{milestone.title}” is no longer awaiting acceptance; its terms cannot change now."
            )
        money = changes_money(milestone, proposal)
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
        _changes_apply(milestone, proposal, actor=actor, now=now, source=FundingSource(method="balance"))
    return proposal


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
    return f"A higher amount for milestone “{proposal.milestone.title}” of order “{proposal.milestone.order.title}”"


def changes_checkout_paid(checkout_id: int, payment_reference: str, amount: Money) -> str:
    """The difference is paid: the changes apply, if they still can; else the
    payment goes back to the card. Locks: order, milestone, proposal, checkout."""
    proposal_id = _changes_proposal_of(checkout_id)
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = _lock_proposal(proposal_id)
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
            _changes_apply(
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
        _lock_proposal(proposal_id)
        checkout = lock_checkout(checkout_id)
        if checkout.status != CheckoutStatus.OPEN:
            return f"nothing to expire ({checkout.status})"
        checkout_close(checkout, status=CheckoutStatus.EXPIRED)
    return "expired"


def _cancellation_terms(milestone: Milestone, refund: Money) -> str:
    rest = milestone.amount - refund
    return f"{format_money(refund)} back to the buyer, {format_money(rest)} released to the seller."


def cancellation_consequence(milestone: Milestone, proposal: Proposal) -> str:
    """What accepting a cancellation does with the money, for its confirmation page."""
    assert proposal.refund_amount is not None
    rest = milestone.amount - proposal.refund_amount
    return (
        f"{format_money(proposal.refund_amount)} goes back to the buyer and {format_money(rest)} is released "
        "to the seller now; the milestone closes. This cannot be undone."
    )


def _cancellation_apply(milestone: Milestone, proposal: Proposal, *, actor: User | None, now: datetime) -> str:
    """Close the milestone as cancelled and split its escrow as agreed."""
    assert proposal.refund_amount is not None
    before = _transition(milestone, "cancelled", milestone.cancel_agreed, at=now)
    seller_gross = milestone.amount - proposal.refund_amount
    if seller_gross.amount == 0:
        kind = TransactionKind.REFUND
    elif proposal.refund_amount.amount == 0:
        kind = TransactionKind.RELEASE
    else:
        kind = TransactionKind.SPLIT
    settlement = _settle(milestone, seller_gross=seller_gross, kind=kind, actor=actor, now=now)
    _save(milestone)
    words = _cancellation_terms(milestone, proposal.refund_amount)
    how = "by agreement" if actor is not None else "automatically: the request was not answered in time"
    _log(milestone, actor, "cancelled", before, f"Cancelled {how}. {words}")
    _after_close(milestone, at=now)
    order = milestone.order
    seller_words = words
    if settlement.earning is not None:
        seller_words += f" You receive {format_money(settlement.earning.net)} after the fee."
    buyer_words = f"{words} {refund_words(settlement)}." if settlement.refunded.amount > 0 else words
    for recipient, text in ((order.buyer, buyer_words), (order.seller, seller_words)):
        notification_send(
            recipient=recipient,
            event="cancellation_accepted",
            message=f"“{milestone.title}” was cancelled {how}. {text}",
            url=milestone.get_absolute_url(),
        )
    return words


def _lock_proposal(proposal_id: int) -> tuple[Milestone, Proposal]:
    """The lock order: the order, the milestone, then the proposal."""
    milestone_id = Proposal.objects.values_list("milestone_id", flat=True).get(pk=proposal_id)
    milestone = lock_milestone(milestone_id)
    return milestone, Proposal.objects.select_for_update().get(pk=proposal_id)


def _answered(proposal: Proposal) -> InvalidTransition:
    return InvalidTransition(
        f"This {proposal.get_kind_display().lower()} request is {proposal.get_state_display().lower()}; "
        "nothing was changed."
    )


def _require_answerer(milestone: Milestone, proposal: Proposal, actor: User | None) -> None:
    order = milestone.order
    answerer_id = order.buyer_id if proposal.proposer_id == order.seller_id else order.seller_id
    if actor is None or actor.pk != answerer_id:
        who = "buyer" if answerer_id == order.buyer_id else "seller"
        raise NotAllowed(f"Only the {who} of this order can answer this request.")


def _extension_apply(milestone: Milestone, proposal: Proposal, *, now: datetime) -> None:
    """The deadline moves; a late flag clears if the new deadline is ahead, and
    the deadline reminder and late notice may be sent again for it."""
    assert proposal.new_deadline is not None
    if milestone.state not in EXTENSION_STATES:
        raise InvalidTransition(f"“{milestone.title}” is no longer in work; its deadline cannot move now.")
    milestone.deadline = proposal.new_deadline
    if milestone.late_flagged_at is not None and proposal.new_deadline > now:
        milestone.late_flagged_at = None
    milestone.save(update_fields=["deadline", "late_flagged_at"])
    MilestoneReminder.objects.filter(milestone=milestone, kind__in=[LATE_KIND, "deadline"]).delete()


def proposal_accept(*, proposal: Proposal, actor: User) -> Proposal:
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = _lock_proposal(proposal.pk)
        _require_answerer(milestone, proposal, actor)
        try:
            proposal.accept(by=actor, at=now)
        except TransitionNotAllowed:
            raise _answered(proposal) from None
        if proposal.kind == ProposalKind.CHANGES:
            raise InvalidTransition("Accept changes on their confirmation page, which says what they cost.")
        if proposal.kind == ProposalKind.CANCELLATION:
            if milestone.state not in CANCELLABLE_STATES:
                raise InvalidTransition(f"“{milestone.title}” is no longer in work; it cannot be cancelled now.")
            proposal.save()
            _cancellation_apply(milestone, proposal, actor=actor, now=now)
            return proposal
        _extension_apply(milestone, proposal, now=now)
        proposal.save()
        verb = f"{proposal.kind}_accepted"
        note = f"New deadline {_when_words(milestone.deadline)}"
        activity_record(order=milestone.order, milestone=milestone, actor=actor, verb=verb, note=note)
        notification_send(
            recipient=proposal.proposer,
            event=verb,
            message=f"{actor.username} accepted your {proposal.get_kind_display().lower()} request on "
            f"“{milestone.title}”. {note}".strip(),
            url=milestone.get_absolute_url(),
        )
    return proposal


def proposal_decline(*, proposal: Proposal, actor: User) -> Proposal:
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = _lock_proposal(proposal.pk)
        _require_answerer(milestone, proposal, actor)
        try:
            proposal.decline(by=actor, at=now)
        except TransitionNotAllowed:
            raise _answered(proposal) from None
        proposal.save()
        verb = f"{proposal.kind}_declined"
        activity_record(order=milestone.order, milestone=milestone, actor=actor, verb=verb)
        notification_send(
            recipient=proposal.proposer,
            event=verb,
            message=f"{actor.username} declined your {proposal.get_kind_display().lower()} request on "
            f"“{milestone.title}”; the terms stay as they were.",
            url=milestone.get_absolute_url(),
        )
    return proposal


def proposal_withdraw(*, proposal: Proposal, actor: User) -> Proposal:
    now = timezone.now()
    with transaction.atomic():
        milestone, proposal = _lock_proposal(proposal.pk)
        if actor is None or actor.pk != proposal.proposer_id:
            raise NotAllowed("Only the party who asked can withdraw this request.")
        try:
            proposal.withdraw(by=actor, at=now)
        except TransitionNotAllowed:
            raise _answered(proposal) from None
        proposal.save()
        activity_record(order=milestone.order, milestone=milestone, actor=actor, verb=f"{proposal.kind}_withdrawn")
        order = milestone.order
        notification_send(
            recipient=order.seller if actor.pk == order.buyer_id else order.buyer,
            event=f"{proposal.kind}_withdrawn",
            message=f"{actor.username} withdrew their {proposal.get_kind_display().lower()} request on "
            f"“{milestone.title}”; the terms stay as they were.",
            url=milestone.get_absolute_url(),
        )
    return proposal


def proposal_expire(*, proposal_id: int, now: datetime | None = None) -> bool:
    """A request left unanswered past ``respond_by`` lapses (an extension as
    declined), with a notice to both. Once: False if answered meanwhile."""
    now = now or timezone.now()
    with transaction.atomic():
        milestone, proposal = _lock_proposal(proposal_id)
        if not proposal.is_pending or proposal.respond_by > now:
            return False
        if proposal.kind == ProposalKind.CANCELLATION and milestone.state in CANCELLABLE_STATES:
            # Silence is consent, as on Fiverr: the cancellation goes through.
            proposal.accept(by=None, at=now)
            proposal.save()
            _cancellation_apply(milestone, proposal, actor=None, now=now)
            return True
        proposal.expire(at=now)
        proposal.save()
        activity_record(order=milestone.order, milestone=milestone, actor=None, verb=f"{proposal.kind}_expired")
        order = milestone.order
        for recipient in (order.buyer, order.seller):
            notification_send(
                recipient=recipient,
                event=f"{proposal.kind}_expired",
                message=f"The {proposal.get_kind_display().lower()} request on “{milestone.title}” was not "
                "answered in time and has lapsed; the terms stay as they were.",
                url=milestone.get_absolute_url(),
            )
    return True


def _withdraw_pending_proposals(milestone: Milestone, *, at: datetime) -> None:
    """A dispute takes over, or the milestone closed: its open requests are withdrawn."""
    Proposal.objects.filter(milestone=milestone, state=P.PENDING).update(state=P.WITHDRAWN, decided_at=at)
