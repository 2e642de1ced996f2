"""The flows that move money for a reason: funding, release and refund,
clearance, withdrawals. Each posts through the ledger (``payments.ledger``).

Each flow is called inside the atomic block of a service that already holds
the order and milestone locks (``lock_order``, ``lock_milestone``); ``ledger_post``
then locks the accounts it touches, in ascending id, and refuses anything that
would leave a guarded balance below zero. Flows with no order (clearance,
withdrawals) open their own atomic block and lock their own row first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from accounts.models import User
from accounts.services import require_verified_email
from marketplace.errors import DuplicateRequest, InsufficientFunds, InvalidInput
from marketplace.money import Amount, format_money, round_money, zero
from notifications.services import Notice, notifications_send
from payments.connect import payout_destination
from payments.fees import seller_commission
from payments.ledger import (
    EscrowSubject,
    Line,
    Posting,
    Want,
    account_for,
    accounts_for,
    accounts_lock,
    ledger_post,
    ledger_post_many,
)
from payments.models import (
    Account,
    AccountKind,
    Checkout,
    CheckoutStatus,
    CommandKind,
    CommandStatus,
    Earning,
    EarningStatus,
    ProviderCommand,
    Tip,
    Transaction,
    TransactionKind,
    Withdrawal,
)
from payments.outbox import command_execute, command_payout, command_refund
from payments.selectors import cards_refundable
from webhooks.payloads import money_data, subject_data
from webhooks.services import webhooks_emit_to

logger = logging.getLogger(__name__)


# --- funding, release, refund --------------------------------------------------


@dataclass(frozen=True)
class FundingSource:
    """How the buyer paid: from their balance, or on the provider's hosted checkout."""

    method: str  # "balance" or "checkout"
    payment_reference: str = ""  # the provider's payment, for "checkout"


def _payer(source: FundingSource, *, buyer: User, currency: str) -> tuple[Account, str]:
    """The account a payment comes from, and the memo that says how it was paid."""
    if source.method == "balance":
        return account_for(kind=AccountKind.BUYER_BALANCE, currency=currency, user=buyer), "Paid from balance"
    if source.method == "checkout" and source.payment_reference:
        return account_for(kind=AccountKind.GATEWAY, currency=currency), f"Card payment {source.payment_reference}"
    raise InvalidInput(_("Unknown payment method {method}.").format(method=repr(source.method)), field="method")


def escrow_fund(*, milestone: EscrowSubject, buyer: User, source: FundingSource, key: str) -> Transaction:
    """Take the amount plus the service fee from the buyer's balance, or record
    the card payment the provider confirmed; the amount waits in escrow.

    Caller holds the order lock. No provider is called here: a card payment
    has already happened on the provider's page (``checkout_paid``).
    """
    currency = milestone.order.currency
    total = milestone.amount + milestone.buyer_fee
    escrow = account_for(kind=AccountKind.ESCROW, currency=currency, milestone=milestone)
    fees = account_for(kind=AccountKind.PLATFORM_FEES, currency=currency)
    payer, memo = _payer(source, buyer=buyer, currency=currency)
    posted = ledger_post(
        key=f"fund:{key}",
        kind=TransactionKind.FUND,
        lines=[(payer, -total), (escrow, milestone.amount), (fees, milestone.buyer_fee)],
        memo=memo,
        milestone=milestone,
        actor=buyer,
    )
    _emit_payment(milestone, "payment.funded", milestone.amount, service_fee=milestone.buyer_fee)
    return posted


def _emit_payment(milestone: EscrowSubject, event_type: str, amount: Money, **parts: Money) -> None:
    """The order's parties' webhooks of a payment of the milestone (sent after commit)."""
    order = milestone.order
    data = {
        "milestone": subject_data(milestone),
        "payment": {**money_data(amount), **{name: money_data(part) for name, part in parts.items()}},
    }
    webhooks_emit_to(users=(order.buyer, order.seller), event_type=event_type, data=data)


