"""The platform's own rows (the apps keep theirs): a heartbeat per long-running process."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Heartbeat(models.Model):
    """The last time a process (``beat``) said it was alive: ``sweeps_status`` and ``/metrics`` read it.

    Beat itself has no port to probe and no queue to ping; it writes here as it
    ticks (``marketplace.beat.HeartbeatScheduler``), so a dead or wedged beat
    shows as a heartbeat that grows old.
    """

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def beat(cls, name: str) -> None:
        cls.objects.update_or_create(name=name, defaults={"at": timezone.now()})

    @classmethod
    def last(cls, name: str):
        return cls.objects.filter(name=name).values_list("at", flat=True).first()
