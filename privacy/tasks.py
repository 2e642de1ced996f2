from __future__ import annotations

from celery import shared_task

from privacy.retention import prune_old_data as prune


@shared_task(acks_late=True)
def prune_old_data() -> dict[str, int]:
    """Hourly from beat; safe to run twice (it deletes what is past its retention)."""
    return prune()
