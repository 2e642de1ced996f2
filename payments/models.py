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

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from djmoney.models.fields import MoneyField
from djmoney.money import Money


class AccountKind(models.TextChoices):
    ESCROW = "escrow", "Escrow (one per milestone)"
    SELLER_PENDING = "seller_pending", "Seller: pending clearance"
    SELLER_AVAILABLE = "seller_available", "Seller: available"
    SELLER_WITHDRAWING = "seller_withdrawing", "Seller: withdrawal in flight"
    BUYER_BALANCE = "buyer_balance", "Buyer balance"
    PLATFORM_FEES = "platform_fees", "Platform fees"
    GATEWAY = "gateway", "Card payments (outside world)"
    PAYOUTS = "payouts", "Payouts (outside world)"


# Accounts that may never go negative; their balance is cached on the row.
GUARDED_KINDS = frozenset(
    {
        AccountKind.ESCROW,
        AccountKind.SELLER_PENDING,
        AccountKind.SELLER_AVAILABLE,
        AccountKind.SELLER_WITHDRAWING,
        AccountKind.BUYER_BALANCE,
    }
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
                | (
                    Q(kind__in=[AccountKind.PLATFORM_FEES, AccountKind.GATEWAY, AccountKind.PAYOUTS])
                    & Q(user__isnull=True)
                    & Q(milestone__isnull=True)
                ),
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
    FUND = "fund", "Milestone funded"
    RELEASE = "release", "Released to seller"
    CLEAR = "clear", "Earning cleared"
    REFUND = "refund", "Refunded to buyer"
    SPLIT = "split", "Dispute split"
    WITHDRAWAL_REQUEST = "withdrawal_request", "Withdrawal requested"
    WITHDRAWAL_PAID = "withdrawal_paid", "Withdrawal paid"
    WITHDRAWAL_FAILED = "withdrawal_failed", "Withdrawal failed, returned"


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
    created_at = models.DateTimeField(auto_now_add=True)

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
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["account", "transaction"])]

    def __str__(self) -> str:
        return f"{self.amount} → {self.account}"


class EarningStatus(models.TextChoices):
    PENDING = "pending", "Pending clearance"
    CLEARED = "cleared", "Available"


class Earning(models.Model):
    """The seller's share of one released milestone, waiting for ``clears_at``."""

    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings")
    milestone = models.OneToOneField("milestones.Milestone", on_delete=models.PROTECT, related_name="earning")
    gross = MoneyField(max_digits=14, decimal_places=2)
    fee = MoneyField(max_digits=14, decimal_places=2)
    net = MoneyField(max_digits=14, decimal_places=2)
    status = models.CharField(max_length=10, choices=EarningStatus.choices, default=EarningStatus.PENDING)
    clears_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[Earning] = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["clears_at"], name="earning_due", condition=Q(status="pending")),
            models.Index(fields=["seller", "status", "clears_at"], name="earning_seller_status_clears"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=EarningStatus.values), name="earning_status_valid"),
            models.CheckConstraint(condition=Q(net__gte=0) & Q(fee__gte=0), name="earning_amounts_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.net} for {self.seller} ({self.get_status_display()})"


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed, returned to available"


class Withdrawal(models.Model):
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


class GatewayOperation(models.Model):
    """The sandbox gateway's own record, so a replayed key returns the first answer."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10)
    amount = MoneyField(max_digits=16, decimal_places=2)
    succeeded = models.BooleanField()
    reference = models.CharField(max_length=100)
    failure_code = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[GatewayOperation] = models.Manager()

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {'ok' if self.succeeded else self.failure_code}"
