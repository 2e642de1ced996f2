"""The beat schedule, publishing with the broker away, and /healthz."""

from __future__ import annotations

import importlib
import sys
from unittest import mock

import pytest

from marketplace.celery import app
from marketplace.queue import breaker, publish
from marketplace.sweeps import SweepResult, all_sweeps
from notifications.tasks import send_notification_email

# Every sweep the apps register in their sweeps.py, as the kernel discovered them at start.
SWEEP_TASKS = {sweep.name: sweep.task for sweep in all_sweeps()}


def test_each_app_registers_its_own_sweeps_and_the_kernel_finds_them_all():
    assert SWEEP_TASKS == {
        "emails": "notifications.sweeps.sweep_emails",
        "outgoing_emails": "notifications.sweeps.sweep_outgoing_emails",
        "webhooks": "webhooks.sweeps.sweep_webhooks",
        "clearance": "payments.sweeps.sweep_clearance",
        "outbox": "payments.sweeps.sweep_outbox",
        "auto_approve": "milestones.sweeps.sweep_auto_approve",
        "reminders": "milestones.sweeps.sweep_reminders",
        "late": "milestones.sweeps.sweep_late",
        "checkouts": "milestones.sweeps.sweep_checkouts",
        "proposals": "milestones.sweeps.sweep_proposals",
        "offers": "milestones.sweeps.sweep_offers",
        "orders": "milestones.sweeps.sweep_orders",
        "continue": "milestones.sweeps.sweep_continue",
        "sandbox_webhooks": "sandbox.sweeps.sweep_webhooks",
        "reviews": "reviews.sweeps.sweep_reviews",
        "seller_levels": "reviews.sweeps.sweep_seller_levels",
        "requests": "requests_board.sweeps.sweep_requests",
    }


def test_a_new_sweep_is_one_decorated_function_in_its_apps_sweeps_module(tmp_path, monkeypatch, settings):
    """Adding a sweep is one edit: the function in ``<app>/sweeps.py`` with ``register_sweep``.
    The kernel makes its task, schedules it and routes it to the sweeps queue."""
    from marketplace import sweeps as engine
    from marketplace.celery import beat_schedule

    monkeypatch.setattr(engine, "_registry", dict(engine._registry))
    (tmp_path / "planted").mkdir()
    (tmp_path / "planted" / "__init__.py").write_text("")
    (tmp_path / "planted" / "sweeps.py").write_text(
        "from marketplace.sweeps import SweepResult, register_sweep\n\n\n"
        "@register_sweep('planted', due=lambda now: [])\n"
        "def sweep_planted(*, now=None, until=None):\n"
        "    return SweepResult(name='planted', done=1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("planted.sweeps")
    try:
        app.loader.import_default_modules()
        assert engine.all_sweeps()[-1].name == "planted"
        assert app.tasks["planted.sweeps.sweep_planted"].acks_late
        schedule = beat_schedule({sweep.name: sweep.task for sweep in engine.all_sweeps()})
        assert schedule["sweep-planted"] == {
            "task": "planted.sweeps.sweep_planted",
            "schedule": float(settings.SWEEP_INTERVAL_SECONDS),
        }
        assert app.amqp.router.route({}, "planted.sweeps.sweep_planted")["queue"].name == "sweeps"
        with mock.patch("marketplace.sweeps.publish") as publish_:
            assert app.tasks["planted.sweeps.sweep_planted"]() == SweepResult(name="planted", done=1).as_dict()
        publish_.assert_not_called()
    finally:
        sys.modules.pop("planted.sweeps", None)
        sys.modules.pop("planted", None)


def test_beat_runs_every_sweep_every_interval_and_never_drops_a_tick(settings):
    app.loader.import_default_modules()
    schedule = dict(app.conf.beat_schedule)
    seal = schedule.pop("seal-ledger")
    prune = schedule.pop("prune-old-data")
    assert prune["task"] == "privacy.tasks.prune_old_data" and prune["task"] in app.tasks
    assert prune["schedule"] == 3600
    assert seal["task"] == "payments.tasks.seal_ledger" and seal["task"] in app.tasks
    assert seal["schedule"] == settings.LEDGER_SEAL_INTERVAL_SECONDS
    assert schedule == {
        f"sweep-{name}": {"task": task, "schedule": settings.SWEEP_INTERVAL_SECONDS}
        for name, task in SWEEP_TASKS.items()
    }
    for entry in schedule.values():
        assert entry["task"] in app.tasks, f"{entry['task']} is not a registered task"
        assert entry["schedule"] == settings.SWEEP_INTERVAL_SECONDS
        assert "expires" not in entry.get("options", {}), "a tick waits its turn; it is never dropped"


def test_sweeps_email_and_the_rest_have_queues_of_their_own_and_a_worker_takes_all_three():
    app.loader.import_default_modules()

    def queue_of(name: str) -> str:
        return app.amqp.router.route({}, name)["queue"].name

    for name in [*SWEEP_TASKS.values(), "payments.tasks.seal_ledger"]:
        assert queue_of(name) == "sweeps", name
    for name in ["notifications.tasks.send_notification_email", "notifications.tasks.send_notification_emails"]:
        assert queue_of(name) == "email", name
    assert queue_of("notifications.sweeps.sweep_emails") == "sweeps"
    for name in ["payments.tasks.execute_command", "payments.tasks.expire_provider_session"]:
        assert queue_of(name) == "celery", name
    # A slow receiver of a user's webhook holds up its own queue only; its retry sweep is a sweep.
    assert queue_of("webhooks.tasks.deliver_webhook") == "webhooks"
    assert queue_of("webhooks.sweeps.sweep_webhooks") == "sweeps"
    # With no -Q, a worker consumes every queue of task_queues.
    assert {queue.name for queue in app.conf.task_queues} == {"celery", "sweeps", "email", "webhooks"}


def test_a_sweep_stopped_at_its_budget_with_rows_left_publishes_itself_again_at_once():
    from marketplace.sweeps import SweepResult, sweep_tick

    task = mock.Mock(name="task")
    with mock.patch("marketplace.sweeps.publish") as publish_:
        sweep_tick(task, lambda until: SweepResult(name="clearance", done=500, unfinished=True))
        publish_.assert_called_once_with(task)
        publish_.reset_mock()
        sweep_tick(task, lambda until: SweepResult(name="clearance", done=3))
        publish_.assert_not_called()


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


@pytest.mark.django_db
def test_the_probes_answer_on_the_containers_own_address_over_plain_http(client, settings):
    """An orchestrator probes 127.0.0.1 or the pod's address over HTTP: not a
    site host, not HTTPS. The probes answer; every other page still refuses."""
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    live = client.get("/livez", HTTP_HOST="10.0.0.5:8000")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = client.get("/readyz", HTTP_HOST="127.0.0.1:8000")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    assert client.get("/healthz", HTTP_HOST="127.0.0.1:8000").status_code == 200
    assert client.get("/", HTTP_HOST="10.0.0.5:8000").status_code == 400
    assert client.get("/livez", HTTP_HOST="shop.example.com", secure=True).status_code == 200
    assert client.post("/livez", HTTP_HOST="10.0.0.5:8000").status_code == 400, "GET only, or the Host check"


def test_livez_needs_neither_database_nor_broker(client, broker):
    broker.stop()
    try:
        response = client.get("/livez")
        assert response.status_code == 200, "no database access is allowed here either"
        assert client.get("/readyz").status_code == 503
    finally:
        broker.start()
