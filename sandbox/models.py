"""The sandbox provider's own records: what a real provider keeps on its side.

Nothing in the marketplace reads these tables; it talks to the sandbox only
through ``sandbox.provider.SandboxProvider`` and the sandbox's signed webhooks,
as it would to Stripe.
"""

from __future__ import annotations

from django.db import models
from djmoney.models.fields import MoneyField


class SandboxSession(models.Model):
    """A hosted checkout session (Stripe: ``checkout.session``)."""

    session_id = models.CharField(max_length=64, unique=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    amount = MoneyField(max_digits=14, decimal_places=2)
    description = models.CharField(max_length=500)
    reference = models.CharField(max_length=100)
    customer_email = models.CharField(max_length=254, blank=True)
    success_url = models.CharField(max_length=2000)
    cancel_url = models.CharField(max_length=2000)
    status = models.CharField(max_length=10, default="open")  # open, complete, expired
    payment_status = models.CharField(max_length=10, default="unpaid")  # unpaid, paid
    payment_reference = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    objects: models.Manager[SandboxSession] = models.Manager()

    def __str__(self) -> str:
        return f"{self.session_id} {self.amount} {self.status}/{self.payment_status}"


class SandboxOperation(models.Model):
    """A charge, refund or payout; a replayed idempotency key gets the first answer."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10)  # charge, refund, payout
    amount = MoneyField(max_digits=16, decimal_places=2)
    succeeded = models.BooleanField()
    reference = models.CharField(max_length=100)
    # A refund's payment, a payout's destination (its token: never a whole account number).
    target = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Copied from the first layout's ``payments.GatewayOperation`` at the upgrade (sandbox
    # migrations 0001 and 0005): the provider's history from before the marketplace kept its own
    # side (checkouts, provider commands), so reconciliation has nothing to match it with.
    imported = models.BooleanField(default=False, db_default=False)

    objects: models.Manager[SandboxOperation] = models.Manager()

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {'ok' if self.succeeded else self.failure_code}"


class SandboxPayoutDestination(models.Model):
    """A payout account the marketplace had tokenized (Stripe: a bank account or card token): the
    token it sends payouts to, with the method and last four digits, never the number. Whether
    payouts to it fail (the test accounts of ``cards.FAILING_PAYOUT_DESTINATIONS``) is decided
    when it is tokenized, since the number is gone afterwards."""

    token = models.CharField(max_length=64, unique=True)
    method = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    fails = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[SandboxPayoutDestination] = models.Manager()

    def __str__(self) -> str:
        return f"{self.token} ({self.method} •••• {self.last4})"


class SandboxEvent(models.Model):
    """A webhook the sandbox sends (and retries) to the marketplace's endpoint."""

    event_id = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    url = models.CharField(max_length=2000)
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # When the sweep sends it (again) if no 2xx has come back by then: set when it is made
    # (so a delivery lost with a killed worker is sent again), moved on by each failed
    # attempt along the retry schedule, cleared once delivered or given up.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[SandboxEvent] = models.Manager()

    class Meta:
        indexes = [
            # The sweep's read: the unanswered events, by when they are due.
            models.Index(
                fields=["next_attempt_at"], name="sandbox_event_due", condition=models.Q(delivered_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
