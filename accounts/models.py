"""People: one account both buys and sells; the role is per order."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class WithdrawalMethod(models.TextChoices):
    INSTANT = "instant", "Instant (debit card)"
    PAYPAL = "paypal", "PayPal"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"


class User(AbstractUser):
    """One account can both buy and sell; the role is per order."""

    withdrawal_method = models.CharField(
        max_length=20, choices=WithdrawalMethod.choices, default=WithdrawalMethod.BANK_TRANSFER
    )
    payout_account = models.CharField(
        max_length=100,
        blank=True,
        help_text="Where withdrawals go: a debit card, a PayPal e-mail or an IBAN.",
    )
    bio = models.TextField(blank=True, max_length=2000)
    # Where a refund the buyer did not choose goes (a decline, a dispute); a
    # cancel asks each time. "card" falls back to the balance for milestones
    # paid from the balance.
    refund_to = models.CharField(
        "Refunds go to",
        max_length=10,
        choices=[("balance", "My site balance (instant)"), ("card", "The card I paid with (5–10 days)")],
        default="balance",
    )

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]  # the stubs omit it
        # Created by the first layout, when users lived in ``marketplace``.
        db_table = "marketplace_user"

    @property
    def clearance_period(self) -> timedelta:
        return settings.CLEARANCE_PERIODS[self.withdrawal_method]

    def __str__(self) -> str:
        return self.username
