"""Publishing tasks without letting the broker slow down or break a request.

The database is the source of truth for everything timed; a task published
here is only a prompt nudge. If the broker is down, the publish fails fast
(bounded timeouts in settings) and is logged, and the beat sweeps pick the
work up from the database when the broker is back.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def publish(task: Any, *args: Any) -> bool:
    try:
        task.apply_async(args=args, retry=False)
    except Exception:  # noqa: BLE001 - any broker failure is survivable here
        logger.warning("broker unavailable; %s%r left for the sweep", task.name, args, exc_info=True)
        return False
    return True


def enqueue_on_commit(task: Any, *args: Any) -> None:
    """Publish ``task(*args)`` after the current transaction commits, never before."""
    transaction.on_commit(lambda: publish(task, *args))
