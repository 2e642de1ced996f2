"""Receipts: one numbered, itemised page per movement of money a user can
hold in their hand (a funding, a refund, an earning, a payout), read from the
ledger transaction that moved it.

The amounts come from the transaction's entries, the source of truth; the
records hanging off it (the checkout, the withdrawal, the provider command)
add the method, references and status. A receipt is about one party: the
buyer for a funding, a refund or a late payment, the seller for a release and
a payout; a dispute split has a side for each. Anyone else gets 404, except
staff who may read the ledger (``payments.view_transaction``).

Payments sits below milestones and orders: the milestone and its order are
read through the transaction's foreign key, never imported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch
from django.http import Http404
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from accounts.models import User, WithdrawalMethod
from accounts.payouts import payout_mask
from marketplace.money import format_money
from payments.models import (
    AccountKind,
    Checkout,
    CommandStatus,
    Earning,
    Entry,
    ProviderCommand,
    Transaction,
    TransactionKind,
    Withdrawal,
)

K = TransactionKind
StrOrPromise = str | Promise
BUYER, SELLER = "buyer", "seller"

# Whose receipt each kind is; a split has a side for each party.
SIDES: dict[str, tuple[str, ...]] = {
    K.FUND: (BUYER,),
    K.REFUND: (BUYER,),
    K.LATE_PAYMENT: (BUYER,),
    K.CARD_REFUND_PAID: (BUYER,),
    K.CARD_REFUND_FAILED: (BUYER,),
    K.BALANCE_TO_CARD: (BUYER,),
    K.RELEASE: (SELLER,),
    K.WITHDRAWAL_PAID: (SELLER,),
    K.WITHDRAWAL_FAILED: (SELLER,),
    K.SPLIT: (BUYER, SELLER),
    K.TIP: (BUYER, SELLER),
}
RECEIPT_KINDS = frozenset(SIDES)

LABELS: dict[tuple[str, str], StrOrPromise] = {
    (K.FUND, BUYER): gettext_lazy("Payment"),
    (K.REFUND, BUYER): gettext_lazy("Refund"),
    (K.LATE_PAYMENT, BUYER): gettext_lazy("Late payment refund"),
    (K.CARD_REFUND_PAID, BUYER): gettext_lazy("Refund to card"),
    (K.CARD_REFUND_FAILED, BUYER): gettext_lazy("Card refund credited to balance"),
    (K.BALANCE_TO_CARD, BUYER): gettext_lazy("Balance refunded to card"),
    (K.RELEASE, SELLER): gettext_lazy("Earning"),
    (K.WITHDRAWAL_PAID, SELLER): gettext_lazy("Payout"),
    (K.WITHDRAWAL_FAILED, SELLER): gettext_lazy("Failed payout"),
    (K.SPLIT, BUYER): gettext_lazy("Refund (dispute split)"),
    (K.SPLIT, SELLER): gettext_lazy("Earning (dispute split)"),
    (K.TIP, BUYER): gettext_lazy("Tip"),
    (K.TIP, SELLER): gettext_lazy("Tip received"),
}

# The settlements of a milestone's escrow: their kind says how the money went (all to the
# seller, all back, or split), not which act closed the milestone; ``closing_act`` names that.
SETTLEMENT_KINDS = frozenset({K.RELEASE, K.REFUND, K.SPLIT})
# The acts are keys (the English words, as ``closing_act`` returns them); people read ``ACT_WORDS``.
CANCELLATION_BY_AGREEMENT = "Cancellation by agreement"
DISPUTE_ACTS: dict[str, str] = {
    K.SPLIT: "Dispute split",
    K.REFUND: "Dispute decided for the buyer",
    K.RELEASE: "Dispute decided for the seller",
}
ACT_WORDS: dict[str, StrOrPromise] = {
    CANCELLATION_BY_AGREEMENT: gettext_lazy("Cancellation by agreement"),
    "Dispute split": gettext_lazy("Dispute split"),
    "Dispute decided for the buyer": gettext_lazy("Dispute decided for the buyer"),
    "Dispute decided for the seller": gettext_lazy("Dispute decided for the seller"),
}
# A settlement's receipt names its act, one whole label per side and act.
ACT_LABELS: dict[tuple[str, str], StrOrPromise] = {
    (BUYER, CANCELLATION_BY_AGREEMENT): gettext_lazy("Refund (cancellation by agreement)"),
    (SELLER, CANCELLATION_BY_AGREEMENT): gettext_lazy("Earning (cancellation by agreement)"),
    (BUYER, "Dispute split"): gettext_lazy("Refund (dispute split)"),
    (SELLER, "Dispute split"): gettext_lazy("Earning (dispute split)"),
    (BUYER, "Dispute decided for the buyer"): gettext_lazy("Refund (dispute decided for the buyer)"),
    (SELLER, "Dispute decided for the buyer"): gettext_lazy("Earning (dispute decided for the buyer)"),
    (BUYER, "Dispute decided for the seller"): gettext_lazy("Refund (dispute decided for the seller)"),
    (SELLER, "Dispute decided for the seller"): gettext_lazy("Earning (dispute decided for the seller)"),
}


def closing_act(kind: str, key: str, milestone: Any) -> str:
    """The act a settlement carried out, for people ("Cancellation by agreement", "Dispute
    split"), or "" where the kind's own label says it (an approval, a decline, a cancellation
    before work, a lower amount agreed). Read from the milestone the settlement closed (the
    transaction's foreign key: payments imports no milestone code): a cancelled milestone that
    had started was cancelled by agreement (before work it is the buyer's cancel); a resolved one
    went through a dispute. The ledger's kinds stay as they are (their shapes are audited and
    their MACs sealed); this names the rows already written too."""
    if kind not in SETTLEMENT_KINDS or not key.startswith("settle:") or milestone is None:
        return ""
    if milestone.state == "cancelled" and milestone.started_at is not None:
        return CANCELLATION_BY_AGREEMENT
    if milestone.state == "resolved":
        return DISPUTE_ACTS[TransactionKind(kind)]
    return ""


def receipt_label(kind: str, side: str, act: str = "") -> str:
    """ "Refund", "Earning (cancellation by agreement)", "Refund (dispute split)" ..."""
    if act and kind in SETTLEMENT_KINDS:
        label = ACT_LABELS.get((side, act))
        if label is not None:
            return str(label)
        base = _("Refund") if side == BUYER else _("Earning")
        return f"{base} ({act[0].lower()}{act[1:]})"
    return str(LABELS[(kind, side)])


def transaction_label(txn: Transaction) -> str:
    """What a ledger row says the transaction was: its closing act, else its kind's label."""
    milestone = txn.milestone if txn.milestone_id else None
    act = closing_act(txn.kind, txn.idempotency_key, milestone)
    return str(ACT_WORDS.get(act, act)) if act else txn.get_kind_display()


STAFF_PERMISSION = "payments.view_transaction"


def receipt_number(transaction_id: int) -> str:
    return f"R-{transaction_id:08d}"


def mask_destination(destination: str) -> str:
    """A payout account as a receipt shows it: ``•••• 5555`` (``accounts.payouts.payout_mask``)."""
    return payout_mask(destination)


def _may_read_all(user: Any) -> bool:
    return bool(getattr(user, "is_staff", False)) and user.has_perm(STAFF_PERMISSION)


# --- what a receipt holds ------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLine:
    """One row of the itemised table. ``kind``: item, deduction or total."""

    label: str
    amount: Money
    kind: str = "item"

    @property
    def is_total(self) -> bool:
        return self.kind == "total"


@dataclass(frozen=True)
class ReceiptDetail:
    """A fact printed under the table: method, reference, status."""

    label: str
    value: str


@dataclass(frozen=True)
class Receipt:
    transaction_id: int
    kind: str
    side: str  # "buyer" or "seller": whose receipt this is
    label: str  # "Payment", "Refund", "Earning", "Payout" ...
    date: datetime
    issued_to: User
    counterparty: User | None
    currency: str
    lines: tuple[ReceiptLine, ...]
    details: tuple[ReceiptDetail, ...] = ()
    note: str = ""
    order_id: int | None = None
    order_title: str = ""
    milestone_title: str = ""
    milestone_url: str = ""
    # For a staff reader of a split: the other side's receipt.
    other_side: str = ""

    @property
    def number(self) -> str:
        return receipt_number(self.transaction_id)

    @property
    def total(self) -> ReceiptLine | None:
        return next((line for line in self.lines if line.is_total), None)

    @property
    def items(self) -> tuple[ReceiptLine, ...]:
        return tuple(line for line in self.lines if not line.is_total)

    @property
    def counterparty_role(self) -> str:
        return SELLER if self.side == BUYER else BUYER


@dataclass(frozen=True)
class ReceiptLink:
    """A link to a receipt, for the order and earnings pages."""

    transaction_id: int
    kind: str
    side: str
    date: datetime | None = None
    # Staff reading a split pick the side in the URL; a party always gets their own.
    explicit_side: bool = False
    act: str = ""  # ``closing_act``

    @property
    def number(self) -> str:
        return receipt_number(self.transaction_id)

    @property
    def label(self) -> str:
        return receipt_label(self.kind, self.side, self.act)

    @property
    def url(self) -> str:
        url = reverse("receipt", args=[self.transaction_id])
        return f"{url}?side={self.side}" if self.explicit_side else url


# --- reading the entries ----------------------------------------------------------------------


@dataclass
class _Sums:
    """A transaction's entries added up by account kind, positives and negatives apart."""

    currency: str
    plus: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    minus: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> _Sums:
        entries = list(entries)
        sums = cls(currency=str(entries[0].amount.currency) if entries else "USD")
        for entry in entries:
            amount = entry.amount.amount
            if amount >= 0:
                sums.plus[entry.account.kind] += amount
            else:
                sums.minus[entry.account.kind] -= amount
        return sums

    def money(self, value: Decimal) -> Money:
        return Money(value, self.currency)

    def gained(self, *kinds: str) -> Money:
        return self.money(sum((self.plus[k] for k in kinds), Decimal("0")))

    def lost(self, *kinds: str) -> Money:
        return self.money(sum((self.minus[k] for k in kinds), Decimal("0")))


def _card_refund_status(command: ProviderCommand | None) -> str:
    if command is None or command.status == CommandStatus.PENDING:
        return _("On its way to your card")
    if command.status == CommandStatus.STUCK:
        return _("On its way to your card (delayed; our staff are on it)")
    if command.status == CommandStatus.SUCCEEDED:
        if command.provider_reference:
            return _("Refunded to card, ref {reference}").format(reference=command.provider_reference)
        return _("Refunded to card")
    return _("The card refund was refused; the money was credited to your balance instead")


def _payment_reference(txn: Transaction) -> str:
    prefix = "Card payment "
    if prefix in txn.memo:
        return txn.memo.split(prefix, 1)[1].strip()
    if txn.kind == K.TIP:
        return ""
    checkout = Checkout.objects.filter(milestone_id=txn.milestone_id).first() if txn.milestone_id else None
    return checkout.payment_reference if checkout is not None else ""


def _method_label(method: str) -> str:
    try:
        return str(WithdrawalMethod(method).label)
    except ValueError:
        return method


# --- building one receipt ------------------------------------------------------------------------


def _load(transaction_id: int) -> Transaction | None:
    return (
        Transaction.objects.filter(pk=transaction_id, kind__in=RECEIPT_KINDS)
        .select_related("milestone__order__buyer", "milestone__order__seller", "actor")
        .prefetch_related(Prefetch("entries", queryset=Entry.objects.select_related("account").order_by("id")))
        .first()
    )


@dataclass
class _Records:
    """The records hanging off a transaction that its receipt needs."""

    withdrawal: Withdrawal | None = None
    command: ProviderCommand | None = None
    # A balance sent back to card: a refund command per card.
    commands: list[ProviderCommand] = field(default_factory=list)


def _records(txn: Transaction) -> _Records:
    key = txn.idempotency_key
    if txn.kind in (K.WITHDRAWAL_PAID, K.WITHDRAWAL_FAILED) and key.startswith("payout:"):
        withdrawal = Withdrawal.objects.select_related("seller").filter(idempotency_key=key[len("payout:") :]).first()
        return _Records(withdrawal=withdrawal)
    if txn.kind == K.BALANCE_TO_CARD:
        commands = ProviderCommand.objects.filter(idempotency_key__startswith=f"refund:{key}:").order_by("pk")
        return _Records(commands=list(commands))
    command_key = ""
    if txn.kind in (K.CARD_REFUND_PAID, K.CARD_REFUND_FAILED) and key.startswith("card_refund:"):
        command_key = key[len("card_refund:") :]
    elif txn.kind == K.LATE_PAYMENT or (txn.kind == K.REFUND and key.startswith("reduce:")):
        command_key = f"refund:{key}"
    elif txn.kind in (K.REFUND, K.SPLIT) and txn.milestone_id:
        command_key = f"refund:milestone:{txn.milestone_id}"
    if command_key:
        return _Records(
            command=ProviderCommand.objects.select_related("user").filter(idempotency_key=command_key).first()
        )
    return _Records()


def _parties(txn: Transaction, records: _Records) -> dict[str, User]:
    """Who each side of the receipt is about."""
    parties: dict[str, User] = {}
    milestone = txn.milestone if txn.milestone_id else None
    if milestone is not None:
        parties = {BUYER: milestone.order.buyer, SELLER: milestone.order.seller}
    if records.withdrawal is not None:
        parties[SELLER] = records.withdrawal.seller
    if records.command is not None and txn.kind in (K.CARD_REFUND_PAID, K.CARD_REFUND_FAILED, K.LATE_PAYMENT):
        parties[BUYER] = records.command.user
    if txn.kind == K.BALANCE_TO_CARD and txn.actor is not None:
        parties[BUYER] = txn.actor
    return {side: parties[side] for side in SIDES[txn.kind] if side in parties}


def _side_for(user: Any, parties: dict[str, User], requested: str | None) -> str | None:
    """The side of the receipt this user may read, or None."""
    own = [side for side, party in parties.items() if party.pk == user.pk]
    if own:
        return own[0]
    if _may_read_all(user) and parties:
        return requested if requested in parties else next(iter(parties))
    return None


def _fund(txn: Transaction, sums: _Sums) -> tuple[list[ReceiptLine], list[ReceiptDetail], str]:
    from_balance = sums.lost(AccountKind.BUYER_BALANCE).amount > 0
    lines = [
        ReceiptLine(_("Milestone amount, held in escrow"), sums.gained(AccountKind.ESCROW)),
        ReceiptLine(_("Service fee"), sums.gained(AccountKind.PLATFORM_FEES)),
        ReceiptLine(_("Total charged"), sums.lost(AccountKind.BUYER_BALANCE, AccountKind.GATEWAY), "total"),
    ]
    details = [ReceiptDetail(_("Paid from"), _("Your balance") if from_balance else _("Card"))]
    reference = "" if from_balance else _payment_reference(txn)
    if reference:
        details.append(ReceiptDetail(_("Payment reference"), reference))
    note = _("The milestone amount waits in escrow until you approve the work; the service fee is not held.")
    return lines, details, note


def _settlement_buyer(
    txn: Transaction, sums: _Sums, records: _Records
) -> tuple[list[ReceiptLine], list[ReceiptDetail], str]:
    fee_back = sums.lost(AccountKind.PLATFORM_FEES)
    refunded = sums.gained(AccountKind.BUYER_BALANCE, AccountKind.CARD_REFUNDS)
    to_card = sums.gained(AccountKind.CARD_REFUNDS).amount > 0
    lines = [
        ReceiptLine(_("Milestone amount returned"), refunded - fee_back),
        ReceiptLine(_("Service fee returned"), fee_back),
        ReceiptLine(_("Total refunded"), refunded, "total"),
    ]
    details = [ReceiptDetail(_("Held in escrow"), format_money(sums.lost(AccountKind.ESCROW)))]
    if txn.kind == K.SPLIT:
        details.append(
            ReceiptDetail(
                _("Released to the seller"), format_money(sums.lost(AccountKind.ESCROW) - (refunded - fee_back))
            )
        )
    if to_card:
        details.append(ReceiptDetail(_("Refunded to"), _("The card that paid")))
        details.append(ReceiptDetail(_("Status"), _card_refund_status(records.command)))
        if records.command is not None and records.command.payment_reference:
            details.append(ReceiptDetail(_("Original payment"), records.command.payment_reference))
    else:
        details.append(ReceiptDetail(_("Refunded to"), _("Your balance (spend it on your next milestone)")))
    return lines, details, ""


def _settlement_seller(txn: Transaction, sums: _Sums) -> tuple[list[ReceiptLine], list[ReceiptDetail], str]:
    commission = sums.gained(AccountKind.PLATFORM_FEES)
    net = sums.gained(AccountKind.SELLER_PENDING)
    lines = [
        ReceiptLine(_("Released to you (gross)"), net + commission),
        ReceiptLine(_("Platform commission"), commission, "deduction"),
        ReceiptLine(_("Net earning"), net, "total"),
    ]
    details = []
    if txn.kind == K.SPLIT:
        details.append(ReceiptDetail(_("Held in escrow"), format_money(sums.lost(AccountKind.ESCROW))))
    note = _("Your net earning is available to withdraw once it clears (see your earnings page).")
    return lines, details, note


def _payout(txn: Transaction, sums: _Sums, records: _Records) -> tuple[list[ReceiptLine], list[ReceiptDetail], str]:
    withdrawal = records.withdrawal
    details = []
    if withdrawal is not None:
        details += [
            ReceiptDetail(_("Method"), _method_label(withdrawal.method)),
            ReceiptDetail(_("Destination"), mask_destination(withdrawal.destination) or "—"),
        ]
    if txn.kind == K.WITHDRAWAL_PAID:
        reference = withdrawal.gateway_reference if withdrawal is not None else ""
        details.append(ReceiptDetail(_("Provider reference"), reference or "—"))
        return [ReceiptLine(_("Amount paid out"), sums.gained(AccountKind.PAYOUTS), "total")], details, ""
    if withdrawal is not None and withdrawal.failure_reason:
        details.append(ReceiptDetail(_("Reason"), _(withdrawal.failure_reason)))
    returned = sums.gained(AccountKind.SELLER_AVAILABLE, AccountKind.BUYER_BALANCE)
    lines = [ReceiptLine(_("Returned to your available balance"), returned, "total")]
    return lines, details, _("The payout failed; nothing left your account and you can withdraw again.")


def _card_refund(
    txn: Transaction, sums: _Sums, records: _Records
) -> tuple[list[ReceiptLine], list[ReceiptDetail], str]:
    command = records.command
    details = []
    if txn.kind == K.CARD_REFUND_PAID:
        if command is not None:
            details.append(ReceiptDetail(_("Refund reference"), command.provider_reference or "—"))
            details.append(ReceiptDetail(_("Original payment"), command.payment_reference))
        lines = [ReceiptLine(_("Refunded to your card"), sums.gained(AccountKind.GATEWAY), "total")]
        return lines, details, _("Banks take 5–10 days to show a refund on the card.")
    if command is not None and command.last_error:
        details.append(ReceiptDetail(_("Reason"), _(command.last_error)))
    lines = [ReceiptLine(_("Credited to your balance"), sums.gained(AccountKind.BUYER_BALANCE), "total")]
    return lines, details, _("The card refund could not be made, so the money is in your balance instead.")


def _balance_to_card(records: _Records, sums: _Sums) -> tuple[list[ReceiptLine], list[ReceiptDetail], str]:
    details = [
        ReceiptDetail(
            _("Payment {reference}").format(reference=command.payment_reference),
            _("{amount}: {status}").format(amount=format_money(command.amount), status=_card_refund_status(command)),
        )
        for command in records.commands
    ]
    lines = [
        ReceiptLine(_("Taken from your balance"), sums.lost(AccountKind.BUYER_BALANCE)),
        ReceiptLine(_("Sent back to your card"), sums.gained(AccountKind.CARD_REFUNDS), "total"),
    ]
    return lines, details, _("Each part goes back to the payment it came from; banks take 5–10 days to show it.")


def _late_payment(records: _Records, sums: _Sums) -> tuple[list[ReceiptLine], list[ReceiptDetail], str]:
    amount = sums.gained(AccountKind.CARD_REFUNDS)
    command = records.command
    details = []
    if command is not None:
        details.append(ReceiptDetail(_("Payment reference"), command.payment_reference))
    details.append(ReceiptDetail(_("Status"), _card_refund_status(command)))
    lines = [ReceiptLine(_("Payment received"), amount), ReceiptLine(_("Being refunded to your card"), amount, "total")]
    return lines, details, _("The payment arrived after its checkout had closed, so nothing was bought.")


def _tip(txn: Transaction, sums: _Sums, side: str) -> tuple[list[ReceiptLine], list[ReceiptDetail], str]:
    commission = sums.gained(AccountKind.PLATFORM_FEES)
    net = sums.gained(AccountKind.SELLER_PENDING)
    if side == SELLER:
        lines = [
            ReceiptLine(_("Tip (gross)"), net + commission),
            ReceiptLine(_("Platform commission"), commission, "deduction"),
            ReceiptLine(_("Net earning"), net, "total"),
        ]
        return lines, [], _("The tip is available to withdraw once it clears, like your other earnings.")
    from_balance = sums.lost(AccountKind.BUYER_BALANCE).amount > 0
    details = [ReceiptDetail(_("Paid from"), _("Your balance") if from_balance else _("Card"))]
    reference = "" if from_balance else _payment_reference(txn)
    if reference:
        details.append(ReceiptDetail(_("Payment reference"), reference))
    lines = [ReceiptLine(_("Tip to the seller"), sums.lost(AccountKind.BUYER_BALANCE, AccountKind.GATEWAY), "total")]
    return lines, details, _("No service fee is charged on a tip.")


def _build(txn: Transaction, side: str, parties: dict[str, User], records: _Records) -> Receipt:
    sums = _Sums.of(txn.entries.all())
    if txn.kind == K.FUND:
        lines, details, note = _fund(txn, sums)
    elif txn.kind == K.TIP:
        lines, details, note = _tip(txn, sums, side)
    elif txn.kind in (K.REFUND, K.SPLIT) and side == BUYER:
        lines, details, note = _settlement_buyer(txn, sums, records)
    elif txn.kind in (K.RELEASE, K.SPLIT):
        lines, details, note = _settlement_seller(txn, sums)
    elif txn.kind in (K.WITHDRAWAL_PAID, K.WITHDRAWAL_FAILED):
        lines, details, note = _payout(txn, sums, records)
    elif txn.kind in (K.CARD_REFUND_PAID, K.CARD_REFUND_FAILED):
        lines, details, note = _card_refund(txn, sums, records)
    elif txn.kind == K.BALANCE_TO_CARD:
        lines, details, note = _balance_to_card(records, sums)
    else:
        lines, details, note = _late_payment(records, sums)
    milestone = txn.milestone if txn.milestone_id else None
    counterparty = None
    if milestone is not None:
        counterparty = milestone.order.seller if side == BUYER else milestone.order.buyer
        if txn.kind in (K.WITHDRAWAL_PAID, K.WITHDRAWAL_FAILED):
            counterparty = None
    return Receipt(
        transaction_id=txn.pk,
        kind=txn.kind,
        side=side,
        label=receipt_label(txn.kind, side, closing_act(txn.kind, txn.idempotency_key, milestone)),
        date=txn.created_at,
        issued_to=parties[side],
        counterparty=counterparty,
        currency=sums.currency,
        lines=tuple(lines),
        details=tuple(details),
        note=note,
        order_id=milestone.order_id if milestone is not None else None,
        order_title=milestone.order.title if milestone is not None else "",
        milestone_title=milestone.title if milestone is not None else "",
        milestone_url=milestone.get_absolute_url() if milestone is not None else "",
    )


def receipt_for(user: Any, transaction_id: int, *, side: str | None = None) -> Receipt:
    """The receipt of one transaction for this user: theirs if they are the
    party it is about (for a split, their own side), any side for staff with
    ``payments.view_transaction`` (``side`` picks one of a split's). Else
    ``Http404``: no one learns that someone else's transaction exists."""
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such receipt")
    txn = _load(transaction_id)
    if txn is None:
        raise Http404("No such receipt")
    records = _records(txn)
    parties = _parties(txn, records)
    chosen = _side_for(user, parties, side)
    if chosen is None:
        raise Http404("No such receipt")
    receipt = _build(txn, chosen, parties, records)
    others = [s for s, party in parties.items() if s != chosen and party.pk != user.pk]
    if others and all(party.pk != user.pk for party in parties.values()):
        receipt = replace(receipt, other_side=others[0])
    return receipt


# --- links for the order and earnings pages -----------------------------------------------------


@dataclass(frozen=True)
class _MilestoneFacts:
    """What ``closing_act`` reads of a milestone, from a ``values_list`` row."""

    state: str
    started_at: datetime | None


def receipts_by_milestone(milestone_ids: Iterable[int], user: Any) -> dict[int, list[ReceiptLink]]:
    """The receipts this viewer has for each milestone, oldest first, in one
    query whatever the number of milestones (the order page)."""
    ids = list(milestone_ids)
    if not ids:
        return {}
    read_all = _may_read_all(user)
    rows = (
        Transaction.objects.filter(milestone_id__in=ids, kind__in=RECEIPT_KINDS)
        .order_by("created_at", "id")
        .values_list(
            "pk",
            "kind",
            "created_at",
            "milestone_id",
            "milestone__order__buyer_id",
            "milestone__order__seller_id",
            "idempotency_key",
            "milestone__state",
            "milestone__started_at",
        )
    )
    found: dict[int, list[ReceiptLink]] = defaultdict(list)
    for pk, kind, created_at, milestone_id, buyer_id, seller_id, key, state, started_at in rows:
        sides = SIDES[kind]
        party_of = {BUYER: buyer_id, SELLER: seller_id}
        own = [s for s in sides if party_of[s] == user.pk]
        act = closing_act(kind, key, _MilestoneFacts(state, started_at))
        if own:
            found[milestone_id] += [ReceiptLink(pk, kind, s, created_at, act=act) for s in own]
        elif read_all and user.pk not in (buyer_id, seller_id):
            found[milestone_id] += [
                ReceiptLink(pk, kind, s, created_at, explicit_side=len(sides) > 1, act=act) for s in sides
            ]
    return dict(found)


def receipts_for_milestone(milestone: Any, user: Any) -> list[ReceiptLink]:
    """The receipts a viewer has for one milestone."""
    return receipts_by_milestone([milestone.pk], user).get(milestone.pk, [])


def attach_receipt_links(
    *, withdrawals: Sequence[Withdrawal] = (), earnings: Sequence[Earning] = (), entries: Sequence[Entry] = ()
) -> None:
    """Set ``.receipt`` (a ``ReceiptLink`` or None) on each row of the earnings
    page, in one query. The rows are the viewer's own: their withdrawals, their
    earnings, the entries on their accounts."""
    keys: dict[str, tuple[str, list[Any]]] = {}
    for withdrawal in withdrawals:
        withdrawal.receipt = None  # type: ignore[attr-defined]
        keys[f"payout:{withdrawal.idempotency_key}"] = (SELLER, [withdrawal])
    for earning in earnings:
        earning.receipt = None  # type: ignore[attr-defined]
        key = f"settle:{earning.milestone_id}" if earning.tip is None else f"tip:{earning.tip.milestone_id}"
        keys.setdefault(key, (SELLER, []))[1].append(earning)
    if keys:
        for pk, key, kind, state, started_at in Transaction.objects.filter(
            idempotency_key__in=list(keys), kind__in=RECEIPT_KINDS
        ).values_list("pk", "idempotency_key", "kind", "milestone__state", "milestone__started_at"):
            side, rows = keys[key]
            if (kind, side) not in LABELS:
                continue
            act = closing_act(kind, key, _MilestoneFacts(state, started_at) if state else None)
            for row in rows:
                row.receipt = ReceiptLink(pk, kind, side, act=act)
    for entry in entries:
        entry.receipt = _entry_link(entry)  # type: ignore[attr-defined]


def _entry_side(account_kind: str, kind: str) -> str:
    # A payout is the receipt of the user paid out (``SELLER``), whichever balance it took.
    if kind in (K.WITHDRAWAL_PAID, K.WITHDRAWAL_FAILED):
        return SELLER
    return BUYER if account_kind == AccountKind.BUYER_BALANCE else SELLER


def _entry_link(entry: Entry) -> ReceiptLink | None:
    """The receipt of an entry on the user's own account (no query: the
    transaction and account are joined already)."""
    kind = entry.transaction.kind
    side = _entry_side(entry.account.kind, kind)
    if (kind, side) not in LABELS:
        return None
    txn = entry.transaction
    act = closing_act(kind, txn.idempotency_key, txn.milestone if txn.milestone_id else None)
    return ReceiptLink(entry.transaction_id, kind, side, txn.created_at, act=act)


# --- the ledger as rows (the earnings CSV) ----------------------------------------------------------

# The headers are in the reader's language; "Amount" stays a plain decimal ("-30.00") and "Currency"
# an ISO code in every language, so a spreadsheet or a script reads the file whoever downloaded it.
LEDGER_CSV_HEADER: tuple[StrOrPromise, ...] = (
    gettext_lazy("Date"),
    gettext_lazy("Receipt"),
    gettext_lazy("What"),
    gettext_lazy("Memo"),
    gettext_lazy("Balance"),
    gettext_lazy("Amount"),
    gettext_lazy("Currency"),
    gettext_lazy("Milestone"),
    gettext_lazy("Order"),
)


def ledger_rows(user: User, *, chunk_size: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Every entry on the user's own accounts, oldest first, streamed from the
    database (``iterator``): one row per entry, amounts as signed decimals."""
    entries = (
        Entry.objects.filter(account__user=user)
        .select_related("transaction__milestone", "account")
        .order_by("transaction_id", "id")
        .iterator(chunk_size=chunk_size)
    )
    for entry in entries:
        txn = entry.transaction
        link = _entry_link(entry)
        milestone = txn.milestone if txn.milestone_id else None
        yield (
            txn.created_at,
            link.number if link is not None else "",
            transaction_label(txn),
            txn.memo,
            entry.account.get_kind_display(),
            entry.amount.amount,
            str(entry.amount.currency),
            milestone.title if milestone is not None else "",
            milestone.order_id if milestone is not None else "",
        )
