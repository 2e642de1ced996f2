"""The double-entry ledger and the records that hang off it.

Every movement of money is a ``Transaction`` whose ``Entry`` rows sum to zero
per currency. Entries are immutable; a correction is a new, reversing
transaction. A positive entry increases its account's balance. The accounts of
the outside world (``gateway``, ``payouts``) go negative or positive freely;
every other account may never go below zero (``GUARDED_KINDS``), and for those
the balance is also cached on the row, updated under the row lock by
``ledger_post`` and checked against the entries by ``ledger_audit``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from djmoney.money import Money

from accounts.levels import SellerLevel
from accounts.models import WithdrawalMethod
from marketplace.bulk import written_by_hand
from marketplace.mac import MacSealed


class AccountKind(models.TextChoices):
    ESCROW = "escrow", _("Escrow (one per milestone)")
    SELLER_PENDING = "seller_pending", _("Seller: pending clearance")
    SELLER_AVAILABLE = "seller_available", _("Seller: available")
    # Any user's withdrawal in flight: a seller's earnings or a buyer's balance (``withdrawal_request``).
    SELLER_WITHDRAWING = "seller_withdrawing", _("Withdrawal in flight")
    BUYER_BALANCE = "buyer_balance", _("Buyer balance")
    PLATFORM_FEES = "platform_fees", _("Platform fees")
    GATEWAY = "gateway", _("Card payments (outside world)")
    PAYOUTS = "payouts", _("Payouts (outside world)")
    CARD_REFUNDS = "card_refunds", _("Refunds to card in flight")


# Accounts that may never go negative; their balance is cached on the row.
GUARDED_KINDS = frozenset(
    {
        AccountKind.ESCROW,
        AccountKind.SELLER_PENDING,
        AccountKind.SELLER_AVAILABLE,
        AccountKind.SELLER_WITHDRAWING,
        AccountKind.BUYER_BALANCE,
        AccountKind.CARD_REFUNDS,
    }
)
# The platform's own accounts: one per currency, no owner.
PLATFORM_KINDS = frozenset(
    {AccountKind.PLATFORM_FEES, AccountKind.GATEWAY, AccountKind.PAYOUTS, AccountKind.CARD_REFUNDS}
)
USER_KINDS = frozenset(
    {
        AccountKind.SELLER_PENDING,
        AccountKind.SELLER_AVAILABLE,
        AccountKind.SELLER_WITHDRAWING,
        AccountKind.BUYER_BALANCE,
    }
)


class Account(models.Model):
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_accounts",
    )
    milestone = models.OneToOneField(
        "milestones.Milestone", on_delete=models.PROTECT, null=True, blank=True, related_name="escrow_account"
    )
    # Cached for GUARDED_KINDS only (see the module docstring); zero otherwise.
    balance = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AccountKind.values), name="account_kind_valid"),
            models.CheckConstraint(
                condition=Q(balance__gte=0) | ~Q(kind__in=sorted(GUARDED_KINDS)),
                name="account_guarded_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=(Q(kind=AccountKind.ESCROW) & Q(milestone__isnull=False) & Q(user__isnull=True))
                | (Q(kind__in=sorted(USER_KINDS)) & Q(user__isnull=False) & Q(milestone__isnull=True))
                | (Q(kind__in=sorted(PLATFORM_KINDS)) & Q(user__isnull=True) & Q(milestone__isnull=True)),
                name="account_owner_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "user", "currency"],
                condition=Q(user__isnull=False),
                name="account_user_unique",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(user__isnull=True, milestone__isnull=True),
                name="account_platform_unique",
            ),
        ]

    def __str__(self) -> str:
        owner = self.user or (f"milestone {self.milestone_id}" if self.milestone_id else "platform")
        return f"{self.get_kind_display()} · {owner} · {self.currency}"

    @property
    def is_guarded(self) -> bool:
        return self.kind in GUARDED_KINDS

    @property
    def cached_balance(self) -> Money:
        return Money(self.balance, self.currency)


class TransactionKind(models.TextChoices):
    FUND = "fund", _("Milestone funded")
    RELEASE = "release", _("Released to seller")
    CLEAR = "clear", _("Earning cleared")
    REFUND = "refund", _("Refunded to buyer")
    SPLIT = "split", _("Dispute split")
    WITHDRAWAL_REQUEST = "withdrawal_request", _("Withdrawal requested")
    WITHDRAWAL_PAID = "withdrawal_paid", _("Withdrawal paid")
    WITHDRAWAL_FAILED = "withdrawal_failed", _("Withdrawal failed, returned")
    CARD_REFUND_PAID = "card_refund_paid", _("Refunded to card")
    CARD_REFUND_FAILED = "card_refund_failed", _("Card refund failed, credited to balance")
    LATE_PAYMENT = "late_payment", _("Payment after the checkout closed, refunding")
    TIP = "tip", _("Tip to seller")
    BALANCE_TO_CARD = "balance_to_card", _("Balance refunded to card")


class Transaction(models.Model):
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=TransactionKind.choices)
    memo = models.CharField(max_length=300, blank=True)
    milestone = models.ForeignKey(
        "milestones.Milestone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_transactions",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Set by ``ledger_post`` before the insert, so the MAC can cover it.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # A keyed MAC of the fields above and of the entries (``payments.integrity.transaction_mac``).
    mac = models.CharField(max_length=64, blank=True, editable=False)
    # PostgreSQL: the database transaction that wrote the row (a trigger sets it, ``txid_current()``);
    # the checkpoints (``LedgerSeal``) cover ranges of it. NULL on SQLite, where they cover ids.
    xid = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.idempotency_key})"


class Entry(models.Model):
    """Immutable: PostgreSQL refuses UPDATE and DELETE (migration 0002)."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = MoneyField(max_digits=16, decimal_places=2)

    objects: models.Manager[Entry] = models.Manager()

    class Meta:
        ordering = ["transaction_id", "id"]
        verbose_name_plural = _("entries")
        indexes = [models.Index(fields=["account", "transaction"])]

    def __str__(self) -> str:
        return f"{self.amount} → {self.account}"


