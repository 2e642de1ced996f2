"""gunicorn's settings (read from the working directory: the image's CMD, `make cluster`).

Behind nginx: it buffers slow uploads and slow readers, so a sync worker is
only ever busy for the time the application takes. Access lines are JSON with
the duration and nginx's request id (``marketplace.logs``).
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from marketplace.logs import access_fields, gunicorn_logconfig

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# A request the application takes longer than this on is killed (the database's own limit is 30 s).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "45"))
# On SIGTERM, requests in flight get this long to finish (compose's stop_grace_period is longer).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
keepalive = 5
# Recycle workers now and then, so a slow leak can never take a web process down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# X-Forwarded-* is taken only from the proxy (nginx overwrites it); Django reads it through
# SECURE_PROXY_SSL_HEADER and TRUSTED_PROXY_COUNT.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
logconfig_dict = gunicorn_logconfig(os.environ.get("LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO"))


class AccessLogger(Logger):
    """An access line per request, with its fields as fields (not a format string to parse)."""

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        seconds = request_time.total_seconds()
        fields = access_fields(resp.status, req.method, req.path, environ, seconds, getattr(resp, "sent", None))
        self.access_log.info("%s %s %s", req.method, req.path, fields["status"], extra=fields)


logger_class = AccessLogger
