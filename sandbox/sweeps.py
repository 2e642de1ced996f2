"""The sandbox's one sweep: webhooks not yet answered 2xx whose next attempt is due
(``sandbox.delivery``). See ``marketplace/sweeps.py`` for how a sweep walks its rows."""

from __future__ import annotations

from datetime import datetime

from marketplace.sweeps import DueSet, SweepResult, candidates, now_or, register_sweep, sweep
from sandbox.delivery import deliver_due, due


def webhooks_due(now: datetime) -> list[DueSet]:
    return [DueSet("sandbox webhooks to send again", due(now), "next_attempt_at")]


@register_sweep("sandbox_webhooks", due=webhooks_due)
def sweep_webhooks(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    now = now_or(now)
    pks = candidates(due(now), time_field="next_attempt_at")
    return sweep("sandbox_webhooks", pks, lambda pk: deliver_due(pk, now), until=until)
