"""`make run`: web, a Celery worker and Celery beat in one foreground command.

One Ctrl-C stops all three; if any of them dies, the others are stopped too,
so the operator never keeps a half-running marketplace.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

# The one way to stop a started process (SIGTERM, a bounded wait, SIGKILL): a standalone module that
# imports nothing of the project, shared with make bench and make cluster.
from deploy.processes import stop_processes


class Command(BaseCommand):
    help = "Run web, Celery worker and Celery beat together until Ctrl-C."

    def add_arguments(self, parser):
        # The address the settings made SITE_URL from (ADDR or PORT, as `make run` exports them).
        parser.add_argument("--addr", default=settings.RUN_ADDR)

    def handle(self, *args, addr: str, **options):
        python = sys.executable
        # SQLite takes one writer at a time: one worker process is plenty here.
        pool = ["--pool=solo"] if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") else ["--concurrency=2"]
        commands = {
            "web": [python, "manage.py", "runserver", addr, "--noreload"],
            "worker": [python, "-m", "celery", "-A", "marketplace", "worker", "--loglevel=INFO", *pool],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "marketplace",
                "beat",
                "--loglevel=INFO",
                f"--schedule={settings.CELERY_BEAT_SCHEDULE_FILENAME}",
            ],
        }
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603
        self.stdout.write(
            self.style.SUCCESS(f"\nMilestone Marketplace is running at http://{addr}/\n")
            + "Demo accounts (password: marketplace-demo): buyer, seller, admin (staff)\n"
            + f"API docs at http://{addr}/api/docs/ (a token of the demo buyer: make demo-token)\n"
            + "Press Ctrl-C once to stop web, worker and beat.\n"
        )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in processes.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with {proc.returncode}; stopping the others.")
                    exit_code = proc.returncode or 1
                    stopping = True
                    break
            time.sleep(0.5)
        # SIGTERM, 10 s for all three, then SIGKILL: a worker's warm shutdown waits for its task.
        for stopped in stop_processes(list(processes.values()), wait=10, names=list(processes)):
            if stopped.cut:
                self.stderr.write(stopped.describe())
        sys.exit(exit_code)
