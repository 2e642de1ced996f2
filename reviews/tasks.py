"""Thin Celery task over the review sweep (beat runs it; see marketplace/celery.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from marketplace.sweeps import sweep_tick
from reviews import sweeps


@shared_task(acks_late=True)
def sweep_reviews() -> dict[str, Any]:
    return sweep_tick(sweep_reviews, sweeps.sweep_reviews)
