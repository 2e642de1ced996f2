"""A Celery worker whose clearance task outlasts any shutdown: after each batch
it clears (committed), the task ignores SIGTERM and sleeps
``MK_TEST_STUBBORN_SECONDS``. The worker's warm shutdown waits for it, so only
SIGKILL ends the worker (tests/celery/test_bench_backlog_stop.py, issue 41).

Arguments are ``celery worker``'s; the settings come from the environment.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings_test")
    import django

    django.setup()
    from payments import sweeps

    seconds = float(os.environ.get("MK_TEST_STUBBORN_SECONDS") or 120)
    real_batch = sweeps.earnings_clear_batch

    def stubborn_batch(**kwargs):
        cleared = real_batch(**kwargs)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(f"stubborn: {len(cleared)} cleared; ignoring SIGTERM for {seconds:.0f}s", flush=True)
        time.sleep(seconds)
        return cleared

    sweeps.earnings_clear_batch = stubborn_batch  # type: ignore[assignment]

    from marketplace.celery import app

    app.worker_main(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