# The ledger writes these with hand-written SQL (``payments.ledger``: a clearance batch posts a
# thousand transactions in three statements), which sends no save signal and calls no save():
# give them neither (the system check ``marketplace.E001`` refuses to start if one appears).
written_by_hand(Transaction, Entry, Account)


class EarningStatus(models.TextChoices):
    PENDING = "pending", _("Pending clearance")
    CLEARED = "cleared", _("Available")


class Tip(models.Model):
    """A buyer's tip on an approved milestone: paid in full to the seller's
    pending balance less the commission (``Earning.tip``), once per milestone."""

    milestone = models.OneToOneField("milestones.Milestone", on_delete=models.PROTECT, related_name="tip")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tips_given")
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tips_received")
    amount = MoneyField(max_digits=14, decimal_places=2)
    method = models.CharField(max_length=10)  # "balance" or "card"
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[Tip] = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="tip_amount_positive")]

    def __str__(self) -> str:
        return f"Tip of {self.amount} to {self.seller}"


class Earning(MacSealed, models.Model):
    """The seller's share of one released milestone, or of one tip, waiting
    for ``clears_at``. Exactly one of ``milestone`` and ``tip`` is set.
    Its money and times are sealed (``mac``) and frozen by a trigger; only
    ``status`` moves, pending to cleared."""

    MAC_FIELDS = ("seller_id", "milestone_id", "tip_id", "gross", "fee", "net", "clears_at")

    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings")
    milestone = models.OneToOneField(
        "milestones.Milestone", on_delete=models.PROTECT, null=True, blank=True, related_name="earning"
    )
    tip = models.OneToOneField(Tip, on_delete=models.PROTECT, null=True, blank=True, related_name="earning")
    gross = MoneyField(max_digits=14, decimal_places=2)
    fee = MoneyField(max_digits=14, decimal_places=2)
    net = MoneyField(max_digits=14, decimal_places=2)
    status = models.CharField(max_length=10, choices=EarningStatus.choices, default=EarningStatus.PENDING)
    clears_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The seller's withdrawal method when the milestone or tip was released: it fixed ``clears_at``,
    # and a method chosen later does not move it (the earnings page says so). Empty for earnings
    # released before it was kept whose period matched no method (``0012_earning_method``).
    method = models.CharField(
        _("Released under"), max_length=20, choices=WithdrawalMethod.choices, blank=True, default="", db_default=""
    )
    # The seller's level when it was released: with the method it fixed ``clears_at`` (the shorter
    # of the two periods, ``accounts.levels.clearance_for``), and the page names it ("clears in 7
    # days: Top rated"). Empty for earnings released before levels existed.
    level = models.CharField(
        _("Seller level"), max_length=20, choices=SellerLevel.choices, blank=True, default="", db_default=""
    )
    mac = models.CharField(max_length=64, blank=True, editable=False)

    objects: models.Manager[Earning] = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["clears_at"], name="earning_due", condition=Q(status="pending")),
            models.Index(fields=["seller", "status", "clears_at"], name="earning_seller_status_clears"),
            # The earnings page's "clearing soon" list per currency: with the currency in the index the
            # planner stops walking every due earning of the site (15 ms behind a backlog of 30,000).
            models.Index(
                fields=["seller", "net_currency", "clears_at", "id"],
                name="earning_seller_pending",
                condition=Q(status="pending"),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=EarningStatus.values), name="earning_status_valid"),
            models.CheckConstraint(condition=Q(net__gte=0) & Q(fee__gte=0), name="earning_amounts_not_negative"),
            models.CheckConstraint(
                condition=Q(milestone__isnull=False, tip__isnull=True) | Q(milestone__isnull=True, tip__isnull=False),
                name="earning_milestone_or_tip",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.net} for {self.seller} ({self.get_status_display()})"

    @property
    def clearance_period(self) -> timedelta:
        """How long it waits between release and ``clears_at``, to the minute (``created_at`` is
        taken a moment after the release's ``now``)."""
        return timedelta(minutes=round((self.clears_at - self.created_at).total_seconds() / 60))

    @property
    def for_milestone(self):
        """The milestone this earning came from: released, or tipped
        (select ``milestone`` and ``tip__milestone`` with it)."""
        return self.milestone if self.tip_id is None else self.tip.milestone  # type: ignore[union-attr]


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed, returned to available")


