"""The beat schedule, publishing with the broker away, and /healthz."""

from __future__ import annotations

from unittest import mock

import pytest

from marketplace.celery import SWEEP_TASKS, app
from marketplace.queue import breaker, publish
from marketplace.sweeps import all_sweeps, sweep_names
from notifications.tasks import send_notification_email


def test_beat_runs_every_sweep_every_interval_and_drops_stale_ticks(settings):
    app.loader.import_default_modules()
    schedule = dict(app.conf.beat_schedule)
    seal = schedule.pop("seal-ledger")
    assert seal["task"] == "payments.tasks.seal_ledger" and seal["task"] in app.tasks
    assert seal["schedule"] == settings.LEDGER_SEAL_INTERVAL_SECONDS
    assert {entry["task"] for entry in schedule.values()} == set(SWEEP_TASKS.values())
    for entry in schedule.values():
        assert entry["task"] in app.tasks, f"{entry['task']} is not a registered task"
        assert entry["schedule"] == settings.SWEEP_INTERVAL_SECONDS
        assert entry["options"]["expires"] == settings.SWEEP_INTERVAL_SECONDS
    assert [sweep.name for sweep in all_sweeps()] == sweep_names()


def test_tasks_are_acknowledged_late_one_at_a_time(settings):
    app.loader.import_default_modules()
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    for name in [*SWEEP_TASKS.values(), "notifications.tasks.send_notification_email"]:
        assert app.tasks[name].acks_late


def test_a_failed_publish_pauses_publishing_instead_of_retrying(broker):
    broker.stop()
    assert publish(send_notification_email, 1) is False
    assert breaker.is_open()
    with mock.patch.object(send_notification_email, "apply_async") as apply_async:
        assert publish(send_notification_email, 2) is False
    apply_async.assert_not_called()

    broker.start()
    breaker.reset()
    assert publish(send_notification_email, 3) is True


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