def escrow_top_up(
    *, milestone: EscrowSubject, buyer: User, extra: Money, extra_fee: Money, source: FundingSource, key: str
) -> Transaction:
    """The buyer accepted a higher amount: ``extra`` more into escrow and
    ``extra_fee`` more service fee, from the balance or a card payment the
    provider confirmed. Caller holds the order and milestone locks and
    updates the milestone's amount and fee to match."""
    currency = milestone.order.currency
    escrow = account_for(kind=AccountKind.ESCROW, currency=currency, milestone=milestone)
    fees = account_for(kind=AccountKind.PLATFORM_FEES, currency=currency)
    payer, memo = _payer(source, buyer=buyer, currency=currency)
    # A zero fee line is dropped by the ledger.
    lines: list[Line] = [(payer, -(extra + extra_fee)), (escrow, extra), (fees, extra_fee)]
    posted = ledger_post(
        key=f"top-up:{key}", kind=TransactionKind.FUND, lines=lines, memo=memo, milestone=milestone, actor=buyer
    )
    # More money into escrow, as a funding is: the same event, the amount being the extra.
    _emit_payment(milestone, "payment.funded", extra, service_fee=extra_fee)
    return posted


REFUND_TO_BALANCE, REFUND_TO_CARD = "balance", "card"


def card_payment_of(milestone: EscrowSubject) -> Checkout | None:
    """The paid checkout that funded this milestone, if it was paid by card."""
    return Checkout.objects.filter(milestone_id=milestone.pk, status=CheckoutStatus.PAID).first()


def card_refund_room(card: Checkout) -> Money:
    """What may still be refunded to the card of ``card``: a provider refuses
    to refund more than was charged. Refunds pending, stuck or done count;
    a refused one was credited to the balance instead."""
    spent = zero(str(card.amount.currency))
    for command in ProviderCommand.objects.filter(
        checkout=card,
        kind=CommandKind.REFUND,
        status__in=[CommandStatus.PENDING, CommandStatus.SUCCEEDED, CommandStatus.STUCK],
    ).only("amount", "amount_currency"):
        spent += command.amount
    return max(card.amount - spent, zero(str(card.amount.currency)))


def _refund_lines(
    *,
    buyer: User,
    currency: str,
    parts: Sequence[Money],
    card: Checkout | None,
    balance: Account | None = None,
    cards: Account | None = None,
) -> tuple[list[Line], Money]:
    """Where the ``parts`` owed to the buyer (the amount, the service fee) go:
    to the card that paid, up to what it can still take back
    (``card_refund_room``), the rest to the balance; a line per part and
    place. Returns the credit lines and the total that goes to the card.
    ``balance`` and ``cards``: the accounts, when the caller has read them."""
    room = card_refund_room(card) if card is not None else zero(currency)
    cards = None if card is None else cards or account_for(kind=AccountKind.CARD_REFUNDS, currency=currency)
    lines: list[Line] = []
    to_card = zero(currency)
    for part in parts:
        on_card = min(part, room - to_card) if cards is not None else zero(currency)
        if cards is not None and on_card.amount > 0:
            lines.append((cards, on_card))
        if part > on_card:
            balance = balance or account_for(kind=AccountKind.BUYER_BALANCE, currency=currency, user=buyer)
            lines.append((balance, part - on_card))
        to_card += on_card
    return lines, to_card


def escrow_reduce(
    *, milestone: EscrowSubject, less: Money, less_fee: Money, key: str, refund_to: str, actor: User | None
) -> Settlement:
    """The buyer accepted a lower amount: ``less`` comes out of escrow and
    ``less_fee`` of the service fee back with it, to the buyer's balance or
    the card that paid. Caller holds the locks and updates the milestone."""
    order = milestone.order
    currency = order.currency
    card = card_payment_of(milestone) if refund_to == REFUND_TO_CARD else None
    escrow = account_for(kind=AccountKind.ESCROW, currency=currency, milestone=milestone)
    fees = account_for(kind=AccountKind.PLATFORM_FEES, currency=currency)
    refunded = less + less_fee
    credits, to_card = _refund_lines(buyer=order.buyer, currency=currency, parts=[less, less_fee], card=card)
    lines: list[Line] = [(escrow, -less), (fees, -less_fee), *credits]
    ledger_post(
        key=f"reduce:{key}",
        kind=TransactionKind.REFUND,
        lines=lines,
        memo=f"Milestone “{milestone.title}”: lower amount agreed",
        milestone=milestone,
        actor=actor,
    )
    if card is not None and to_card.amount > 0:
        command_refund(
            user=order.buyer,
            amount=to_card,
            payment_reference=card.payment_reference,
            key=f"refund:reduce:{key}",
            milestone_id=milestone.pk,
            checkout=card,
        )
    return Settlement(
        fee=zero(currency),
        earning=None,
        refunded=refunded,
        refunded_to=REFUND_TO_CARD if to_card == refunded and to_card.amount > 0 else REFUND_TO_BALANCE,
    )


