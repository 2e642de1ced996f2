"""The sandbox re-sends a webhook not answered 2xx on a backoff schedule, as the real
provider does (hours, not an hour's silence), until it gives up; one answered is never
sent again. The clock is the database (``next_attempt_at``); the sweep sends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox import delivery
from sandbox.models import SandboxEvent
from sandbox.services import event_emit
from sandbox.sweeps import sweep_webhooks

pytestmark = pytest.mark.django_db
SCHEDULE = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30)]


@pytest.fixture
def sends(settings, monkeypatch):
    """Every send, answered by ``answers`` in turn (the last one repeats)."""
    settings.SANDBOX_WEBHOOK_RETRY_SCHEDULE = SCHEDULE
    log: list[str] = []
    answers = ["unreachable: connection refused"]

    def post(event):
        log.append(event.event_id)
        status = answers.pop(0) if len(answers) > 1 else answers[0]
        return status == "200", status

    monkeypatch.setattr(delivery, "_post", post)
    return log, answers


def _event() -> SandboxEvent:
    return event_emit(type="checkout.session.completed", obj={"id": "cs_1"}, webhook_url="http://127.0.0.1:1/x/")


def test_an_event_is_due_again_a_minute_after_it_is_made_in_case_its_first_send_is_lost(settings):
    settings.SANDBOX_WEBHOOK_RETRY_SCHEDULE = SCHEDULE
    before = timezone.now()
    event = _event()
    assert event.next_attempt_at is not None
    assert before + SCHEDULE[0] <= event.next_attempt_at <= timezone.now() + SCHEDULE[0]


def test_unanswered_sends_follow_the_schedule_then_give_up(sends):
    log, _ = sends
    event = _event()
    now = event.next_attempt_at
    sweep_webhooks(now=now - timedelta(seconds=1))
    assert log == []  # not due yet
    for sent, wait in enumerate(SCHEDULE, start=1):
        sweep_webhooks(now=now)
        event.refresh_from_db()
        assert len(log) == sent and event.next_attempt_at == now + wait, "each failure waits longer"
        sweep_webhooks(now=now + wait - timedelta(seconds=1))
        assert len(log) == sent, "nothing is sent before it is due"
        now = now + wait
    sweep_webhooks(now=now)
    event.refresh_from_db()
    assert event.attempts == len(SCHEDULE) + 1 and event.next_attempt_at is None  # given up
    assert event.delivered_at is None and "unreachable" in event.last_status
    sweep_webhooks(now=now + timedelta(days=30))
    assert len(log) == len(SCHEDULE) + 1


def test_an_answered_event_is_never_sent_again(sends):
    log, answers = sends
    answers[:] = ["500", "200"]
    event = _event()
    sweep_webhooks(now=event.next_attempt_at)
    event.refresh_from_db()
    assert (event.attempts, event.last_status, event.delivered_at) == (1, "500", None)
    assert sweep_webhooks(now=event.next_attempt_at).done == 1
    event.refresh_from_db()
    assert event.delivered_at is not None and event.next_attempt_at is None and event.last_status == "200"
    assert sweep_webhooks(now=timezone.now() + timedelta(days=1)).done == 0
    assert delivery.deliver(event.pk) is True and len(log) == 2


def test_two_sweeps_at_once_send_a_due_event_once(sends):
    """The lease: the first sweep's conditional update takes the event; the second finds it taken."""
    log, _ = sends
    event = _event()
    due = event.next_attempt_at
    assert delivery.due(due).filter(pk=event.pk).update(next_attempt_at=due + delivery.LEASE) == 1
    assert delivery.deliver_due(event.pk, due) is False
    assert log == []
