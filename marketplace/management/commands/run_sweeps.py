"""`python manage.py run_sweeps [--only NAME ...]`: run the beat sweeps once, here.

For an operator: catch up by hand (workers down, after an outage), or see
what the sweeps would do. The same code the beat tasks run; safe to run while
workers are running too (rows are claimed with skip_locked).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from marketplace.sweeps import all_sweeps, sweep_names


class Command(BaseCommand):
    help = "Run the sweeps (clearance, auto-approval, reminders, late flags, withdrawals, e-mails) once, in-process."

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            action="append",
            choices=sweep_names(),
            help="Run only this sweep (repeat for several). Default: all, in order.",
        )

    def handle(self, *args, only: list[str] | None = None, **options):
        failed = 0
        for sweep in all_sweeps():
            if only and sweep.name not in only:
                continue
            result = sweep.run()
            failed += result.failed
            style = self.style.ERROR if result.failed else (self.style.SUCCESS if result.done else str)
            self.stdout.write(style(str(result)))
        if failed:
            raise CommandError(f"{failed} row(s) failed; they stay due and the next run retries them (see the log).")