class Withdrawal(MacSealed, models.Model):
    """A seller's payout. Amount and destination are sealed (``mac``) and frozen
    by a trigger; only ``status`` moves, requested to paid or failed."""

    MAC_FIELDS = ("seller_id", "amount", "method", "destination", "idempotency_key")

    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    amount = MoneyField(max_digits=14, decimal_places=2)
    method = models.CharField(max_length=20)
    destination = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=WithdrawalStatus.choices, default=WithdrawalStatus.REQUESTED)
    idempotency_key = models.CharField(max_length=64, unique=True)
    gateway_reference = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    mac = models.CharField(max_length=64, blank=True, editable=False)

    objects: models.Manager[Withdrawal] = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="withdrawal_due", condition=Q(status="requested")),
            models.Index(fields=["seller", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=WithdrawalStatus.values), name="withdrawal_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} to {self.seller} ({self.get_status_display()})"


class CheckoutStatus(models.TextChoices):
    OPEN = "open", _("Waiting for payment")
    PAID = "paid", _("Paid")
    EXPIRED = "expired", _("Expired unpaid")
    CANCELLED = "cancelled", _("Cancelled unpaid")
    REFUNDED = "refunded", _("Paid late, refunded")


class Checkout(models.Model):
    """One hosted checkout: the buyer pays ``amount`` on the provider's page.

    Created with its milestone (``awaiting_payment``); the session is opened
    with the provider after that commits (``session_id`` and ``url`` fill in
    then). A paid webhook or the return page funds it (``checkout_paid``).
    """

    purpose = models.CharField(max_length=20, default="milestone")
    milestone = models.OneToOneField(
        "milestones.Milestone", on_delete=models.PROTECT, null=True, blank=True, related_name="checkout"
    )
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="checkouts")
    amount = MoneyField(max_digits=14, decimal_places=2)
    provider = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=CheckoutStatus.choices, default=CheckoutStatus.OPEN)
    idempotency_key = models.CharField(max_length=100, unique=True)
    session_id = models.CharField(max_length=255, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    payment_reference = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[Checkout] = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["expires_at"], name="checkout_due", condition=Q(status="open"))]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CheckoutStatus.values), name="checkout_status_valid"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="checkout_amount_positive"),
            models.UniqueConstraint(
                fields=["provider", "session_id"], condition=~Q(session_id=""), name="checkout_session_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Checkout {self.pk} {self.amount} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status == CheckoutStatus.OPEN


class WebhookEvent(models.Model):
    """Each provider event, stored once by its id: a replay finds it and changes nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    outcome = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[WebhookEvent] = models.Manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"


class CommandKind(models.TextChoices):
    PAYOUT = "payout", _("Payout to seller")
    REFUND = "refund", _("Refund to card")


class CommandStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Refused by the provider")
    STUCK = "stuck", _("Retries exhausted: needs staff")


class ProviderCommand(MacSealed, models.Model):
    """Money leaving through the provider: written in the same transaction as
    its ledger posting, executed by a worker after commit (``payments.outbox``).

    The idempotency key goes with every attempt, so a worker killed after the
    provider answered, and a retry, pay once. What it pays, to whom, is sealed
    (``mac``) and frozen by a trigger; ``status`` moves forward only (staff may
    send a stuck one again).
    """

    MAC_FIELDS = (
        "kind",
        "idempotency_key",
        "amount",
        "user_id",
        "withdrawal_id",
        "checkout_id",
        "milestone_id",
        "method",
        "destination",
        "payment_reference",
    )

    kind = models.CharField(max_length=10, choices=CommandKind.choices)
    status = models.CharField(max_length=10, choices=CommandStatus.choices, default=CommandStatus.PENDING)
    idempotency_key = models.CharField(max_length=200, unique=True)
    amount = MoneyField(max_digits=14, decimal_places=2)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="provider_commands")
    withdrawal = models.OneToOneField(
        Withdrawal, on_delete=models.PROTECT, null=True, blank=True, related_name="command"
    )
    checkout = models.ForeignKey(
        Checkout, on_delete=models.PROTECT, null=True, blank=True, related_name="refund_commands"
    )
    milestone = models.ForeignKey(
        "milestones.Milestone", on_delete=models.PROTECT, null=True, blank=True, related_name="provider_commands"
    )
    # Payouts: where to; refunds: the payment to refund.
    method = models.CharField(max_length=20, blank=True)
    destination = models.CharField(max_length=255, blank=True)
    payment_reference = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Not before this time: a backoff after a failure, or the lease of the worker running it.
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True)
    provider_reference = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    mac = models.CharField(max_length=64, blank=True, editable=False)

    objects: models.Manager[ProviderCommand] = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("operate_providercommand", "Can retry or give up stuck payouts and refunds")]
        indexes = [models.Index(fields=["next_attempt_at"], name="command_due", condition=Q(status="pending"))]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=CommandKind.values), name="command_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=CommandStatus.values), name="command_status_valid"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="command_amount_positive"),
            models.CheckConstraint(
                condition=(Q(kind="payout") & Q(withdrawal__isnull=False))
                | (Q(kind="refund") & ~Q(payment_reference="")),
                name="command_has_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} ({self.get_status_display()})"


class PayoutAccount(models.Model):
    """A seller's account at the payment provider that payouts go to (Stripe: a Connect Express account).

    Created when the seller first starts the provider's onboarding; the flags
    follow the provider's ``account.updated`` webhook and the onboarding return.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="provider_payout_account"
    )
    provider = models.CharField(max_length=20)
    account_id = models.CharField(max_length=255, unique=True)
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: models.Manager[PayoutAccount] = models.Manager()

    def __str__(self) -> str:
        return f"{self.provider} {self.account_id} for {self.user}"