def service_fee_refund(*, buyer_fee: Money, buyer_part: Money, held: Money) -> Money:
    """The service fee goes back in proportion to what the buyer gets back:
    all of it on a full refund, none on approval, the same share on a split."""
    if held.amount <= 0 or buyer_part.amount <= 0:
        return zero(str(buyer_fee.currency))
    return min(round_money(buyer_fee * (buyer_part.amount / held.amount)), buyer_fee)


@dataclass(frozen=True)
class SettlementFigures:
    """What emptying an escrow of ``held`` with ``seller_gross`` to the seller moves: the
    figures ``escrow_settle`` posts, for showing before anyone agrees."""

    held: Money
    seller_gross: Money
    commission: Money  # taken from the seller's part
    seller_net: Money  # what the seller earns
    buyer_part: Money  # the escrow going back to the buyer
    fee_back: Money  # the buyer's share of the service fee coming back with it
    refunded: Money  # buyer_part + fee_back: what the buyer receives


def settlement_figures(*, buyer_fee: Money, held: Money, seller_gross: Money) -> SettlementFigures:
    """The split's figures, computed as ``escrow_settle`` computes them (it calls this)."""
    buyer_part = held - seller_gross
    commission = seller_commission(seller_gross)
    fee_back = service_fee_refund(buyer_fee=buyer_fee, buyer_part=buyer_part, held=held)
    return SettlementFigures(
        held=held,
        seller_gross=seller_gross,
        commission=commission,
        seller_net=seller_gross - commission,
        buyer_part=buyer_part,
        fee_back=fee_back,
        refunded=buyer_part + fee_back,
    )


@dataclass(frozen=True)
class Settlement:
    """What emptying an escrow decided: the commission, the seller's earning if
    any, and what went back to the buyer and where."""

    fee: Money
    earning: Earning | None
    refunded: Money
    refunded_to: str


