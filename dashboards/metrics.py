"""``/metrics`` for Prometheus: what an operator alerts on, read from the database at each scrape.

Business gauges, the same in every web process (they come from PostgreSQL, not
from a process's memory): money held in escrow, per sweep the rows due and
overdue and the oldest due row's age, e-mails failing, the webhooks' lag, the
payouts and refunds waiting or stuck, and beat's heartbeat. Request rates and
latencies come from the access log (gunicorn's JSON lines, nginx's).

Served only to the addresses in ``METRICS_ALLOWED_IPS`` (networks; the client
address as ``TRUSTED_PROXY_COUNT`` says): anyone else gets a 404. nginx also
refuses the path from outside (deploy/nginx).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from marketplace.http import client_ip
from marketplace.models import Heartbeat
from marketplace.sums import ExactSum
from marketplace.sweeps import all_sweeps
from notifications.models import Notification, OutgoingEmail
from payments.models import Account, AccountKind, CommandStatus, ProviderCommand, WebhookEvent


def allowed(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS)


class BusinessCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from self._escrow()
        yield from self._sweeps(now)
        yield from self._emails()
        yield from self._webhooks(now)
        yield from self._commands()
        beat = GaugeMetricFamily(
            "marketplace_beat_heartbeat_age_seconds", "Seconds since beat last ticked (-1: never recorded)."
        )
        at = Heartbeat.last("beat")
        beat.add_metric([], (now - at).total_seconds() if at else -1)
        yield beat

    def _escrow(self) -> Iterator[Metric]:
        escrow = GaugeMetricFamily(
            "marketplace_escrow_amount", "Money held in escrow for funded milestones.", labels=["currency"]
        )
        rows = (
            Account.objects.filter(kind=AccountKind.ESCROW)
            .values("currency")
            .annotate(total=ExactSum("balance"))
            .order_by("currency")
        )
        totals = {row["currency"]: row["total"] for row in rows}
        for currency in settings.MARKETPLACE_CURRENCIES:
            escrow.add_metric([currency], float(totals.get(currency) or 0))
        yield escrow

    def _sweeps(self, now) -> Iterator[Metric]:
        labels = ["sweep", "rows"]
        due = GaugeMetricFamily("marketplace_sweep_due_rows", "Rows due for a sweep now.", labels=labels)
        overdue = GaugeMetricFamily(
            "marketplace_sweep_overdue_rows", "Rows due for longer than two sweep intervals.", labels=labels
        )
        oldest = GaugeMetricFamily(
            "marketplace_sweep_oldest_due_age_seconds", "Age of the oldest row due (0: none).", labels=labels
        )
        overdue_before = now - timedelta(seconds=2 * settings.SWEEP_INTERVAL_SECONDS)
        for sweep in all_sweeps():
            for rows in sweep.due(now):
                count = rows.count()
                first = rows.oldest() if count else None
                key = [sweep.name, rows.label]
                due.add_metric(key, count)
                overdue.add_metric(key, rows.count_due_before(overdue_before) if count else 0)
                oldest.add_metric(key, max((now - first).total_seconds(), 0) if first else 0)
        yield from (due, overdue, oldest)

    def _emails(self) -> Iterator[Metric]:
        failing = GaugeMetricFamily(
            "marketplace_emails_failing",
            "E-mails (notices' copies and account e-mails) that failed and are not sent yet.",
            labels=["state"],
        )
        unsent = Notification.objects.filter(emailed_at__isnull=True, email_attempts__gt=0)
        account = OutgoingEmail.objects.filter(sent_at__isnull=True, attempts__gt=0)
        cap = settings.EMAIL_MAX_ATTEMPTS
        failing.add_metric(
            ["retrying"], unsent.filter(email_attempts__lt=cap).count() + account.filter(attempts__lt=cap).count()
        )
        failing.add_metric(
            ["given_up"], unsent.filter(email_attempts__gte=cap).count() + account.filter(attempts__gte=cap).count()
        )
        yield failing

    def _webhooks(self, now) -> Iterator[Metric]:
        silence = GaugeMetricFamily(
            "marketplace_webhook_last_received_age_seconds",
            "Seconds since the provider's last webhook arrived.",
            labels=["provider"],
        )
        lag = GaugeMetricFamily(
            "marketplace_webhook_lag_seconds",
            "For the newest webhook: seconds from the provider creating the event to its arrival.",
            labels=["provider"],
        )
        for row in WebhookEvent.objects.values("provider").annotate(last=Max("received_at")).order_by("provider"):
            silence.add_metric([row["provider"]], (now - row["last"]).total_seconds())
            newest = (
                WebhookEvent.objects.filter(provider=row["provider"])
                .order_by("-received_at", "-id")
                .values("received_at", "payload")
                .first()
            )
            payload = newest["payload"] if newest else None
            created = payload.get("created") if isinstance(payload, dict) else None
            if newest and isinstance(created, int | float) and created > 0:
                lag.add_metric([row["provider"]], max(newest["received_at"].timestamp() - created, 0))
        yield from (silence, lag)

    def _commands(self) -> Iterator[Metric]:
        commands = GaugeMetricFamily(
            "marketplace_provider_commands",
            "Payouts and refunds to card waiting for the provider (pending) or for staff (stuck).",
            labels=["kind", "status"],
        )
        counts = {
            (row["kind"], row["status"]): row["n"]
            for row in ProviderCommand.objects.filter(status__in=[CommandStatus.PENDING, CommandStatus.STUCK])
            .values("kind", "status")
            .annotate(n=Count("pk"))
            .order_by()
        }
        for kind in ("payout", "refund"):
            for status in (CommandStatus.PENDING, CommandStatus.STUCK):
                commands.add_metric([kind, str(status)], counts.get((kind, status), 0))
        yield commands


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        raise Http404
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BusinessCollector())
    ProcessCollector(registry=registry)  # this web process: memory, CPU, open files
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
