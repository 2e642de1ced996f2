"""The webhooks sweep: deliveries due again after a failure (backoff), and any whose task never
ran (broker down, task lost). See ``marketplace/sweeps.py`` for how a sweep walks and claims rows."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from marketplace.sweeps import DueSet, SweepResult, candidates, now_or, register_sweep, sweep
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services import delivery_attempt


def _deliveries_due(now: datetime) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)


def deliveries_due(now: datetime) -> list[DueSet]:
    return [DueSet("webhook deliveries due", _deliveries_due(now), "next_attempt_at")]


@register_sweep("webhooks", due=deliveries_due)
def sweep_webhooks(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Post the deliveries that are due: retries after their backoff, and those whose task never ran."""
    now = now_or(now)
    pks = candidates(_deliveries_due(now), time_field="next_attempt_at")
    return sweep("webhooks", pks, lambda pk: delivery_attempt(delivery_id=pk, now=now) is not None, until=until)
