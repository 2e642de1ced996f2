from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from djmoney.models.fields import MoneyField


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

    @property
    def clearance_period(self):
        return settings.CLEARANCE_PERIODS[self.withdrawal_method]

    def __str__(self) -> str:
        return self.username


class Gig(models.Model):
    seller = models.ForeignKey(User, on_delete=models.PROTECT, related_name="gigs")
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=5000)
    starting_price = MoneyField(max_digits=12, decimal_places=2, default_currency="USD")
    delivery_days = models.PositiveSmallIntegerField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[Gig] = models.Manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["is_active", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(delivery_days__gte=1), name="gig_delivery_days_positive"),
            models.CheckConstraint(condition=Q(starting_price__gt=0), name="gig_price_positive"),
        ]

    def __str__(self) -> str:
        return self.title


class Notification(models.Model):
    """An in-app notice; the e-mail copy goes out after commit (emailed_at)."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=40)
    message = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            models.Index(fields=["created_at"], name="notification_unemailed", condition=Q(emailed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.message
