"""Entry point of the test workers: ``celery worker`` with an optional slow step.

``MK_TEST_SLOW_CLEAR_SECONDS`` (read only here, never by the app) makes each
clearance in the sweep wait that long *inside* its transaction, after the
ledger post and before the commit, so a test can SIGKILL the worker with
some rows committed, one in flight, and the rest not started.

``MK_TEST_PAYOUT_PAUSE`` (``before`` or ``after``) makes each payout the
outbox executes wait ``MK_TEST_PAUSE_SECONDS`` just before calling the
provider, or just after it answered and before the answer is recorded: the
two moments a worker can die with money in flight.

``MK_TEST_WEBHOOK_PAUSE`` (seconds) makes the sandbox's webhook delivery wait
that long before it sends, so a test can kill the worker with the delivery in
its hands.
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

    pause = os.environ.get("MK_TEST_PAYOUT_PAUSE")
    if pause:
        from sandbox.provider import SandboxProvider

        seconds = float(os.environ.get("MK_TEST_PAUSE_SECONDS") or 30)
        real_payout = SandboxProvider.payout

        def paused_payout(self, **kwargs):
            print(f"payout: pausing {pause} the provider call", flush=True)
            if pause == "before":
                time.sleep(seconds)
            result = real_payout(self, **kwargs)
            if pause == "after":
                print("payout: the provider answered", flush=True)
                time.sleep(seconds)
            return result

        SandboxProvider.payout = paused_payout  # type: ignore[method-assign]

    webhook_pause = float(os.environ.get("MK_TEST_WEBHOOK_PAUSE") or 0)
    if webhook_pause:
        from sandbox import delivery

        real_post = delivery._post

        def paused_post(event):
            print(f"webhook: pausing before sending {event.event_id}", flush=True)
            time.sleep(webhook_pause)
            return real_post(event)

        delivery._post = paused_post  # type: ignore[assignment]

    from marketplace.celery import app

    app.worker_main(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
