"""Fixtures for the Celery tests: a private Redis, the app pointed at it, real workers.

Every test here that needs a broker gets its own throwaway ``redis-server``
on a free port (one per session), never the machine's shared Redis: no stray
worker of another developer can take our tasks, and the "Redis down" tests
can stop and start it freely.

Workers are subprocesses (``celery -A marketplace worker``, solo pool, in
their own process group) against the pytest test database, so a test can
SIGKILL one. They need committed data: use ``django_db(transaction=True)``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from deploy.processes import kill_process, stop_process

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], *, timeout: float = 30, interval: float = 0.1, what: str = "") -> object:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` (generous, not a benchmark)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


@dataclass
class RedisServer:
    """One throwaway redis-server we own; stop() and start() it at will."""

    port: int
    workdir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, timeout=10, interval=0.05, what="redis-server to answer")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def flushdb(self) -> None:
        """Empty DB 0 of this private server (left-over tasks of an earlier test)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHDB\r\n")
            assert sock.recv(16).startswith(b"+OK")

    def kill(self) -> None:
        """SIGKILL the server: an outage as a crash, not a polite shutdown."""
        if self.process is None:
            return
        kill_process(self.process, name="redis-server")
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process, wait=10, name="redis-server")
        self.process = None


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(port=free_port(), workdir=tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def _reset_app_connections() -> None:
    from kombu import pools

    from marketplace.celery import app
    from marketplace.queue import breaker

    # The producer pools are cached per broker URL in kombu's registry:
    # reset them all, so the next publish connects afresh.
    pools.reset()  # type: ignore[attr-defined]
    app._pool = None  # type: ignore[attr-defined]
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    breaker.reset()


@pytest.fixture(autouse=True)
def broker(private_redis, monkeypatch) -> Iterator[RedisServer]:
    """Point this process's Celery app (publishing, /healthz) at the private Redis, emptied.

    Every test here, so that what the services publish on commit never lands
    on the shared Redis. Celery reads ``CELERY_BROKER_URL`` from the
    environment before settings; the pools are rebuilt so the next publish
    connects there.
    """
    if private_redis.process is None:
        private_redis.start()
    private_redis.flushdb()
    monkeypatch.setenv("CELERY_BROKER_URL", private_redis.url)
    _reset_app_connections()
    yield private_redis
    if private_redis.process is None:
        private_redis.start()
    monkeypatch.delenv("CELERY_BROKER_URL")
    _reset_app_connections()


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole worker (and its embedded beat): no goodbye, no ack."""
        kill_process(self.process, name="worker")

    def stop(self) -> None:
        """SIGTERM to its group, 15 s, then SIGKILL (``deploy.processes``)."""
        stop_process(self.process, wait=15, name="worker")


@pytest.fixture
def worker_factory(broker, transactional_db, tmp_path) -> Iterator[Callable[..., Worker]]:
    """Start real worker subprocesses against the test database and the private Redis.

    ``beat=True`` embeds beat (``-B``), with the static schedule of
    marketplace/celery.py at ``SWEEP_INTERVAL_SECONDS=1``. ``env`` adds
    settings for the worker process (e.g. ``CLEARANCE_BANK_TRANSFER=2s``).
    ``module`` runs another entry point (tests/celery/worker_main.py).
    """
    workers: list[Worker] = []
    name = f"mk-celery-test-{uuid.uuid4().hex[:8]}"

    def start(*, beat: bool = False, env: dict[str, str] | None = None, slow_clear: float = 0) -> Worker:
        database = settings.DATABASES["default"]
        child_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "marketplace.settings_test",
            "DATABASE_URL": (
                f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST']}:"
                f"{database['PORT'] or 5432}/{connection.settings_dict['NAME']}"
            ),
            "REDIS_URL": broker.url,
            "CELERY_BROKER_URL": broker.url,
            "DATA_DIR": str(tmp_path / "data"),
            "SWEEP_INTERVAL_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        if slow_clear:
            child_env["MK_TEST_SLOW_CLEAR_SECONDS"] = str(slow_clear)
        log = tmp_path / f"worker-{len(workers)}.log"
        command = [sys.executable, "-m", "tests.celery.worker_main", "--loglevel=INFO", "--pool=solo"]
        command += ["-n", f"{name}-{len(workers)}@%h", "--without-mingle", "--without-gossip", "--without-heartbeat"]
        if beat:
            command += ["-B", f"--schedule={tmp_path / 'beat-schedule'}"]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=REPO, env=child_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = Worker(process=process, log=log)
        workers.append(worker)

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"worker exited with {process.returncode}:\n{worker.output()[-3000:]}")
            return " ready." in worker.output()

        wait_until(ready, timeout=30, what="the worker to be ready")
        return worker

    yield start
    for worker in workers:
        worker.stop()