class LedgerSeal(models.Model):
    """A checkpoint over the ledger transactions written since the previous one
    (``payments.integrity.ledger_seal``): how many, what they moved per
    currency, a digest of their MACs, chained by MAC to the previous seal. A
    transaction deleted, inserted or edited afterwards, even with the triggers
    off, no longer adds up to its seal. Append-only, like the entries.

    It covers ``lower <= cover < upper``, where the cover of a transaction is
    its ``xid`` on PostgreSQL (every database transaction below ``upper`` had
    finished when the seal was made, so none can join the range later) and its
    id on SQLite (one writer at a time).
    """

    lower = models.BigIntegerField()
    upper = models.BigIntegerField()
    count = models.PositiveIntegerField()
    # What the covered transactions moved: the sum of their positive entries per currency, "EUR 1.00;USD 2.50".
    totals = models.TextField(blank=True)
    # SHA-256 of the covered transactions' MACs, in id order.
    digest = models.CharField(max_length=64)
    previous_mac = models.CharField(max_length=64, blank=True)
    mac = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects: models.Manager[LedgerSeal] = models.Manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["lower"], name="ledger_seal_lower_unique"),
            models.CheckConstraint(condition=Q(upper__gt=models.F("lower")), name="ledger_seal_range"),
        ]

    def __str__(self) -> str:
        return f"Seal {self.pk}: {self.count} transactions"
