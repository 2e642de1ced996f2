"""Entry point of the test workers: ``celery worker`` with an optional slow step.

``MK_TEST_SLOW_CLEAR_SECONDS`` (read only here, never by the app) makes each
clearance in the sweep wait that long *inside* its transaction, after the
ledger post and before the commit, so a test can SIGKILL the worker with
some rows committed, one in flight, and the rest not started.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings_test")
    import django

    django.setup()
    slow = float(os.environ.get("MK_TEST_SLOW_CLEAR_SECONDS") or 0)
    if slow:
        from django.db import transaction

        from payments import services, sweeps

        real_batch = services.earnings_clear_batch

        def slow_batch(**kwargs):
            # One earning per batch, each held open a while before its commit.
            with transaction.atomic():
                done = real_batch(**kwargs)
                time.sleep(slow)
            return done

        sweeps.CLEARANCE_BATCH = 1
        sweeps.earnings_clear_batch = slow_batch  # type: ignore[assignment]

    from marketplace.celery import app

    app.worker_main(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
