"""Publishing tasks without letting the broker slow down or break a request.

The database is the source of truth for everything timed; a task published
here is only a prompt nudge. If the broker is down, the publish fails fast and
is logged, and the beat sweeps pick the work up from the database when the
broker is back (e-mails: ``sweep_emails``; payouts: ``sweep_withdrawals``).

Two guards keep a request prompt while the broker is away:

* one connection attempt, bounded by the broker's socket timeouts, no retry
  (``ensure_connection(max_retries=0)`` here, ``retry=False`` on publish);
  the transport's own failover settings would otherwise retry with a pause;
* a circuit breaker: after a failure, publishing is skipped for
  ``BROKER_BREAKER_SECONDS`` (default 15), so a page that sends three
  notifications, or a burst of requests, pays for at most one attempt.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Task
from django.conf import settings
from django.db import transaction

from marketplace.celery import app

logger = logging.getLogger(__name__)

# One connection attempt may take this long at most (seconds).
CONNECT_TIMEOUT = 1.0


class CircuitBreaker:
    """Open for ``seconds`` after a failure; closed (let calls through) otherwise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    @staticmethod
    def seconds() -> float:
        return float(getattr(settings, "BROKER_BREAKER_SECONDS", 15))

    def is_open(self) -> bool:
        with self._lock:
            return time.monotonic() < self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.seconds()

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = CircuitBreaker()


def publish(task: Task | str, *args: Any) -> bool:
    """Send ``task(*args)`` to the broker now; False if it was not sent (logged).

    ``task`` is a task or its dotted name: a service publishes by name, so it
    never imports the task module that imports it.
    """
    name = task if isinstance(task, str) else task.name
    if breaker.is_open():
        logger.info("broker marked down; %s%r left for the sweep", name, args)
        return False
    try:
        with app.producer_or_acquire() as producer:  # type: ignore[attr-defined]  # stubs: a context manager
            producer.connection.ensure_connection(max_retries=0, timeout=CONNECT_TIMEOUT)
            app.signature(name, args=args).apply_async(retry=False, producer=producer)
    except Exception:  # noqa: BLE001 - any broker failure is survivable here
        breaker.trip()
        logger.warning(
            "broker unavailable; %s%r left for the sweep (publishing paused %ss)",
            name,
            args,
            breaker.seconds(),
            exc_info=True,
        )
        return False
    return True


def enqueue_on_commit(task: Task | str, *args: Any) -> None:
    """Publish ``task(*args)`` after the current transaction commits, never before."""
    transaction.on_commit(lambda: publish(task, *args))