def escrow_settle(
    *,
    milestone: EscrowSubject,
    seller_gross: Money,
    kind: str,
    actor: User | None = None,
    refund_to: str = REFUND_TO_BALANCE,
    now: datetime | None = None,
) -> Settlement:
    """Empty a milestone's escrow: ``seller_gross`` to the seller less the
    commission, the rest back to the buyer with the matching share of the
    service fee (``service_fee_refund``).

    Approval is ``seller_gross = amount``; decline and cancel are zero (the
    fee comes back whole); a dispute settles anywhere in between, the
    commission on the seller's part only. The buyer's part goes to their
    balance, or with ``refund_to="card"`` back to the card that paid (if one
    did) through a refund command executed after commit
    (``payments.outbox``). Caller holds the order and milestone locks; the key
    makes a second settlement impossible.
    """
    now = now or timezone.now()
    order = milestone.order
    currency = order.currency
    seller = order.seller
    clears_at = now + seller.clearance_period
    card = card_payment_of(milestone) if refund_to == REFUND_TO_CARD else None
    # Every account the settlement touches, read in one query that locks the guarded ones in id order.
    # The buyer's balance is read if it exists, and made only if money goes back to them.
    wants = {
        "escrow": Want(AccountKind.ESCROW, milestone=milestone),
        "fees": Want(AccountKind.PLATFORM_FEES),
        "balance": Want(AccountKind.BUYER_BALANCE, user=order.buyer, optional=True),
    }
    if card is not None:
        wants["cards"] = Want(AccountKind.CARD_REFUNDS)
    if seller_gross.amount > 0:
        wants["pending"] = Want(AccountKind.SELLER_PENDING, user=seller)
        if clears_at <= now:
            # Instant clearance posts again, to the available account: lock it now, in order.
            wants["available"] = Want(AccountKind.SELLER_AVAILABLE, user=seller)
    accounts = accounts_for(wants, currency=currency, lock=True)
    escrow, fees = accounts["escrow"], accounts["fees"]
    if "balance" not in accounts and escrow.cached_balance > seller_gross:
        # The buyer's first refund: their balance is made now, so its id is newer than every account
        # locked above, and locking it last keeps the order.
        accounts["balance"] = account_for(kind=AccountKind.BUYER_BALANCE, currency=currency, user=order.buyer)
        locked = accounts_lock(list(accounts.values()))
    else:
        locked = {a.pk: a for a in sorted(accounts.values(), key=lambda a: a.pk) if a.is_guarded}
    held = locked[escrow.pk].cached_balance
    if seller_gross.amount < 0 or seller_gross > held:
        raise InvalidInput(
            _("The seller's part must be between {low} and {high}.").format(
                low=format_money(zero(currency)), high=format_money(held)
            ),
            field="seller_amount",
        )
    figures = settlement_figures(buyer_fee=milestone.buyer_fee, held=held, seller_gross=seller_gross)
    buyer_part, fee, net, fee_back = figures.buyer_part, figures.commission, figures.seller_net, figures.fee_back
    refunded = figures.refunded
    lines: list[Line] = [(escrow, -held)]
    if seller_gross.amount > 0:
        lines += [(accounts["pending"], net), (fees, fee)]
    if fee_back.amount > 0:
        lines.append((fees, -fee_back))
    # To the card up to what it paid (a higher amount agreed later may have been paid another way).
    credits, to_card = _refund_lines(
        buyer=order.buyer,
        currency=currency,
        parts=[buyer_part, fee_back],
        card=card,
        balance=accounts.get("balance"),
        cards=accounts.get("cards"),
    )
    lines += credits
    ledger_post(
        key=f"settle:{milestone.pk}",
        kind=kind,
        lines=lines,
        memo=f"Milestone “{milestone.title}”" + (" (refund to card)" if to_card.amount > 0 else ""),
        milestone=milestone,
        actor=actor,
        locked=locked,
    )
    refunded_to = REFUND_TO_BALANCE
    if card is not None and to_card.amount > 0:
        command_refund(
            user=order.buyer,
            amount=to_card,
            payment_reference=card.payment_reference,
            key=f"refund:milestone:{milestone.pk}",
            milestone_id=milestone.pk,
            checkout=card,
        )
        refunded_to = REFUND_TO_CARD if to_card == refunded else REFUND_TO_BALANCE
    if refunded.amount > 0:
        _emit_payment(milestone, "payment.refunded", refunded)
    if seller_gross.amount <= 0:
        return Settlement(fee=fee, earning=None, refunded=refunded, refunded_to=refunded_to)
    _emit_payment(milestone, "payment.released", seller_gross, commission=fee)
    earning = _earn(seller=seller, gross=seller_gross, fee=fee, clears_at=clears_at, now=now, milestone=milestone)
    return Settlement(fee=fee, earning=earning, refunded=refunded, refunded_to=refunded_to)


def _earn(
    *, seller: User, gross: Money, fee: Money, clears_at: datetime, now: datetime, milestone=None, tip=None
) -> Earning:
    """The seller's earning of a release or a tip, already posted to their
    pending account; with an instant withdrawal method it clears at once."""
    earning = Earning(
        seller=seller,
        milestone=milestone,
        tip=tip,
        gross=gross,
        fee=fee,
        net=gross - fee,
        clears_at=clears_at,
        # The method ``clears_at`` was counted by: the page explains the date with it.
        method=seller.withdrawal_method,
        level=seller.seller_level,
    )
    earning.save()  # sealed by its save (MacSealed)
    if earning.clears_at <= now:
        # Instant withdrawal method: no wait, available at once.
        subject = milestone if tip is None else tip.milestone
        _clear_all([_Clearing(earning.pk, seller.pk, earning.net, tip is not None, subject.pk, subject.title)], now=now)
        earning.status = EarningStatus.CLEARED
        earning.cleared_at = now
    return earning


# --- tips ---------------------------------------------------------------------------


