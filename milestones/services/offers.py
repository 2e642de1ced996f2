"""Seller offers: a new milestone the seller proposes (an add-on, or the
first one of a custom offer from the gig page) and the buyer pays. It holds
no money until "Accept and pay"; then it starts, or queues, as if already
accepted. See the package's docstring for the steps every service takes."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from accounts.models import User
from accounts.services import require_verified_email
from gigs.models import Gig
from marketplace.errors import DuplicateRequest, InvalidInput, InvalidTransition, NotAllowed
from marketplace.money import Amount, format_money
from marketplace.text import sentence
from milestones.models import Milestone, MilestoneState, lock_milestone
from milestones.services.creation import after_funding, card_checkout, new_milestone
from milestones.services.steps import (
    fund_transition,
    log,
    notify,
    refresh_order,
    refused,
    require_buyer,
    require_open_accounts,
    require_seller,
    save,
    transition,
    when_words,
)
from notifications.times import notice_time
from orders.models import Order, OrderStatus, lock_order
from orders.services import order_create
from payments.services import FundingSource, escrow_fund

S = MilestoneState


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
        raise InvalidInput(_("The form has expired; please fill it in again."))
    expires = timezone.now() + settings.OFFER_EXPIRY
    with transaction.atomic():
        order = lock_order(order.pk)
        require_seller(order, actor, "offer a milestone")
        require_open_accounts(order, "a new offer")
        milestone = new_milestone(
            order,
            key=idempotency_key,
            already=_("This offer was already sent."),
            title=title,
            description=description,
            deadline=deadline,
            amount=amount,
            state=S.OFFERED,
            offer_expires_at=expires,
        )
        log(
            milestone,
            actor,
            "offered",
            "",
            _("{amount}, due {deadline}").format(amount=format_money(amount), deadline=when_words(deadline)),
        )
        notify(
            milestone,
            to=order.buyer,
            event="offer_received",
            message=format_lazy(
                gettext_lazy(
                    "{user} offers a new milestone, “{title}”, for {amount}. Accept and pay, or decline it, by {when}."
                ),
                user=actor.username,
                title=milestone.title,
                amount=Amount(amount),
                when=notice_time(expires),
            ),
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
        raise NotAllowed(_("Only the gig's seller can send a custom offer from it."))
    if not Order.objects.filter(seller=seller, buyer=buyer).exists():
        raise InvalidInput(_("Send custom offers to buyers who have contacted you."), field="buyer")
    with transaction.atomic():
        existing = Milestone.objects.filter(funding_key=idempotency_key).first() if idempotency_key else None
        if existing is not None:
            raise DuplicateRequest(_("This offer was already sent."), obj=None)
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


def offer_accept(*, milestone: Milestone, actor: User, source: FundingSource) -> Milestone:
    """The buyer accepts an offer and pays: from the balance it is funded and
    starts (or queues) at once; by card it waits for the provider's page
    (``awaiting_payment``, with a checkout the caller opens after commit)."""
    if source.method not in ("balance", "checkout"):
        raise InvalidInput(_("Unknown payment method {method}.").format(method=repr(source.method)), field="method")
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        order = milestone.order
        require_buyer(order, actor, "accept an offer")
        require_verified_email(actor, "pay for an offer")
        if milestone.state == S.OFFERED and milestone.offer_expires_at and milestone.offer_expires_at <= now:
            raise InvalidTransition(
                _("The offer “{title}” has expired; ask the seller for a new one.").format(title=milestone.title)
            )
        if order.status == OrderStatus.COMPLETED:
            raise InvalidTransition(_("This order is complete; no milestones can be added."))
        if source.method == "checkout":
            before = transition(milestone, "accepted", milestone.offer_checkout)
            save(milestone)
            card_checkout(milestone, buyer=actor)
            log(
                milestone,
                actor,
                "offer_accepted",
                before,
                _("{amount} to pay by card").format(amount=format_money(milestone.total_charged)),
            )
            return milestone
        if milestone.state != S.OFFERED:
            raise refused(milestone, "accepted")
        escrow_fund(milestone=milestone, buyer=actor, source=source, key=milestone.funding_key)
        before = fund_transition(milestone, at=now)
        save(milestone)
        log(
            milestone,
            actor,
            "offer_accepted",
            before,
            _("{amount} funded into escrow").format(amount=format_money(milestone.amount)),
        )
        after_funding(milestone, actor=actor)
    return milestone


def offer_decline(*, milestone: Milestone, actor: User, reason: str = "") -> Milestone:
    """The buyer says no to an offer; nothing was charged, nothing moves."""
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise InvalidInput(_("Keep the reason to 2,000 characters or fewer."), field="reason")
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_buyer(milestone.order, actor, "decline an offer")
        before = transition(milestone, "declined", milestone.decline_offer, reason=reason, at=now)
        save(milestone)
        log(milestone, actor, "offer_declined", before, reason)
        refresh_order(milestone.order)
        notify(
            milestone,
            to=milestone.order.seller,
            event="offer_declined",
            message=format_lazy(
                gettext_lazy("{user} declined your offer “{title}”: {reason}")
                if reason
                else gettext_lazy("{user} declined your offer “{title}”."),
                user=actor.username,
                title=milestone.title,
                reason=sentence(reason[:150]),
            ),
        )
    return milestone


def offer_withdraw(*, milestone: Milestone, actor: User) -> Milestone:
    """The seller takes back an offer the buyer has not answered."""
    now = timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_seller(milestone.order, actor, "withdraw an offer")
        before = transition(milestone, "withdrawn", milestone.withdraw_offer, at=now)
        save(milestone)
        log(milestone, actor, "offer_withdrawn", before)
        refresh_order(milestone.order)
        notify(
            milestone,
            to=milestone.order.buyer,
            event="offer_withdrawn",
            message=format_lazy(
                gettext_lazy("{user} withdrew the offer “{title}”; nothing was charged."),
                user=actor.username,
                title=milestone.title,
            ),
        )
    return milestone


def offer_expire(*, milestone_id: int, now: datetime | None = None) -> bool:
    """An offer past ``offer_expires_at`` unanswered closes; both are told. Once."""
    now = now or timezone.now()
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        if milestone.state != S.OFFERED or milestone.offer_expires_at is None or milestone.offer_expires_at > now:
            return False
        before = transition(milestone, "expired", milestone.expire_offer, at=now)
        save(milestone)
        log(milestone, None, "offer_expired", before, _("The buyer did not answer in time; nothing was charged."))
        refresh_order(milestone.order)
        notify(
            milestone,
            to=(milestone.order.buyer, milestone.order.seller),
            event="offer_expired",
            message=format_lazy(
                gettext_lazy("The offer “{title}” was not answered in time and has expired; nothing was charged."),
                title=milestone.title,
            ),
        )
    return True
