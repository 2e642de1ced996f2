"""`make bench`'s backlog stage ends, and says so, when a task outlasts the worker's shutdown (issue 41).

The stage runs as `make bench` runs it (a prefork worker with two processes and
beat, each in its own process group, stopped in three steps), here against the
test database and the private Redis, with a worker whose clearance task
ignores SIGTERM and sleeps far longer than the stage's wait. A run once ended
with `TimeoutExpired` there, a traceback and no results.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

import bench.__main__ as bench_run
from milestones.models import MilestoneState
from payments.models import Earning, EarningStatus
from tests.celery.conftest import wait_until
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

STOP_WAIT = 3.0


def _group_gone(pgid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_the_backlog_stage_ends_and_reports_a_cut_wait_when_a_task_ignores_sigterm(broker, settings, tmp_path):
    settings.CLEARANCE_PERIODS = {**settings.CLEARANCE_PERIODS, "bank_transfer": timedelta(seconds=0.5)}
    seller = UserFactory()
    for _ in range(3):
        milestone_in(MilestoneState.APPROVED, order=OrderFactory(seller=seller))
    wait_until(
        lambda: Earning.objects.filter(status=EarningStatus.PENDING, clears_at__lte=timezone.now()).count() == 3,
        timeout=10,
        what="the earnings to fall due",
    )
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        "DJANGO_SETTINGS_MODULE": "marketplace.settings_test",
        "DATABASE_URL": database_url,
        "REDIS_URL": broker.url,
        "CELERY_BROKER_URL": broker.url,
        "DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
        # Far longer than the stage's wait: only SIGKILL ends this worker.
        "MK_TEST_STUBBORN_SECONDS": "300",
    }
    worker = [sys.executable, "-m", "tests.celery.stubborn_worker", "--concurrency=2", "--loglevel=INFO"]
    logs = tmp_path / "backlog"
    report = bench_run.Report()
    run = bench_run.Run(report)

    def stage() -> bench_run.Backlog:
        return bench_run.backlog_bench(
            report, expected=3, env=env, worker=worker, logs=logs, stop_wait=STOP_WAIT, limit=120
        )

    started = time.monotonic()
    backlog = run.stage("backlog", stage)
    took = time.monotonic() - started

    assert report.stages[0].finished, report.stages[0].reason
    assert isinstance(backlog, bench_run.Backlog)
    assert "ignoring SIGTERM" in (logs / "worker.log").read_text(), "the task was running when the stop began"
    worker_stop, beat_stop = backlog.stopped
    assert worker_stop.name == "worker" and worker_stop.cut and worker_stop.returncode == -9
    assert STOP_WAIT <= worker_stop.seconds < STOP_WAIT + 10
    assert not beat_stop.cut
    assert _group_gone(worker_stop.pid), "a pool child of the worker outlived the stage"
    assert took < 120

    bench_run.backlog_row(report, backlog, None)
    bench_run.write_results(report, tmp_path / "results")
    results = json.loads((tmp_path / "results" / "latest.json").read_text())
    (written,) = results["stages"]
    assert written["name"] == "backlog" and written["finished"] is True
    assert any("outlasted the 3s wait after SIGTERM: SIGKILL" in note for note in written["notes"])
    assert results["figures"]["backlog_stop_cut"] == 1
    assert "backlog_rps" in results["figures"]
    table = (tmp_path / "results" / "latest.md").read_text()
    assert "backlog of 3 due earnings" in table
    assert "| backlog | yes |" in table and "SIGKILL" in table
