"""A request's id follows the work it publishes into the worker's log lines (django-structlog)."""

from __future__ import annotations

import json

import pytest
import structlog

from marketplace.queue import publish
from tests.celery.conftest import wait_until

pytestmark = [pytest.mark.celery]


def _lines(output: str) -> list[dict]:
    records = []
    for line in output.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def test_a_task_published_during_a_request_logs_with_the_requests_id(worker_factory):
    worker = worker_factory()
    structlog.contextvars.bind_contextvars(request_id="req-4f1c-from-nginx")
    try:
        assert publish("milestones.sweeps.sweep_late")
    finally:
        structlog.contextvars.clear_contextvars()

    def succeeded() -> list[dict]:
        return [r for r in _lines(worker.output()) if r.get("event") == "task_succeeded"]

    wait_until(succeeded, timeout=30, what="the task to run")
    done = succeeded()[0]
    assert done["request_id"] == "req-4f1c-from-nginx"
    assert done["task_id"] and done["duration_ms"] >= 0
    assert done["level"] == "info" and done["logger"].startswith("django_structlog")
    assert done["time"].endswith("Z")
    # Celery's own lines are JSON too: every line the worker printed after its banner parses.
    ready = [r for r in _lines(worker.output()) if " ready." in r.get("event", "")]
    assert ready and ready[0]["logger"].startswith("celery")
