# ruff: noqa: S603, S607, S608, S105, S108
# (a benchmark driver: it runs fixed local tools, builds SQL from its own constants, uses /tmp)
"""`make bench` (``python -m bench``): evidence of speed, each figure next to its baseline.

Fully automatic, on this machine, in well under 15 minutes:

1. drops and recreates the ``marketplace_bench`` PostgreSQL database, migrates
   it, and uses Redis DB 7 (flushed first);
2. seeds it (``bench/seed.py``) and checks ``ledger_audit``;
3. counts queries per page with the Django test client, small and large data;
4. serves the app under gunicorn (production settings, DEBUG off) and a raw
   WSGI callable under the same gunicorn, and measures pages with ``wrk``;
5. measures approve-and-release with 8 threads against pgbench running the
   same SQL; then a backlog cleared by a real worker and beat; then the
   clearance sweep against one set-based statement;
6. checks ``ledger_audit`` again, prints the Markdown table and writes it to
   ``bench/results/latest.md`` (and every figure to ``latest.json``).

Each step is a stage (``Run``): one that fails is marked not finished, with
why, in the table and ``latest.json``; the results are written in any case,
and the exit code is non-zero only after that. Every process a stage starts
is stopped in three steps (``deploy.processes``: SIGTERM, at most
``BENCH_STOP_WAIT`` seconds, SIGKILL to its process group), and a cut wait
is reported in the stage's notes.

See bench/README.md for what limits each figure.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from deploy.processes import Stopped, stop_processes

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
VENV_BIN = Path(sys.executable).parent
STARTED = time.monotonic()

BENCH_DB = os.environ.get("BENCH_DB", "marketplace_bench")
_pg = urlparse(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/marketplace")
PG_HOST, PG_PORT, PG_USER = _pg.hostname or "127.0.0.1", _pg.port or 5432, _pg.username or "postgres"
PG_PASSWORD = _pg.password or ""
DATABASE_URL = f"postgres://{PG_USER}{':' + PG_PASSWORD if PG_PASSWORD else ''}@{PG_HOST}:{PG_PORT}/{BENCH_DB}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
DATA_DIR = os.environ.get("BENCH_DATA_DIR", "/tmp/marketplace-bench")
WRK_SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "10"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(max(2, min(4, os.cpu_count() or 2)))))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", str(WORKERS * 2)))
APPROVE_THREADS = 8
APPROVE_PROCESSES = WORKERS
APPROVE_SECONDS = 10
SWEEP_TARGET = int(os.environ.get("BENCH_SWEEP_N", "100000"))
BACKLOG = int(os.environ.get("BENCH_BACKLOG_N", "30000"))
# The clearance block falls due this far ahead: only the backlog block is due when the worker runs.
CLEARANCE_AHEAD_DAYS = 60
SWEEP_BUDGET_SECONDS = float(os.environ.get("BENCH_SWEEP_BUDGET", "240"))
# How long a process the bench started gets after SIGTERM before SIGKILL (a worker's warm shutdown
# waits for the task it is running; on a busy machine that once took more than 30 s).
STOP_WAIT_SECONDS = float(os.environ.get("BENCH_STOP_WAIT", "30"))
BIG_SELLER_ORDERS = 10_000
MID_SELLER_ORDERS = 1_000
APPROVE_ROWS, PGBENCH_ROWS = 3_000, 1_000

SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "marketplace.settings",
    "DEBUG": "false",
    "SECRET_KEY": "bench-" + "k7Qm2xZ9pL4vR8sT1wY6uN3bH5cJ0dF" * 3,
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    # Required with DEBUG off; the bench reads no e-mail and its seed sends no webhook (bench/seed.py).
    "SITE_URL": "http://bench.invalid",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "PAYMENT_PROVIDER": "sandbox",
    "LEDGER_MAC_KEY": "bench-ledger-" + "q8Wn3rT5yU7iO9pA" * 3,
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "DATA_DIR": DATA_DIR,
    "LOG_LEVEL": "WARNING",
    "BENCH_VIEWS": "1",
    # The baselines run set-based statements over 100,000 rows on purpose.
    "DB_STATEMENT_TIMEOUT_MS": "0",
}


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


@dataclass
class Row:
    figure: str
    value: str
    baseline: str
    ratio: str
    note: str = ""


@dataclass
class Stage:
    """One stage of the run: whether it finished, how long it took, and why not."""

    name: str
    finished: bool = False
    seconds: float = 0.0
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "finished": self.finished,
            "seconds": round(self.seconds, 1),
            "reason": self.reason or None,
            "notes": self.notes,
        }


@dataclass
class Report:
    machine: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    queries: list[tuple[str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Every figure under a stable name (bench/results/latest.json), for scripts and for the next run to compare.
    figures: dict[str, float | int | None] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return bool(self.stages) and all(stage.finished for stage in self.stages)

    def figure(self, name: str, value: float | int | None, digits: int = 3) -> None:
        self.figures[name] = None if value is None else round(float(value), digits)

    def ratio(self, name: str, value: float | None, baseline: float | None) -> None:
        self.figure(name, value / baseline if value and baseline else None, 4)

    def stage_note(self, text: str) -> None:
        """A note on the stage that is running (a process that had to be killed, say)."""
        if self.stages:
            self.stages[-1].notes.append(text)

    def json(self) -> str:
        return json.dumps(
            {
                "run_at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
                "machine": self.machine,
                # False when a stage did not finish: its figures are missing or partial (see "stages").
                "finished": self.finished,
                "stages": [stage.as_dict() for stage in self.stages],
                "figures": self.figures,
            },
            indent=2,
        )

    def markdown(self) -> str:
        out = ["## Benchmark", "", f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine:", ""]
        out += [f"- {line}" for line in self.machine]
        unfinished = [stage for stage in self.stages if not stage.finished]
        if unfinished:
            out += ["", "**Not every stage finished; the figures below are what was measured until then:**", ""]
            out += [f"- {stage.name}: {_one_line(stage.reason)}" for stage in unfinished]
        out += ["", "| figure | measured | baseline (same run) | ratio | note |", "| --- | ---: | ---: | ---: | --- |"]
        out += [f"| {r.figure} | {r.value} | {r.baseline} | {r.ratio} | {r.note} |" for r in self.rows]
        out += ["", "Queries per page (Django test client, CaptureQueriesContext):", ""]
        out += ["| page | small data | large data | grows with data? |", "| --- | ---: | ---: | --- |"]
        out += [f"| {p} | {s} | {b} | {g} |" for p, s, b, g in self.queries]
        if self.notes:
            out += ["", *[f"- {n}" for n in self.notes]]
        if self.stages:
            out += ["", "Stages:", "", "| stage | finished | seconds | note |", "| --- | --- | ---: | --- |"]
            for stage in self.stages:
                note = _one_line("; ".join([*([stage.reason] if stage.reason else []), *stage.notes]))
                out.append(f"| {stage.name} | {'yes' if stage.finished else 'NO'} | {stage.seconds:.0f} | {note} |")
        return "\n".join(out) + "\n"


def _one_line(text: str, limit: int = 300) -> str:
    """A reason fit for a table cell (a gunicorn's log tail has newlines and pipes); latest.json keeps it whole."""
    line = " ".join(text.split()).replace("|", "\\|")
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Run:
    """Runs the stages: a stage that fails (an exception, ``SystemExit``, Ctrl-C) is recorded as not
    finished with its reason and the run goes on to the stages that do not need it, so the results
    are always written with what was measured (issue 41: a stopped worker's ``TimeoutExpired`` ended
    a run of every figure with a traceback and no results)."""

    def __init__(self, report: Report):
        self.report = report
        self.interrupted = False

    def stage(self, name: str, fn: Callable[..., object], *args: object, needs: tuple[str, ...] = ()) -> object:
        stage = Stage(name)
        self.report.stages.append(stage)
        done = {s.name for s in self.report.stages if s.finished}
        missing = [n for n in needs if n not in done]
        if self.interrupted:
            stage.reason = "not run: the run was interrupted"
            return None
        if missing:
            stage.reason = f"not run: it needs {', '.join(missing)}"
            return None
        t0 = time.monotonic()
        try:
            value = fn(*args)
        except KeyboardInterrupt:
            self.interrupted = True
            stage.reason = "interrupted (Ctrl-C)"
            log(f"stage {name}: interrupted; writing what was measured")
            return None
        except BaseException as exc:  # noqa: BLE001 - recorded, the run goes on and reports it
            stage.reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
            log(f"stage {name} did not finish: {stage.reason}")
            traceback.print_exc()
            return None
        finally:
            stage.seconds = time.monotonic() - t0
        stage.finished = True
        return value

    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 0 if self.report.finished else 1


def write_results(report: Report, folder: Path) -> None:
    text = report.markdown()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latest.md").write_text(text)
    (folder / "latest.json").write_text(report.json() + "\n")
    print()
    print(text)


def ratio(value: float | None, baseline: float | None) -> str:
    if not value or not baseline:
        return "n/a"
    r = value / baseline
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×"


def fmt(value: float | None, unit: str = "/s") -> str:
    return "n/a" if value is None else f"{value:,.0f}{unit}"


# --- environment --------------------------------------------------------------------------------------------


def machine_info() -> list[str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    pg = subprocess.run(
        ["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-Atc", "SHOW server_version", "postgres"],
        capture_output=True,
        text=True,
        env={**os.environ, "PGPASSWORD": PG_PASSWORD},
    ).stdout.strip()
    return [
        f"nproc: {os.cpu_count()}",
        f"CPU: {cpu}",
        f"memory: {mem_kb / 1024 / 1024:.1f} GiB",
        f"PostgreSQL: {pg}",
        f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "(the machine is shared; every figure is compared with a baseline measured in the same run)",
        f"Python {platform.python_version()}, gunicorn {WORKERS} sync workers, wrk 1 thread × {CONNECTIONS} "
        f"connections × {WRK_SECONDS}s",
    ]


def ensure_tools() -> None:
    if shutil.which("wrk") is None:
        log("installing wrk (apt-get install -y wrk)")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    for tool in ("pgbench", "psql"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is missing (apt-get install -y postgresql-client)")


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD or None, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def setup_django() -> None:
    os.environ.update(SERVER_ENV)
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    import django

    django.setup()


# --- seeding ------------------------------------------------------------------------------------------------


@dataclass
class Data:
    buyer_main: object = None
    buyer_small: object = None
    seller_big: object = None
    seller_small: object = None
    showcase: object = None
    showcase_small: object = None
    # The order page's growth: the same buyer's orders with 5 and 200 milestones (and 200 messages each).
    showcase_5: object = None
    showcase_200: object = None
    # The seller dashboard's growth: a seller with 1,000 orders, between the small seller's 10 and the big one's 10,000.
    seller_mid: object = None
    approve_block: object = None
    approve_sellers: int = 0
    approve_buyers: int = 0
    approve_accounts: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)


def seed() -> Data:
    from django.db import connection

    from accounts.models import User
    from bench import seed as s

    d = Data()
    s.separate_id_ranges()
    named = s.create_users("bench_named_", 5)
    d.buyer_main, d.buyer_small, d.seller_big, d.seller_small, d.seller_mid = (
        User.objects.get(pk=named + i) for i in range(5)
    )
    pool_sellers = s.create_users("bench_seller_", 200)
    pool_buyers = s.create_users("bench_buyer_", 500)
    d.approve_sellers = s.create_users("bench_approve_seller_", APPROVE_ROWS + PGBENCH_ROWS)
    d.approve_buyers = s.create_users("bench_approve_buyer_", APPROVE_ROWS + PGBENCH_ROWS)
    d.approve_accounts = s.create_block_accounts(d.approve_sellers, d.approve_buyers, APPROVE_ROWS + PGBENCH_ROWS)
    s.create_all_user_accounts()
    log("users and accounts created")

    big, small, main_buyer, small_buyer = d.seller_big.pk, d.seller_small.pk, d.buyer_main.pk, d.buyer_small.pk
    mix = "CASE WHEN i % 4 = 0 THEN 'in_progress' ELSE 'approved' END"
    s.bulk_block(
        "Big seller",
        BIG_SELLER_ORDERS,
        seller=str(big),
        buyer=f"CASE WHEN i % 5 = 0 THEN {main_buyer} ELSE {pool_buyers} + i % 500 END",
        state=mix,
        clears_at="now() + interval '14 days' - i * interval '1 second'",
    )
    s.bulk_block(
        "Small seller",
        10,
        seller=str(small),
        buyer=str(small_buyer),
        state=mix,
        clears_at="now() + interval '14 days'",
    )
    s.bulk_block(
        "Mid seller",
        MID_SELLER_ORDERS,
        seller=str(d.seller_mid.pk),
        buyer=f"{pool_buyers} + i % 500",
        state=mix,
        clears_at="now() + interval '14 days' - i * interval '1 second'",
    )
    log("big, middle and small sellers' order history seeded")
    s.bulk_block(
        "Clearance",
        SWEEP_TARGET,
        seller=f"{pool_sellers} + i % 200",
        buyer=f"{pool_buyers} + i % 500",
        state="'approved'",
        clears_at=f"now() + interval '{CLEARANCE_AHEAD_DAYS} days' - i * interval '1 second'",
    )
    s.bulk_block(
        "Backlog",
        BACKLOG,
        seller=f"{pool_sellers} + i % 200",
        buyer=f"{pool_buyers} + i % 500",
        state="'approved'",
        clears_at="now() - interval '1 hour' - i * interval '1 second'",
    )
    log(f"{SWEEP_TARGET:,} earnings due in {CLEARANCE_AHEAD_DAYS} days and a backlog of {BACKLOG:,} due now seeded")
    d.approve_block = s.bulk_block(
        "Approve",
        APPROVE_ROWS + PGBENCH_ROWS,
        seller=f"{d.approve_sellers} + i",
        buyer=f"{d.approve_buyers} + i",
        state="'in_review'",
        clears_at="now()",
        # One amount for all: the pgbench script replays one approval's literal amounts on any row.
        amount="100.00",
    )
    s.recompute_cached_balances()
    log(f"in-review milestones for approve seeded; cached balances recomputed; {s.seal_bulk_rows():,} MACs written")
    d.showcase = s.showcase_order(
        buyer=d.buyer_main, seller=d.seller_big, milestones=50, approved=40, accepted=5, messages=200
    )
    d.showcase_small = s.showcase_order(
        buyer=d.buyer_small, seller=d.seller_small, milestones=3, approved=1, accepted=1, messages=5
    )
    d.showcase_5 = s.showcase_order(
        buyer=d.buyer_main, seller=d.seller_big, milestones=5, approved=3, accepted=1, messages=200
    )
    d.showcase_200 = s.showcase_order(
        buyer=d.buyer_main, seller=d.seller_big, milestones=200, approved=160, accepted=20, messages=200
    )
    log("showcase orders built through the services (5, 50 and 200 milestones + 200 messages; 3 + 5)")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
        for table in ("marketplace_user", "orders_order", "milestones_milestone", "payments_entry", "payments_earning"):
            cur.execute(f"SELECT count(*) FROM {table}")
            d.counts[table] = cur.fetchone()[0]
    return d


def audit(label: str) -> str:
    from payments.audit import ledger_audit

    report = ledger_audit()
    log(f"{label}: {report.summary().splitlines()[0]}")
    if not report.ok:
        print(report.summary(), file=sys.stderr)
        raise SystemExit(f"bench: ledger_audit failed {label}")
    return report.summary()


# --- queries per page -----------------------------------------------------------------------------------------

# Rendered in full (PAGE_CACHE_SECONDS=0), unless "reused": a second view of an unchanged page.
PAGES = [
    ("order page", "order_detail", "showcase"),
    ("order page, its parts reused", "order_detail", "showcase"),
    ("buyer dashboard", "buyer_dashboard", None),
    ("seller dashboard", "seller_dashboard", None),
    ("seller dashboard, its sections reused", "seller_dashboard", None),
    ("earnings", "earnings", None),
    ("earnings, its balances and history reused", "earnings", None),
]


def count_queries(d: Data, report: Report) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.urls import NoReverseMatch, reverse

    def measure(user, url: str, *, full: bool) -> str:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        client.get(url)  # warm caches (templates, content types; the order page's parts unless ``full``)
        with (
            CaptureQueriesContext(connection) as ctx,
            override_settings(PAGE_CACHE_SECONDS=0 if full else settings.PAGE_CACHE_SECONDS),
        ):
            response = client.get(url)
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return str(len(ctx))

    for label, name, arg in PAGES:
        try:
            if arg:
                small_url = reverse(name, args=[d.showcase_small.pk])
                big_url = reverse(name, args=[d.showcase.pk])
            else:
                small_url = big_url = reverse(name)
        except NoReverseMatch:
            report.queries.append((label, "no URL", "no URL", "page not built yet"))
            continue
        if name == "buyer_dashboard" or name == "order_detail":
            small_user, big_user = d.buyer_small, d.buyer_main
        else:
            small_user, big_user = d.seller_small, d.seller_big
        full = "reused" not in label
        small, big = measure(small_user, small_url, full=full), measure(big_user, big_url, full=full)
        grows = "no" if small == big else ("YES" if small.isdigit() and big.isdigit() else "?")
        report.queries.append((label, small, big, grows))
        log(f"queries on {label}: {small} (small) vs {big} (large)")


# --- HTTP: gunicorn + wrk ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, app: str, log_path: Path, env: dict[str, str] | None = None):
        self.port = free_port()
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                app,
                "--config",
                str(ROOT / "bench" / "gunicorn_bench.py"),
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env={**os.environ, **SERVER_ENV, **(env or {})},
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            # Its own process group: the stop below reaches the workers too, should the master be killed.
            start_new_session=True,
        )

    def wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("bench: gunicorn did not start")


def session_for(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    assert store.session_key is not None
    return store.session_key


def probe(port: int, path: str, session: str | None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": f"sessionid={session}"} if session else {}
    conn.request("GET", path, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


@dataclass
class Measured:
    rps: float
    p50_ms: float | None
    p99_ms: float | None


def _ms(text: str | None) -> float | None:
    """wrk's latency (``850.00us``, ``12.34ms``, ``1.02s``, ``2.00m``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text or "")
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2)
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(port: int, path: str, session: str | None) -> Measured | None:
    """Requests per second and the p50 and p99 latencies, or None if the page does not answer 200."""
    status = probe(port, path, session)
    if status != 200:
        log(f"{path} answers HTTP {status}; not measured")
        return None
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", "--latency", "--timeout", "10s"]
    if session:
        cmd += ["-H", f"Cookie: sessionid={session}"]
    url = f"http://127.0.0.1:{port}{path}"
    # wrk ends by itself after -d; the timeout only bounds a wrk that never does.
    subprocess.run([*cmd, "-d2s", url], capture_output=True, text=True, timeout=60)  # warm-up
    ran = subprocess.run([*cmd, f"-d{WRK_SECONDS}s", url], capture_output=True, text=True, timeout=WRK_SECONDS + 60)
    out = ran.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    measured = Measured(rps, _ms(p50.group(1) if p50 else None), _ms(p99.group(1) if p99 else None))
    log(
        f"{path}: {rps:,.1f} req/s, p50 {p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'}"
        + (f", {bad.group(1)} non-2xx" if bad else "")
    )
    if bad:
        return None
    if errors:
        log(f"  socket errors: {errors.group(1)}")
    return measured


def worker_peak_rss_mb(server: Server) -> float | None:
    """The largest peak resident memory (VmHWM) among the server's gunicorn workers, in MiB."""
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", text, re.MULTILINE)
        hwm = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
        if ppid and hwm and int(ppid.group(1)) == server.proc.pid:
            peaks.append(int(hwm.group(1)) / 1024)
    return max(peaks) if peaks else None


def http_bench(d: Data, report: Report) -> None:
    from django.urls import NoReverseMatch, reverse

    logs = Path(DATA_DIR)
    servers: list[Server] = []
    try:
        app = Server("bench.wsgi:application", logs / "gunicorn-app.log")
        servers.append(app)
        raw = Server("bench.rawwsgi:application", logs / "gunicorn-raw.log")
        servers.append(raw)
        # The same app rendering the order page in full on every view: what the first view after a
        # change costs (the order page's parts are reused until the order logs something new).
        full = Server("bench.wsgi:application", logs / "gunicorn-full.log", env={"PAGE_CACHE_SECONDS": "0"})
        servers.append(full)
        app.wait()
        raw.wait()
        full.wait()
        buyer_sid, seller_sid, small_sid = (session_for(u) for u in (d.buyer_main, d.seller_big, d.seller_small))
        raw_m = wrk(raw.port, "/", None)
        minimal_m = wrk(app.port, "/bench/minimal/", buyer_sid)
        raw_rps = raw_m.rps if raw_m else None
        minimal_rps = minimal_m.rps if minimal_m else None
        report.figure("raw_wsgi_rps", raw_rps)
        report.figure("minimal_view_rps", minimal_rps)

        def url(name, *args):
            try:
                return reverse(name, args=args)
            except NoReverseMatch:
                return None

        # (label, stable name, path, session)
        pages = [
            ("order page (50 milestones, 200 messages)", "order_page", url("order_detail", d.showcase.pk), buyer_sid),
            ("buyer dashboard (2,000 orders)", "buyer_dashboard", url("buyer_dashboard"), buyer_sid),
            ("seller dashboard (10,000 orders)", "seller_dashboard", url("seller_dashboard"), seller_sid),
            ("earnings (seller with 10,000 orders)", "earnings", url("earnings"), seller_sid),
        ]
        measured = {}
        for label, name, path, sid in pages:
            m = wrk(app.port, path, sid) if path else None
            rps = m.rps if m else None
            measured[name] = rps
            report.figure(f"{name}_rps", rps)
            report.figure(f"{name}_p50_ms", m.p50_ms if m else None)
            report.figure(f"{name}_p99_ms", m.p99_ms if m else None)
            report.ratio(f"{name}_ratio", rps, minimal_rps)
            latency = f"p50 {m.p50_ms:.0f} ms, p99 {m.p99_ms:.0f} ms" if m and m.p50_ms and m.p99_ms else ""
            report.rows.append(
                Row(
                    f"{label}, req/s",
                    fmt(rps),
                    f"minimal view {fmt(minimal_rps)}; raw WSGI {fmt(raw_rps)}",
                    f"{ratio(rps, minimal_rps)} of minimal; {ratio(rps, raw_rps)} of raw",
                    latency,
                )
            )
        # The seller with 10 orders right after the pages, so both sides of the flatness ratio are
        # measured side by side (a minute apart, two windows of the same work differed by a quarter).
        small_path = url("seller_dashboard")
        small_m = wrk(app.port, small_path, small_sid) if small_path else None
        small_rps = small_m.rps if small_m else None
        # The same pages rendered in full on every view: what the first view after a change costs.
        rendered_in_full = [
            ("order page (50 milestones)", "order_page_full", url("order_detail", d.showcase.pk), buyer_sid),
            ("buyer dashboard", "buyer_dashboard_full", url("buyer_dashboard"), buyer_sid),
            ("seller dashboard (10,000 orders)", "seller_dashboard_full", url("seller_dashboard"), seller_sid),
            ("seller dashboard (10 orders)", "seller_dashboard_small_full", url("seller_dashboard"), small_sid),
            ("earnings (seller with 10,000 orders)", "earnings_full", url("earnings"), seller_sid),
        ]
        for label, name, path, sid in rendered_in_full:
            m = wrk(full.port, path, sid) if path else None
            rps = m.rps if m else None
            measured[name] = rps
            report.figure(f"{name}_rps", rps)
            report.ratio(f"{name}_ratio", rps, minimal_rps)
            report.rows.append(
                Row(
                    f"{label} rendered in full on every view, req/s",
                    fmt(rps),
                    f"minimal view {fmt(minimal_rps)}",
                    f"{ratio(rps, minimal_rps)} of minimal",
                    "PAGE_CACHE_SECONDS=0: the first view after each change",
                )
            )
        full_rps = measured["order_page_full"]
        report.ratio(
            "seller_dashboard_full_flatness", measured["seller_dashboard_full"], measured["seller_dashboard_small_full"]
        )
        report.rows.append(
            Row(
                "seller dashboard rendered in full, 10,000 orders vs 10, req/s",
                fmt(measured["seller_dashboard_full"]),
                f"10 orders: {fmt(measured['seller_dashboard_small_full'])}",
                ratio(measured["seller_dashboard_full"], measured["seller_dashboard_small_full"]),
                "PAGE_CACHE_SECONDS=0",
            )
        )
        big_rps = measured["seller_dashboard"]
        report.figure("seller_dashboard_small_rps", small_rps)
        report.ratio("seller_dashboard_flatness", big_rps, small_rps)
        report.rows.append(
            Row(
                "seller dashboard, 10,000 orders vs 10, req/s",
                fmt(big_rps),
                f"10 orders: {fmt(small_rps)}",
                ratio(big_rps, small_rps),
                "1.00× means the data size does not matter",
            )
        )
        growth(
            report,
            "order page rendered in full",
            "order_page_full",
            "milestones",
            [
                (5, url("order_detail", d.showcase_5.pk), buyer_sid),
                (50, None, full_rps),
                (200, url("order_detail", d.showcase_200.pk), buyer_sid),
            ],
            full.port,
        )
        growth(
            report,
            "seller dashboard rendered in full",
            "seller_dashboard_full",
            "orders",
            [
                (10, None, measured["seller_dashboard_small_full"]),
                (MID_SELLER_ORDERS, url("seller_dashboard"), session_for(d.seller_mid)),
                (BIG_SELLER_ORDERS, None, measured["seller_dashboard_full"]),
            ],
            full.port,
        )
        report.ratio("minimal_view_ratio_of_raw", minimal_rps, raw_rps)
        report.rows.append(
            Row(
                "minimal Django view (same stack, 1 query), req/s",
                fmt(minimal_rps),
                f"raw WSGI {fmt(raw_rps)}",
                ratio(minimal_rps, raw_rps),
                "the cost of Django + session + auth",
            )
        )
        peak = worker_peak_rss_mb(app)
        report.figure("web_worker_peak_rss_mb", peak, 1)
        if peak is not None:
            report.notes.append(f"Peak memory of a web worker over the page runs (VmHWM): {peak:.0f} MiB.")
    finally:
        names = [f"gunicorn ({server.log_path.stem})" for server in servers]
        for stopped in stop_processes([server.proc for server in servers], wait=15, names=names):
            if stopped.cut:
                report.stage_note(stopped.describe())


def per_request_ms(rps: float | None) -> float | None:
    """What one request costs a worker: the workers are all busy under wrk, so each serves WORKERS / rps."""
    return WORKERS / rps * 1000 if rps else None


def slope(points: list[tuple[int, float | None]]) -> float | None:
    """Milliseconds a request gains per item, between the smallest and the largest size."""
    (n0, ms0), (n1, ms1) = points[0], points[-1]
    return (ms1 - ms0) / (n1 - n0) if ms0 is not None and ms1 is not None else None


def growth(report: Report, label: str, name: str, unit: str, sizes: list, port: int) -> None:
    """One page measured at three sizes (a path to measure, or a rate already measured):
    the rate at each, and the slope in milliseconds per item."""
    points = []
    rates = []
    for n, path, given in sizes:
        if path is not None:
            m = wrk(port, path, given)
            rps = m.rps if m else None
            report.figure(f"{name}_at_{n}_p50_ms", m.p50_ms if m else None)
            report.figure(f"{name}_at_{n}_p99_ms", m.p99_ms if m else None)
        else:
            rps = given
        report.figure(f"{name}_at_{n}_rps", rps)
        rates.append(f"{n:,}: {fmt(rps)}")
        points.append((n, per_request_ms(rps)))
    per_item = slope(points)
    report.figure(f"{name}_slope_ms_per_{unit[:-1]}", per_item, 5)
    costs = ", ".join(f"{n:,}: {ms:.1f} ms" for n, ms in points if ms is not None)
    report.rows.append(
        Row(
            f"{label} at {', '.join(f'{n:,}' for n, _, _ in sizes)} {unit}, req/s",
            "; ".join(rates),
            f"per request of a worker: {costs}",
            "n/a" if per_item is None else f"{per_item:+.4f} ms per {unit[:-1]}",
            "the slope from the smallest to the largest size",
        )
    )


# --- approve and release ------------------------------------------------------------------------------------------


def approve_bench(d: Data, report: Report) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from milestones.models import Milestone
    from milestones.services.lifecycle import milestone_approve
    from payments.models import Transaction

    block = d.approve_block
    buyers = User.objects.in_bulk([d.approve_buyers + i for i in range(APPROVE_ROWS)])

    # One approval, captured: the statements and their parameters.
    captured_row = 0
    recorded: list[tuple[str, object]] = []

    def recorder(execute, sql, params, many, context):
        recorded.append((sql, params))
        return execute(sql, params, many, context)

    mid = block.milestones + captured_row
    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(recorder):
        milestone_approve(milestone=Milestone(pk=mid), actor=buyers[d.approve_buyers + captured_row])
    log(f"one approve-and-release issues {len(ctx)} SQL statements")
    txn_id = Transaction.objects.get(idempotency_key=f"settle:{mid}").pk

    # 8 clients on distinct milestones: APPROVE_PROCESSES processes (like the web tier's gunicorn workers; one
    # Python process runs one thread at a time, which measured the GIL, not the service) of 4 threads each,
    # every thread on its own connection. The processes are forked with no connection open.
    from django.db import connections

    connections.close_all()
    ctx_mp = multiprocessing.get_context("fork")
    barrier = ctx_mp.Barrier(APPROVE_PROCESSES + 1)
    results = ctx_mp.Queue()
    stop_at = ctx_mp.Value("d", 0.0)
    procs = [
        ctx_mp.Process(
            target=_approve_process,
            args=(p, barrier, stop_at, results, block.milestones, d.approve_buyers, buyers),
        )
        for p in range(APPROVE_PROCESSES)
    ]
    try:
        for proc in procs:
            proc.start()
        stop_at.value = time.time() + APPROVE_SECONDS + 1
        barrier.wait(timeout=120)
        t0 = time.monotonic()
        outcomes = [results.get(timeout=APPROVE_SECONDS * 6) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        # Every process has handed in its count by now, unless the stage failed; none is left behind.
        left = [proc for proc in procs if proc.pid is not None and proc.exitcode is None]
        for stopped in stop_processes(left, wait=10):
            report.stage_note(f"approve {stopped.describe()}")
    approved = sum(n for n, _, _ in outcomes)
    failed = sum(k for _, k, _ in outcomes)
    failures = [f for _, _, fs in outcomes for f in fs]
    service_rate = approved / elapsed
    log(
        f"approve service: {approved} in {elapsed:.1f}s = {service_rate:.1f}/s "
        f"({APPROVE_PROCESSES} processes x {APPROVE_THREADS // APPROVE_PROCESSES} threads), {failed} failures"
    )
    if failures:
        log(f"  first failure: {failures[0]}")

    script = pgbench_script(recorded, d, block, captured_row, txn_id)
    script_path = Path(DATA_DIR) / "approve.pgbench.sql"
    script_path.write_text(script)
    pg_rate, pg_note = run_pgbench(script_path)
    report.figure("approve_rps", service_rate)
    report.figure("approve_pgbench_rps", pg_rate)
    report.ratio("approve_ratio", service_rate, pg_rate)
    report.rows.append(
        Row(
            f"approve-and-release, {APPROVE_THREADS} concurrent clients in {APPROVE_PROCESSES} processes, per second",
            fmt(service_rate),
            f"pgbench, same {len(ctx)} statements: {fmt(pg_rate)}",
            ratio(service_rate, pg_rate),
            f"{failed} failures; {pg_note}",
        )
    )


def _approve_process(p: int, barrier, stop_at, results, first_milestone: int, first_buyer: int, buyers) -> None:
    """One process of the approve bench: its share of the rows, on APPROVE_THREADS // APPROVE_PROCESSES threads."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # forked from main(), which turns SIGTERM into Ctrl-C
    from django.db import connection

    from milestones.models import Milestone
    from milestones.services.lifecycle import milestone_approve

    rows = iter(range(1 + p, APPROVE_ROWS, APPROVE_PROCESSES))
    lock = threading.Lock()
    threads_n = APPROVE_THREADS // APPROVE_PROCESSES
    done = [0] * threads_n
    failures: list[str] = []
    start = threading.Barrier(threads_n + 1)

    def worker(n: int) -> None:
        try:
            start.wait()
            while time.time() < stop_at.value:
                with lock:
                    i = next(rows, None)
                if i is None:
                    return
                try:
                    milestone_approve(milestone=Milestone(pk=first_milestone + i), actor=buyers[first_buyer + i])
                    done[n] += 1
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    barrier.wait()
    start.wait()
    for t in threads:
        t.join()
    results.put((sum(done), len(failures), failures[:3]))


def pgbench_script(recorded, d: Data, block, row: int, txn_id: int) -> str:
    """The captured statements with the row's ids turned into pgbench variables.

    Each pgbench transaction picks a random row among the ``PGBENCH_ROWS``
    in-review milestones that the service threads never touch, runs the same
    statements between BEGIN and ROLLBACK, so the row is valid again for the
    next pick (see bench/README.md for what the ROLLBACK changes).
    """
    import psycopg
    from django.db import connection
    from psycopg import sql as pgsql

    bases = {
        "v_oid": block.orders,
        "v_mid": block.milestones,
        "v_eid": block.escrows,
        "v_did": block.deliveries,
        "v_ftid": block.fund_txns,
        "v_sid": d.approve_sellers,
        "v_bid": d.approve_buyers,
        "v_pid": d.approve_accounts["seller_pending"],
        "v_aid": d.approve_accounts["seller_available"],
        "v_bbid": d.approve_accounts["buyer_balance"],
    }
    variables = {base + row: name for name, base in bases.items()}
    from payments.models import Account

    # The platform's own accounts (fees, gateway) are the same for every row: literals.
    constants = set(Account.objects.filter(user=None, milestone=None).values_list("pk", flat=True))
    variables[txn_id] = "v_txn_id"
    raw = connection.connection

    def render(value) -> str:
        if isinstance(value, list | tuple):
            # bulk_create's UNNEST arrays: ids inside them must become variables too.
            literal = pgsql.Literal(list(value)).as_string(raw)
            cast = literal[literal.rindex("'") + 1 :] if literal.startswith("'") else ""
            return "ARRAY[" + ", ".join(render(item) for item in value) + "]" + cast
        if isinstance(value, bool) or value is None:
            return pgsql.Literal(value).as_string(raw)
        if isinstance(value, int):
            if value in variables:
                return f":{variables[value]}"
            if value >= 10_000_000 and value not in constants:
                raise ValueError(f"unmapped id {value} in the approve SQL")
            return str(value)
        if isinstance(value, str):
            parts = re.split(r"(\d{8,})", value)
            if len(parts) > 1:
                pieces = []
                for n, part in enumerate(parts):
                    if n % 2 and int(part) in variables:
                        pieces.append(f"(:{variables[int(part)]})::text")
                    elif part:
                        pieces.append(pgsql.Literal(part).as_string(raw))
                return "(" + " || ".join(pieces) + ")"
        try:
            return pgsql.Literal(value).as_string(raw)
        except psycopg.ProgrammingError:
            return pgsql.Literal(str(value)).as_string(raw)

    lines = [f"\\set i random({APPROVE_ROWS}, {APPROVE_ROWS + PGBENCH_ROWS - 1})"]
    lines += [f"\\set {name} {base} + :i" for name, base in bases.items()]
    lines.append("BEGIN;")
    # The zero-sum trigger is deferred to COMMIT, which a rolled-back run never reaches: make it fire
    # at the end of each statement instead, so pgbench pays for it (and proves every row balanced).
    lines.append("SET CONSTRAINTS ALL IMMEDIATE;")
    for sql, params in recorded:
        params = list(params or [])
        out = []
        for token in re.split(r"(%s|%%)", sql):
            if token == "%s":
                out.append(render(params.pop(0)))
            elif token == "%%":
                out.append("%")
            else:
                out.append(token)
        statement = "".join(out).replace("\n", " ")
        if re.match(r'INSERT INTO "?payments_transaction"? ', statement):
            lines.append(statement + " \\gset v_txn_")
        else:
            lines.append(statement + ";")
    lines.append("ROLLBACK;")
    return "\n".join(lines) + "\n"


def run_pgbench(script: Path) -> tuple[float | None, str]:
    base = ["pgbench", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-n", "-f", str(script)]
    env = {**os.environ, "PGPASSWORD": PG_PASSWORD}
    check = subprocess.run(
        [*base, "-c", "1", "-t", "3", BENCH_DB], capture_output=True, text=True, env=env, timeout=120
    )
    failed = re.search(r"number of failed transactions: (\d+)", check.stdout)
    if check.returncode != 0 or (failed and int(failed.group(1)) > 0):
        log(f"pgbench script check failed:\n{check.stdout[-1500:]}\n{check.stderr[-1500:]}")
        return None, "pgbench script failed, see log"
    out = subprocess.run(
        [*base, "-c", "8", "-j", "2", "-T", "10", BENCH_DB], capture_output=True, text=True, env=env, timeout=120
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    if not match:
        log(f"pgbench output not understood:\n{out.stdout[-1500:]}\n{out.stderr[-1500:]}")
        return None, "pgbench output not understood"
    tps = float(match.group(1))
    log(f"pgbench: {tps:,.1f} tps")
    return tps, "pgbench ends each transaction with ROLLBACK (rows reusable; no commit WAL flush)"


# --- clearance sweep ---

SET_BASED_CLEAR = """
WITH due AS (
    SELECT e.id, e.seller_id, e.net, e.net_currency, e.milestone_id
    FROM payments_earning e
    WHERE e.status = 'pending' AND e.clears_at <= %(cut)s
    FOR UPDATE
), cleared AS (
    UPDATE payments_earning e SET status = 'cleared', cleared_at = %(now)s
    FROM due WHERE e.id = due.id
    RETURNING e.id
), txn AS (
    INSERT INTO payments_transaction (idempotency_key, kind, memo, created_at, actor_id, milestone_id, mac)
    SELECT 'clear:' || id, 'clear', 'Cleared, available to withdraw', %(now)s, NULL, milestone_id,
           encode(sha256(('clear:' || id || milestone_id || net)::bytea), 'hex') FROM due
    RETURNING id, milestone_id
), lines AS (
    INSERT INTO payments_entry (amount_currency, amount, account_id, transaction_id)
    SELECT due.net_currency, x.amount, x.account_id, txn.id
    FROM due
    JOIN txn USING (milestone_id)
    JOIN payments_account pa
      ON pa.user_id = due.seller_id AND pa.kind = 'seller_pending' AND pa.currency = due.net_currency
    JOIN payments_account aa
      ON aa.user_id = due.seller_id AND aa.kind = 'seller_available' AND aa.currency = due.net_currency
    CROSS JOIN LATERAL (VALUES (pa.id, -due.net), (aa.id, due.net)) AS x(account_id, amount)
    RETURNING account_id, amount
), balances AS (
    UPDATE payments_account a SET balance = a.balance + s.delta
    FROM (SELECT account_id, SUM(amount) AS delta FROM lines GROUP BY account_id) s
    WHERE a.id = s.account_id
    RETURNING a.id
), notices AS (
    INSERT INTO marketplace_notification (event, message, url, created_at, read_at, emailed_at, recipient_id)
    SELECT 'money_cleared', due.net || ' ' || due.net_currency || ' has cleared and is available to withdraw.',
           '/earnings/', %(now)s, NULL, NULL, due.seller_id
    FROM due
    RETURNING id
)
SELECT (SELECT count(*) FROM cleared), (SELECT count(*) FROM lines), (SELECT count(*) FROM notices)
"""


def sweep_bench(report: Report) -> float:
    from django.db import connection, transaction
    from django.utils import timezone

    from payments.models import Earning, EarningStatus
    from payments.sweeps import sweep_clearance

    # The clearance block, due ahead of time: the sweep is given its "now".
    horizon = timezone.now() + timedelta(days=CLEARANCE_AHEAD_DAYS + 1)
    due = Earning.objects.filter(status=EarningStatus.PENDING, clears_at__lte=horizon)
    total_due = due.count()
    times = list(due.order_by("clears_at", "pk").values_list("clears_at", flat=True))

    # A pilot of 500 tells how many the per-row service sweep clears within the budget.
    pilot_n = min(500, total_due)
    t0 = time.monotonic()
    pilot = sweep_clearance(now=times[pilot_n - 1])
    pilot_rate = pilot.done / (time.monotonic() - t0)
    n = min(total_due - pilot_n, max(1000, int(pilot_rate * SWEEP_BUDGET_SECONDS) // 1000 * 1000))
    log(f"sweep pilot: {pilot.done} cleared at {pilot_rate:.0f}/s; measuring on {n:,} of {total_due:,} due")
    cut = times[pilot_n + n - 1]
    now = timezone.now()

    # The set-based baseline, on the same rows, rolled back.
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        t0 = time.monotonic()
        cur.execute(SET_BASED_CLEAR, {"cut": cut, "now": now})
        cleared, lines, _notices = cur.fetchone()
        sql_seconds = time.monotonic() - t0
        transaction.set_rollback(True)
    sql_rate = cleared / sql_seconds
    log(f"set-based clear: {cleared:,} earnings, {lines:,} entries in {sql_seconds:.2f}s = {sql_rate:,.0f}/s")

    # The service, three times: with 1,000, then 10,000, then the rest (about 100,000) due; the rate of each
    # tells how the cost of one earning grows with the backlog. A slower machine stops at the budget.
    t0 = time.monotonic()
    done = failed = 0
    growth_points = []
    start = pilot_n
    for size in (1000, 10000, n - 11000):
        if size <= 0 or time.monotonic() - t0 > SWEEP_BUDGET_SECONDS * 1.5:
            break
        s0 = time.monotonic()
        result = sweep_clearance(now=times[start + size - 1])
        spent = time.monotonic() - s0
        done, failed, start = done + result.done, failed + result.failed, start + size
        growth_points.append((size, spent / max(result.done, 1) * 1000))
        report.figure(
            f"sweep_at_{size // 1000}k_rps" if size in (1000, 10000) else "sweep_at_rest_rps", result.done / spent
        )
        log(f"  {size:,} due: {result.done:,} cleared in {spent:.1f}s ({result.done / spent:,.0f}/s)")
    seconds = time.monotonic() - t0
    rate = done / seconds
    log(f"sweep_clearance: {done:,} cleared, {failed} failed in {seconds:.0f}s; {rate:,.0f}/s")
    per_item = slope(growth_points) if len(growth_points) > 1 else None
    report.figure("sweep_last_size", growth_points[-1][0] if growth_points else None)
    report.figure("sweep_slope_ms_per_earning", per_item, 7)
    scope = f"{done:,} of {total_due:,} due earnings, after a {pilot_n}-row pilot" + (
        "" if done == total_due - pilot_n else " (the rest would not fit the 15-minute budget at this rate)"
    )
    full_note = ""
    if time.monotonic() - STARTED < 600:
        # The whole remaining backlog in one statement, rolled back: how long a catch-up would take set-based.
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            t0 = time.monotonic()
            cur.execute(SET_BASED_CLEAR, {"cut": horizon, "now": timezone.now()})
            backlog = cur.fetchone()[0]
            full_seconds = time.monotonic() - t0
            transaction.set_rollback(True)
        log(f"set-based clear of the whole backlog: {backlog:,} in {full_seconds:.1f}s")
        if backlog:
            rate_all = backlog / full_seconds
            full_note = f"; set-based, the remaining {backlog:,} clear in {full_seconds:.0f}s ({rate_all:,.0f}/s)"
    report.figure("sweep_rps", rate)
    report.figure("sweep_set_based_rps", sql_rate)
    report.ratio("sweep_ratio", rate, sql_rate)
    report.rows.append(
        Row(
            "clearance sweep (payments.sweeps.sweep_clearance), earnings cleared per second",
            fmt(rate),
            f"one set-based statement (rolled back): {fmt(sql_rate)}",
            ratio(rate, sql_rate),
            f"{scope}; {failed} failed{full_note}",
        )
    )
    if growth_points:
        report.rows.append(
            Row(
                "clearance sweep with "
                + ", ".join(f"{size:,}" for size, _ in growth_points)
                + " due earnings, ms per earning",
                "; ".join(f"{size:,}: {ms:.3f} ms" for size, ms in growth_points),
                "the same sweep at the smallest size",
                "n/a" if per_item is None else f"{per_item:+.7f} ms per earning due",
                "the slope from the smallest to the largest backlog",
            )
        )
    return rate


# --- a backlog with a worker and beat -----------------------------------------------------------------------------


@dataclass
class Backlog:
    due: int
    total: float  # seconds from the worker's start until all were cleared
    drain: float  # seconds from the first cleared to the last
    ticks: int  # clearance ticks beat sent meanwhile
    stopped: list[Stopped]


def backlog_bench(
    report: Report,
    *,
    expected: int = BACKLOG,
    env: dict[str, str] | None = None,
    worker: list[str] | None = None,
    logs: Path | None = None,
    stop_wait: float = STOP_WAIT_SECONDS,
    limit: float = 600,
) -> Backlog:
    """A real Celery worker (two processes) and beat against the bench database
    and Redis, with a backlog of ``expected`` due earnings: seconds from the
    worker's start until all are cleared, seconds from the first cleared to
    the last, and how many ticks beat sent meanwhile. E-mail goes to the dummy
    backend, but every notice still becomes a Notification and an e-mail task.

    Both are stopped however the stage ends, in three steps (SIGTERM, at most
    ``stop_wait`` seconds, SIGKILL to the process group): a worker's warm
    shutdown waits for the task it is running, which a busy machine once
    stretched past the 30 s the stage waited, ending the run with a traceback.
    A cut wait is reported in the stage's notes and in the figures
    (``backlog_stop_cut``). ``env``, ``worker`` and ``logs`` let a test run
    the stage on its own database, broker and worker."""
    from django.utils import timezone

    from payments.models import Earning, EarningStatus

    due = Earning.objects.filter(status=EarningStatus.PENDING, clears_at__lte=timezone.now())
    assert due.count() == expected, f"{due.count()} due, expected {expected}"
    env = {
        **os.environ,
        **SERVER_ENV,
        "SWEEP_INTERVAL_SECONDS": "5",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        # The seeded history's orders would all fall due for auto-completion (their milestones closed
        # days ago) and share the worker; the figure is the clearance backlog's.
        "ORDER_AUTO_COMPLETE": "3650d",
        "LOG_LEVEL": "INFO",
        **(env or {}),
    }
    logs = logs or Path(DATA_DIR) / "backlog"
    logs.mkdir(parents=True, exist_ok=True)
    celery = str(VENV_BIN / "celery")
    worker = worker or [celery, "-A", "marketplace", "worker", "--concurrency=2", "--loglevel=INFO"]
    commands = {
        "worker": [*worker, "-n", "bench@%h"],
        "beat": [celery, "-A", "marketplace", "beat", "--loglevel=INFO", f"--schedule={logs}/celerybeat-schedule"],
    }
    started = time.monotonic()
    procs: list[subprocess.Popen] = []
    first = None
    done = None
    try:
        for name, command in commands.items():
            with (logs / f"{name}.log").open("w") as out:
                # Each in its own process group, so the last step of the stop reaches the pool's children.
                procs.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        while True:
            left = due.count()
            now = time.monotonic()
            if first is None and left < expected:
                first = now
            if left == 0:
                # Cleared: the time is taken here, not after the worker's warm shutdown below (about 2 s,
                # which the figure counted until 2026-12-04).
                done = now
                break
            for name, proc in zip(commands, procs, strict=True):
                if proc.poll() is not None:
                    raise RuntimeError(f"the {name} exited with {proc.returncode} ({left:,} left)")
            if now - started > limit:
                raise TimeoutError(f"the backlog is not cleared after {limit:.0f}s ({left:,} left)")
            time.sleep(0.25)
    finally:
        # SIGTERM to the worker's main process only: it runs the warm shutdown and stops its pool;
        # a pool child that got SIGTERM itself would die in the middle of its task.
        stopped = stop_processes(procs, wait=stop_wait, names=list(commands)[: len(procs)], term_group=False)
        for result in stopped:
            log(f"backlog: {result.describe()}")
            if result.cut:
                report.stage_note(result.describe())
        worker_stop = next((r for r in stopped if r.name == "worker"), None)
        if worker_stop is not None:
            report.figure("backlog_worker_stop_seconds", worker_stop.seconds, 1)
        report.figure("backlog_stop_cut", sum(r.cut for r in stopped))
    ticks = (logs / "beat.log").read_text().count("Scheduler: Sending due task sweep-clearance")
    assert first is not None and done is not None
    return Backlog(expected, done - started, done - first, ticks, stopped)


def backlog_row(report: Report, backlog: Backlog, sweep_rate: float | None) -> None:
    # All cleared between two polls (a small backlog): too quick for the poll's 0.25 s to time.
    backlog_rate = backlog.due / backlog.drain if backlog.drain > 0 else None
    report.figure("backlog_rps", backlog_rate)
    report.ratio("backlog_ratio", backlog_rate, sweep_rate)
    cut = [s for s in backlog.stopped if s.cut]
    stop_note = (
        "; stopping: " + ", ".join(s.describe() for s in cut)
        if cut
        else "; stopped "
        + ", ".join(f"{s.name} in {s.seconds:.1f}s" for s in backlog.stopped)
        + f" after SIGTERM (of {STOP_WAIT_SECONDS:.0f}s allowed)"
    )
    report.rows.append(
        Row(
            f"backlog of {backlog.due:,} due earnings cleared by a worker (2 processes) and beat, per second",
            fmt(backlog_rate),
            f"the clearance sweep alone (above): {fmt(sweep_rate)}",
            ratio(backlog_rate, sweep_rate),
            f"all cleared {backlog.total:.0f}s after the worker started, {backlog.drain:.0f}s from the first "
            f"(beat every 5 s: {backlog.ticks} clearance ticks); every notice e-mailed in batches on its own queue"
            + stop_note,
        )
    )


# --- main ---


def setup(report: Report) -> None:
    ensure_tools()
    report.machine = machine_info()
    log(f"recreating database {BENCH_DB} and flushing {REDIS_URL}")
    recreate_database()
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    log("migrated, static files collected")


def seed_and_audit(report: Report) -> Data:
    t0 = time.monotonic()
    d = seed()
    seeded = time.monotonic() - t0
    audit("after seeding")
    counts = ", ".join(f"{table.split('_', 1)[1]} {n:,}" for table, n in d.counts.items())
    report.notes.append(f"Seeded in {seeded:.0f}s: {counts}; ledger_audit passed after seeding.")
    return d


def backlog_stage(report: Report) -> Backlog:
    log(f"backlog: {BACKLOG:,} due earnings, a worker and beat")
    backlog = backlog_bench(report)
    log(f"backlog cleared {backlog.total:.1f}s after the worker started ({backlog.drain:.1f}s from the first)")
    return backlog


def final_audit(report: Report) -> None:
    audit("at the end")
    report.notes.append("ledger_audit passed at the end.")


def main() -> int:
    """Every stage runs under ``Run``: one that fails is marked not finished (with why) in
    ``latest.json`` and the table, the others still run if they can, the results are written in
    any case, and only then does the exit code say that a stage failed."""
    report = Report()
    run = Run(report)

    def terminated(signum, frame):
        raise KeyboardInterrupt

    # `kill` of the run is treated as Ctrl-C: the stage's processes are stopped and the results written.
    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        run.stage("setup", setup, report)
        d = run.stage("seed", seed_and_audit, report, needs=("setup",))
        run.stage("queries", count_queries, d, report, needs=("seed",))
        run.stage("http", http_bench, d, report, needs=("seed",))
        run.stage("approve", approve_bench, d, report, needs=("seed",))
        # Before the sweep: the sweep's clock, 61 days ahead, would take the backlog's rows too.
        backlog = run.stage("backlog", backlog_stage, report, needs=("seed",))
        sweep_rate = run.stage("sweep", sweep_bench, report, needs=("seed",))
        if isinstance(backlog, Backlog):
            backlog_row(report, backlog, sweep_rate if isinstance(sweep_rate, float) else None)
        run.stage("audit", final_audit, report, needs=("seed",))
    finally:
        report.notes.append(
            f"Whole run: {time.monotonic() - STARTED:.0f}s; load average at the end: "
            + " ".join(f"{x:.1f}" for x in os.getloadavg())
            + "."
        )
        write_results(report, RESULTS)
        signal.signal(signal.SIGTERM, previous)
    code = run.exit_code()
    if code:
        unfinished = ", ".join(f"{s.name} ({s.reason})" for s in report.stages if not s.finished)
        print(f"bench: not every stage finished: {unfinished}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
