"""``/metrics``: Prometheus reads the business gauges from an allowed address; nobody else sees them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.models import Heartbeat
from milestones.models import MilestoneState as S
from notifications.models import Notification
from payments.models import WebhookEvent
from tests.factories import NotificationFactory, milestone_in

pytestmark = pytest.mark.django_db


def _scrape(client, **extra) -> dict[str, float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    values = {}
    for line in response.content.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_the_gauges_an_operator_alerts_on(client, settings):
    settings.SWEEP_INTERVAL_SECONDS = 30
    settings.EMAIL_MAX_ATTEMPTS = 3
    milestone_in(S.IN_PROGRESS, amount="120.00")
    milestone_in(S.IN_REVIEW, amount="30.50")
    late = milestone_in(S.IN_PROGRESS, amount="10.00")
    late.__class__.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(hours=2))
    failing = NotificationFactory()
    Notification.objects.filter(pk=failing.pk).update(email_attempts=1, emailed_at=None)
    given_up = NotificationFactory()
    Notification.objects.filter(pk=given_up.pk).update(email_attempts=3, emailed_at=None)
    event = WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_1",
        type="checkout.session.completed",
        payload={"created": int((timezone.now() - timedelta(seconds=42)).timestamp())},
    )
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(seconds=12))
    Heartbeat.beat("beat")

    values = _scrape(client)
    assert values['marketplace_escrow_amount{currency="USD"}'] == pytest.approx(160.50)
    assert values['marketplace_escrow_amount{currency="EUR"}'] == 0
    late_key = '{rows="milestones to flag late",sweep="late"}'
    assert values[f"marketplace_sweep_due_rows{late_key}"] == 1
    assert values[f"marketplace_sweep_overdue_rows{late_key}"] == 1
    assert 7100 < values[f"marketplace_sweep_oldest_due_age_seconds{late_key}"] < 7300
    assert values['marketplace_emails_failing{state="retrying"}'] == 1
    assert values['marketplace_emails_failing{state="given_up"}'] == 1
    assert 10 <= values['marketplace_webhook_last_received_age_seconds{provider="stripe"}'] < 60
    assert 29 <= values['marketplace_webhook_lag_seconds{provider="stripe"}'] <= 31
    assert 0 <= values["marketplace_beat_heartbeat_age_seconds"] < 5
    assert values['marketplace_provider_commands{kind="payout",status="stuck"}'] == 0
    assert values["process_resident_memory_bytes"] > 0


def test_a_silent_beat_reads_minus_one_and_an_empty_site_reads_zero(client):
    values = _scrape(client)
    assert values["marketplace_beat_heartbeat_age_seconds"] == -1
    assert all(value == 0 for name, value in values.items() if name.startswith("marketplace_sweep_"))


def test_only_allowed_addresses_may_read_it(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_behind_the_proxy_the_client_is_the_forwarded_address_not_the_proxy(client, settings):
    """nginx connects from 127.0.0.1: a request from outside must not pass as local."""
    settings.TRUSTED_PROXY_COUNT = 1
    outside = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert client.get("/metrics", **outside).status_code == 404
    spoofed = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1, 203.0.113.9"}
    assert client.get("/metrics", **spoofed).status_code == 404
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


def test_prometheus_scrapes_the_containers_own_address_over_plain_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.METRICS_ALLOWED_IPS = ["172.16.0.0/12"]
    response = client.get("/metrics", HTTP_HOST="172.18.0.7:8000", REMOTE_ADDR="172.18.0.2")
    assert response.status_code == 200, "not 400 for the Host, not 301 to https"
