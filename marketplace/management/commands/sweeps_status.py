"""`python manage.py sweeps_status`: what is due now, and what is overdue.

"Overdue" means due for longer than two sweep intervals: with beat and a
worker running, nothing should be; a growing overdue count says the sweeps
are not running (no beat, no worker, broker down) or failing on a row.
Beat's heartbeat (``marketplace.beat``) is read too: older than two
intervals (plus the heartbeat's own period), or never recorded, beat is not
running. Exits 1 when anything is overdue or beat is silent, so cron or a
monitor can alert on it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.timesince import timesince

from marketplace.beat import HEARTBEAT_SECONDS
from marketplace.models import Heartbeat
from marketplace.sweeps import all_sweeps


class Command(BaseCommand):
    help = "Print, per sweep, how many rows are due now, how many are overdue, and the oldest due time."

    def add_arguments(self, parser):
        parser.add_argument(
            "--beat", action="store_true", help="Only beat's heartbeat (beat's own container healthcheck)."
        )

    def handle(self, *args, beat: bool = False, **options):
        now = timezone.now()
        overdue_before = now - timedelta(seconds=2 * settings.SWEEP_INTERVAL_SECONDS)
        self.stdout.write(
            f"Sweeps at {now:%Y-%m-%d %H:%M:%S %Z}; every {settings.SWEEP_INTERVAL_SECONDS}s; "
            f"overdue = due before {overdue_before:%H:%M:%S}"
        )
        beat_at = Heartbeat.last("beat")
        beat_silent = beat_at is None or beat_at < overdue_before - timedelta(seconds=HEARTBEAT_SECONDS)
        if beat_at is None:
            beat_line = "beat          no heartbeat recorded: beat has never run against this database"
        else:
            beat_line = f"beat          last heartbeat {beat_at:%Y-%m-%d %H:%M:%S} ({timesince(beat_at, now)} ago)"
        self.stdout.write(self.style.WARNING(beat_line) if beat_silent else beat_line)
        if beat:
            if beat_silent:
                raise CommandError("Beat is silent.", returncode=1)
            return
        any_overdue = False
        for sweep in all_sweeps():
            for due in sweep.due(now):
                count = due.count()
                overdue = due.count_due_before(overdue_before) if count else 0
                any_overdue = any_overdue or overdue > 0
                oldest = due.oldest() if count else None
                when = f"oldest due {oldest:%Y-%m-%d %H:%M:%S} ({timesince(oldest, now)} ago)" if oldest else "-"
                line = f"{sweep.name:<13} {due.label:<34} due {count:>6}  overdue {overdue:>6}  {when}"
                self.stdout.write(self.style.WARNING(line) if overdue else line)
        if any_overdue or beat_silent:
            problem = "Some work is overdue" if any_overdue else "Beat is silent"
            raise CommandError(f"{problem}: check that beat and a worker are running.", returncode=1)
