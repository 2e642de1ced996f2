"""Probes for the load balancer and the orchestrator.

* ``/livez``: the process answers (no database, no broker): restart it if not.
* ``/readyz`` (and ``/healthz``, its older name): the database and the broker
  answer: send it traffic. 200 with ``{"status": "ok", ...}`` when both
  answer; 503 naming what is down (``"down": ["broker"]``) otherwise. Each
  check is bounded to about a second, so a probe never hangs on a dead broker.

Both answer whatever the Host header (``HealthHostMiddleware``, before
``CommonMiddleware``), so a container's own healthcheck on 127.0.0.1 works
without adding it to ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis.backoff import NoBackoff
from redis.retry import Retry

from marketplace.celery import app

TIMEOUT_SECONDS = 1


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"down: {exc.__class__.__name__}"
    return "ok"


def _broker() -> str:
    url = app.conf.broker_url or ""
    if url.startswith(("redis://", "rediss://")):
        try:
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=TIMEOUT_SECONDS,
                socket_timeout=TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
            )
            try:
                client.ping()
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001
            return f"down: {exc.__class__.__name__}"
        return "ok"
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
    if folder is None:
        return "ok"
    return "ok" if Path(folder).is_dir() else "down: broker folder missing"


@never_cache
@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "broker": _broker()}
    down = [name for name, value in checks.items() if value != "ok"]
    body: dict[str, str | list[str]] = {"status": "unavailable" if down else "ok", **checks}
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)


# Paths an orchestrator or Prometheus calls on a container's own address, over plain HTTP.
OPERATOR_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})


class HealthHostMiddleware:
    """Answer the probes (and ``/metrics``, which keeps its own allow-list) before the Host header is
    checked and before the HTTPS redirect: they are called on the container's own address, which
    is not a site host. Nothing else is served this way."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path_info in OPERATOR_PATHS and request.method == "GET":
            match = resolve(request.path_info)
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
