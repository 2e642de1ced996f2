"""Beat's heartbeat: recorded as beat ticks, read by ``sweeps_status``, which alerts when beat falls silent."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from celery.beat import PersistentScheduler
from django.core.management import CommandError, call_command
from django.utils import timezone

from marketplace.beat import HeartbeatScheduler
from marketplace.celery import app
from marketplace.models import Heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Beat drops stale connections before writing; here that would close the test's transaction."""
    with mock.patch("marketplace.beat.close_old_connections"):
        yield


def _scheduler(tmp_path) -> HeartbeatScheduler:
    # celery-types declares no keyword arguments for the schedulers.
    return HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"), lazy=True)  # type: ignore[call-arg]


def test_beat_is_configured_with_the_heartbeat_scheduler(settings):
    assert app.conf.beat_scheduler == "marketplace.beat:HeartbeatScheduler"


def test_each_tick_records_the_heartbeat_at_most_every_ten_seconds(tmp_path):
    scheduler = _scheduler(tmp_path)
    start = timezone.now()
    with mock.patch.object(PersistentScheduler, "tick", return_value=5.0) as tick:
        assert scheduler.tick() == 5.0, "the schedule itself runs as before"
        first = Heartbeat.last("beat")
        assert first is not None and first >= start
        scheduler.tick()
        assert Heartbeat.last("beat") == first, "not written on every tick"
        with mock.patch("marketplace.beat.time.monotonic", return_value=scheduler._last_heartbeat + 11):
            scheduler.tick()
        assert Heartbeat.last("beat") > first
    assert tick.call_count == 3


def test_a_database_outage_does_not_stop_the_schedule(tmp_path, caplog):
    scheduler = _scheduler(tmp_path)
    with (
        mock.patch.object(PersistentScheduler, "tick", return_value=1.0),
        mock.patch.object(Heartbeat, "beat", side_effect=RuntimeError("database away")),
    ):
        assert scheduler.tick() == 1.0
    assert "beat heartbeat not recorded" in caplog.text
    assert Heartbeat.last("beat") is None


def test_sweeps_status_passes_with_a_fresh_heartbeat_and_nothing_overdue(capsys):
    Heartbeat.beat("beat")
    call_command("sweeps_status")
    assert "last heartbeat" in capsys.readouterr().out


def test_sweeps_status_exits_1_when_beat_never_ran(capsys):
    with pytest.raises(CommandError, match="Beat is silent") as failure:
        call_command("sweeps_status")
    assert failure.value.returncode == 1
    assert "no heartbeat recorded" in capsys.readouterr().out


def test_sweeps_status_exits_1_when_the_heartbeat_is_older_than_two_intervals(settings, capsys):
    settings.SWEEP_INTERVAL_SECONDS = 30
    Heartbeat.beat("beat")
    with time_machine.travel(timezone.now() + timedelta(seconds=65), tick=False):
        call_command("sweeps_status")  # within two intervals and the heartbeat's own period
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=80), tick=False),
        pytest.raises(CommandError, match="Beat is silent") as failure,
    ):
        call_command("sweeps_status")
    assert failure.value.returncode == 1
    out = capsys.readouterr().out
    assert "(1\xa0minute ago)" in out, out


def test_beats_own_healthcheck_reads_only_the_heartbeat(capsys):
    from milestones.models import MilestoneState as S
    from tests.factories import milestone_in

    late = milestone_in(S.IN_PROGRESS)
    late.__class__.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(hours=1))
    Heartbeat.beat("beat")
    call_command("sweeps_status", "--beat")  # overdue rows are the workers' business, not beat's health
    Heartbeat.objects.update(at=timezone.now() - timedelta(minutes=10))
    with pytest.raises(CommandError, match="Beat is silent") as failure:
        call_command("sweeps_status", "--beat")
    assert failure.value.returncode == 1
