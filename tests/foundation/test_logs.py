"""What an operator reads: gunicorn (with ``gunicorn.conf.py``) writes one JSON object per line, the
access line with its duration and the proxy's request id, which the response and the app's lines carry too."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from deploy.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Host": "localhost", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.fixture
def gunicorn(tmp_path):
    port = _free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "LOG_FORMAT": "json",
        "DATA_DIR": str(tmp_path / "data"),
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "marketplace.wsgi"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(base + "/livez", {})
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base, log
    finally:
        stop_process(process, wait=20, name="gunicorn")


def _records(log: Path) -> list[dict]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    for line in lines:
        assert line.startswith("{"), f"not a JSON line: {line!r}"
    return [json.loads(line) for line in lines]


def test_every_line_is_json_with_time_level_logger_and_the_request_id(gunicorn):
    base, log = gunicorn
    status, headers = _get(base + "/accounts/login/", {"X-Request-ID": "nginx-7d3a9c", "User-Agent": 'probe "quoted"'})
    assert status == 200 and headers["X-Request-ID"] == "nginx-7d3a9c"
    assert _get(base + "/readyz", {})[0] == 200
    status, headers = _get(base + "/no-such-page/", {})
    assert status == 404
    generated = headers["X-Request-ID"]
    assert len(generated) == 36, "made up when the proxy sent none (a UUID)"
    time.sleep(0.5)

    records = _records(log)
    for record in records:
        assert {"time", "level", "logger", "event"} <= record.keys(), record
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    assert any(r["path"] == "/readyz" and r["status"] == 200 for r in access)
    ready = next(r for r in access if r["path"] == "/accounts/login/")
    assert ready["status"] == 200 and ready["method"] == "GET"
    assert ready["request_id"] == "nginx-7d3a9c"
    assert isinstance(ready["duration_ms"], float) and ready["duration_ms"] > 0
    assert ready["user_agent"] == 'probe "quoted"', "escaped by the JSON, not breaking it"
    missing = next(r for r in access if r["path"] == "/no-such-page/")
    assert missing["status"] == 404
    finished = next(r for r in records if r["event"] == "request_finished" and r.get("code") == 404)
    assert finished["request_id"] == generated and finished["level"] == "warning"
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["event"] for r in records)


def test_errors_go_to_sentry_with_the_django_and_celery_integrations_when_a_dsn_is_set(tmp_path):
    """A local stand-in for Sentry's ingest: the exception arrives, from a process with both integrations."""
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[bytes] = []

    class Ingest(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Ingest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    probe = (
        "import sentry_sdk; client = sentry_sdk.get_client(); "
        "print('integrations', sorted(client.integrations)); "
        "sentry_sdk.capture_exception(RuntimeError('payout provider exploded')); sentry_sdk.flush(5)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings_test",
        "SENTRY_DSN": f"http://public@127.0.0.1:{server.server_port}/1",
        "DATA_DIR": str(tmp_path),
    }
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert "'celery'" in result.stdout and "'django'" in result.stdout
    assert received and b"payout provider exploded" in b"".join(received)


def test_a_calendar_feeds_token_never_reaches_the_access_log():
    """The token is the feed's only credential: whoever reads the log must not be able to read the feed."""
    from marketplace.logs import access_fields

    fields = access_fields("200 OK", "GET", "/calendar/s3cr3t-T0ken_x.ics", {}, 0.01, 10)
    assert fields["path"] == "/calendar/[token].ics"
    assert access_fields("200 OK", "GET", "/dashboard/calendar-feed/", {}, 0.01, 10)["path"] == (
        "/dashboard/calendar-feed/"
    )
