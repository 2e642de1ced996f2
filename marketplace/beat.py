"""Beat's scheduler, with a heartbeat (settings ``CELERY_BEAT_SCHEDULER``).

Beat is the one process with no port and no queue of its own: if it dies or
hangs, no sweep is ever published again and nothing else notices. As it
ticks, this scheduler records ``Heartbeat("beat")`` at most once every
``HEARTBEAT_SECONDS``; ``sweeps_status`` exits 1 when that heartbeat is older
than two sweep intervals, and ``/metrics`` exports its age.
"""

from __future__ import annotations

import logging
import time

from celery.beat import PersistentScheduler
from django.db import close_old_connections

from marketplace.models import Heartbeat

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0


class HeartbeatScheduler(PersistentScheduler):
    _last_heartbeat = 0.0

    def tick(self, *args, **kwargs):
        self.heartbeat()
        return super().tick(*args, **kwargs)

    def heartbeat(self) -> None:
        now = time.monotonic()
        if self._last_heartbeat and now - self._last_heartbeat < HEARTBEAT_SECONDS:
            return

        try:
            # Beat lives for weeks: a connection the database dropped is replaced, not reused.
            close_old_connections()
            Heartbeat.beat("beat")
        except Exception:  # noqa: BLE001 - a database outage must not stop the schedule
            log.warning("beat heartbeat not recorded", exc_info=True)
            return
        self._last_heartbeat = now