def tip_pay(
    *, milestone: EscrowSubject, buyer: User, amount: Money, source: FundingSource, now: datetime | None = None
) -> Tip:
    """The buyer's tip on an approved milestone: from their balance or a card
    payment the provider confirmed, to the seller's pending balance less the
    commission, clearing like any earning. Once per milestone (the key, and
    ``Tip.milestone``). Caller holds the order and milestone locks and has
    checked the tip may be given (``milestones.services.tips``)."""
    now = now or timezone.now()
    order = milestone.order
    seller = order.seller
    currency = order.currency
    fee = seller_commission(amount)
    clears_at = now + seller.clearance_period
    payer, memo = _payer(source, buyer=buyer, currency=currency)
    pending = account_for(kind=AccountKind.SELLER_PENDING, currency=currency, user=seller)
    fees = account_for(kind=AccountKind.PLATFORM_FEES, currency=currency)
    to_lock = [payer, pending, fees]
    if clears_at <= now:
        # Instant clearance posts again, to the available account: lock it now, in order.
        to_lock.append(account_for(kind=AccountKind.SELLER_AVAILABLE, currency=currency, user=seller))
    accounts_lock(to_lock)
    lines: list[Line] = [(payer, -amount), (pending, amount - fee), (fees, fee)]
    ledger_post(
        key=f"tip:{milestone.pk}",
        kind=TransactionKind.TIP,
        lines=lines,
        memo=f"Tip for “{milestone.title}”. {memo}"[:300],
        milestone=milestone,
        actor=buyer,
    )
    tip = Tip.objects.create(
        milestone=milestone,
        buyer=buyer,
        seller=seller,
        amount=amount,
        method="balance" if source.method == "balance" else "card",
    )
    _earn(seller=seller, gross=amount, fee=fee, clears_at=clears_at, now=now, tip=tip)
    _emit_payment(milestone, "payment.tipped", amount, commission=fee)
    return tip


# --- clearance -------------------------------------------------------------------


@dataclass(frozen=True)
class _Clearing:
    """What clearing an earning posts and says, read as plain values: a batch of 1,000 built
    4,000 model instances (earning, seller, milestone, tip) for these six values."""

    pk: int
    seller_id: int
    net: Money
    is_tip: bool
    milestone_id: int
    title: str


def _seller_accounts(clearings: Sequence[_Clearing]) -> tuple[dict[tuple[str, int | None, str], Account], bool]:
    """The pending and available accounts of the earnings' sellers, read and locked in one
    query (in ascending id: the lock order's last step), and whether that was all of them."""
    wanted = {
        (kind, c.seller_id, str(c.net.currency))
        for c in clearings
        for kind in (AccountKind.SELLER_PENDING, AccountKind.SELLER_AVAILABLE)
    }
    found = {
        (a.kind, a.user_id, a.currency): a
        for a in Account.objects.select_for_update()
        .filter(
            kind__in=[AccountKind.SELLER_PENDING, AccountKind.SELLER_AVAILABLE],
            user_id__in={c.seller_id for c in clearings},
            currency__in={str(c.net.currency) for c in clearings},
        )
        .order_by("pk")
    }
    missing = wanted - found.keys()
    for kind, user_id, currency in missing:
        # Every seller has both once paid; only an account lost some other way is made here.
        found[(kind, user_id, currency)] = account_for(kind=kind, currency=currency, user=User.objects.get(pk=user_id))
    return found, not missing


def _clear_all(clearings: Sequence[_Clearing], *, now: datetime) -> None:
    """Pending to available for each earning: one CLEAR transaction each
    (key ``clear:<earning id>``), all posted together. Caller holds the
    earning rows."""
    accounts, all_locked = _seller_accounts(clearings)
    ledger_post_many(
        [
            Posting(
                key=f"clear:{c.pk}",
                kind=TransactionKind.CLEAR,
                lines=[
                    (accounts[(AccountKind.SELLER_PENDING, c.seller_id, str(c.net.currency))], -c.net),
                    (accounts[(AccountKind.SELLER_AVAILABLE, c.seller_id, str(c.net.currency))], c.net),
                ],
                memo="Tip cleared, available to withdraw" if c.is_tip else "Cleared, available to withdraw",
                milestone_id=c.milestone_id,
            )
            for c in clearings
        ],
        # Made just now, an account is locked by ledger_post_many with the others.
        locked={account.pk: account for account in accounts.values()} if all_locked else None,
    )
    Earning.objects.filter(pk__in=[c.pk for c in clearings]).update(status=EarningStatus.CLEARED, cleared_at=now)


def _cleared_notice(clearing: _Clearing, url: str) -> Notice:
    return Notice(
        recipient_id=clearing.seller_id,
        event="money_cleared",
        message=format_lazy(
            gettext_lazy("{amount} from a tip on “{title}” has cleared and is available to withdraw.")
            if clearing.is_tip
            else gettext_lazy("{amount} from “{title}” has cleared and is available to withdraw."),
            amount=Amount(clearing.net),
            title=clearing.title,
        ),
        url=url,
    )


def earning_clear(*, earning_id: int, now: datetime | None = None) -> bool:
    """Move one earning from pending to available once ``clears_at`` has passed.

    Idempotent: returns False and changes nothing if it is not due or was
    cleared already (a repeated or late task). Locks the earning row, then
    the seller's accounts.
    """
    return bool(earnings_clear_batch(earning_ids=[earning_id], now=now, skip_locked=False))


def earnings_clear_batch(
    *, earning_ids: Sequence[int], now: datetime | None = None, skip_locked: bool = True
) -> list[int]:
    """Clear every due earning among ``earning_ids`` in one transaction.

    The same outcome as clearing them one by one (a CLEAR transaction and a
    notice per earning), with a constant number of queries per batch: the
    clearance sweep's path through 100,000 due earnings. Rows another worker
    holds are skipped (``skip_locked``) and left to it; rows no longer due are
    ignored. Returns the ids it cleared.

    Locks: the earning rows only (``of=self``: the joined milestone and tip
    are read, their locks belong to the services that change them),
    then the sellers' accounts in id order inside ``ledger_post_many``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        rows = (
            Earning.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .filter(pk__in=earning_ids, status=EarningStatus.PENDING, clears_at__lte=now)
            .order_by("pk")
            # A tip's earning tells of the milestone tipped.
            .values_list(
                "pk",
                "seller_id",
                "net",
                "net_currency",
                "tip_id",
                Coalesce("tip__milestone_id", "milestone_id"),
                Coalesce("tip__milestone__title", "milestone__title"),
            )
        )
        clearings = [
            _Clearing(pk, seller_id, Money(net, currency), tip_id is not None, milestone_id, title)
            for pk, seller_id, net, currency, tip_id, milestone_id, title in rows
        ]
        if not clearings:
            return []
        _clear_all(clearings, now=now)
        url = reverse("earnings")
        notifications_send(_cleared_notice(c, url) for c in clearings)
    return [c.pk for c in clearings]


# --- withdrawals, and refunds of the balance to card ----------------------------------------


def _check_amount(amount: Money) -> None:
    # NaN and Infinity are Decimals too; comparing or rounding them raises instead of refusing.
    if not amount.amount.is_finite():
        raise InvalidInput(_("Enter the amount as a number."), field="amount")
    if amount.amount <= 0:
        raise InvalidInput(_("Enter an amount greater than zero."), field="amount")
    if round_money(amount) != amount:
        raise InvalidInput(_("Use at most two decimal places."), field="amount")


def withdrawal_request(*, seller: User, amount: Money, key: str) -> Withdrawal:
    """Set aside money for a payout and write the payout command in the same
    transaction; a worker calls the provider after commit (``payments.outbox``),
    so the page answers at once and no lock waits on it.

    Any user may withdraw, seller or buyer (``seller`` is the user paid out): the
    money comes from their cleared earnings first, then from their balance (what
    refunds to the balance left them), both into the one withdrawing account. A
    payout that fails puts each part back where it came from (``withdrawal_settle``).

    Two withdrawals at once cannot overdraw, nor a withdrawal and a payment from
    the balance (a tip, a milestone): the user's accounts are locked in id order
    before their balances are read, and the second sees the first's debit.
    """
    _check_amount(amount)
    require_verified_email(seller, "withdraw")
    if not seller.has_chosen_withdrawal_method:
        # The method decides how long every earning takes to clear: nobody is paid by a default they never saw.
        raise InvalidInput(_("Choose how you are paid before your first withdrawal."), field="withdrawal_method")
    destination = payout_destination(seller)
    if not destination.shown:
        raise InvalidInput(
            _("Add where to send your money (payout account) in your profile first."), field="payout_account"
        )
    currency = str(amount.currency)
    with transaction.atomic():
        if Withdrawal.objects.filter(idempotency_key=key).exists():
            raise DuplicateRequest(_("This withdrawal was already requested."))
        accounts = accounts_for(
            {
                "available": Want(AccountKind.SELLER_AVAILABLE, user=seller, optional=True),
                "balance": Want(AccountKind.BUYER_BALANCE, user=seller, optional=True),
                "withdrawing": Want(AccountKind.SELLER_WITHDRAWING, user=seller),
            },
            currency=currency,
            lock=True,
        )
        available, balance = accounts.get("available"), accounts.get("balance")
        from_earnings = min(amount, available.cached_balance) if available is not None else zero(currency)
        from_balance = amount - from_earnings
        held = balance.cached_balance if balance is not None else zero(currency)
        if from_balance > held:
            if Transaction.objects.filter(idempotency_key=f"withdraw:{key}").exists():
                raise DuplicateRequest(_("This withdrawal was already requested."))
            raise InsufficientFunds(
                _("Not enough money: you can withdraw {amount}.").format(amount=format_money(from_earnings + held))
            )
        lines: list[Line] = [(accounts["withdrawing"], amount)]
        if available is not None:
            lines.append((available, -from_earnings))
        if balance is not None:
            lines.append((balance, -from_balance))
        ledger_post(
            key=f"withdraw:{key}",
            kind=TransactionKind.WITHDRAWAL_REQUEST,
            lines=lines,
            memo=f"Withdrawal to {seller.get_withdrawal_method_display()}",
            actor=seller,
            locked={account.pk: account for account in accounts.values()},
        )
        withdrawal = Withdrawal.objects.create(
            seller=seller,
            amount=amount,
            method=seller.withdrawal_method,
            # As shown ("•••• 4242"); the command carries the provider's token.
            destination=destination.shown,
            idempotency_key=key,
        )
        command_payout(withdrawal, destination=destination.token)
    return withdrawal


def balance_refund_to_card(*, user: User, amount: Money, key: str) -> list[ProviderCommand]:
    """ "Refund to card": send ``amount`` of the user's balance back to the cards they paid with,
    the newest payment first, each up to what it can still take back and against its original
    payment reference (``selectors.cards_refundable``). The balance moves to the card-refunds
    account and one refund command per card is written in the same transaction (key
    ``to-card:<form key>``, the commands ``refund:to-card:<form key>:<checkout id>``); the outbox
    runs them after commit, and a refund the provider refuses comes back to the balance.

    Locks the user's balance and the card-refunds account (``accounts_for``), then reads what the
    cards can take: two requests at once queue on the balance, and the second sees the first's
    commands.
    """
    _check_amount(amount)
    currency = str(amount.currency)
    with transaction.atomic():
        accounts = accounts_for(
            {
                "balance": Want(AccountKind.BUYER_BALANCE, user=user, optional=True),
                "cards": Want(AccountKind.CARD_REFUNDS),
            },
            currency=currency,
            lock=True,
        )
        held = accounts["balance"].cached_balance if "balance" in accounts else zero(currency)
        cards = cards_refundable(user, currency)
        room = sum((room for _, room in cards), zero(currency))
        if amount > min(held, room):
            if Transaction.objects.filter(idempotency_key=f"to-card:{key}").exists():
                raise DuplicateRequest(_("This refund was already requested."))
            if amount > held:
                raise InsufficientFunds(
                    _("Not enough money: your balance is {amount}.").format(amount=format_money(held))
                )
            raise InvalidInput(
                _(
                    "At most {amount} can go back to the cards you paid with: "
                    "withdraw the rest to your payout account instead."
                ).format(amount=format_money(room)),
                field="amount",
            )
        plan: list[tuple[Checkout, Money]] = []
        left = amount
        for card, card_room in cards:
            if left.amount <= 0:
                break
            part = min(left, card_room)
            plan.append((card, part))
            left -= part
        ledger_post(
            key=f"to-card:{key}",
            kind=TransactionKind.BALANCE_TO_CARD,
            lines=[(accounts["balance"], -amount), (accounts["cards"], amount)],
            memo="Balance sent back to the card" + ("s" if len(plan) > 1 else "") + " that paid",
            actor=user,
            locked={account.pk: account for account in accounts.values() if account.is_guarded},
        )
        commands = [
            command_refund(
                user=user,
                amount=part,
                payment_reference=card.payment_reference,
                key=f"refund:to-card:{key}:{card.pk}",
                milestone_id=card.milestone_id,
                checkout=card,
            )
            for card, part in plan
        ]
    logger.info("balance to card: user %s, %s in %s refund(s)", user.pk, format_money(amount), len(commands))
    return commands


def withdrawal_process(*, withdrawal_id: int, now: datetime | None = None) -> Withdrawal | None:
    """Run a requested withdrawal's payout command now (the task and the sweep
    go through ``payments.outbox.command_execute``). Returns the withdrawal if
    this call settled it, None if it was settled already or is not due.
    Must be called with no transaction open: it talks to the provider.
    """
    command = ProviderCommand.objects.filter(withdrawal_id=withdrawal_id).first()
    if command is None or not command_execute(command_id=command.pk, now=now).settled:
        return None
    return Withdrawal.objects.get(pk=withdrawal_id)
