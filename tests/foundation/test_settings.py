"""What an operator meets when configuring the marketplace from the environment."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from marketplace.env import env_bool, env_duration, env_durations, parse_duration
from tests.warm import WarmPython

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("14d", timedelta(days=14)),
        ("2w", timedelta(weeks=2)),
        ("1.5h", timedelta(minutes=90)),
        (" 3D ", timedelta(days=3)),
        ("0", timedelta(0)),
    ],
)
def test_an_operator_writes_periods_as_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "14", "d", "fourteen days", "14 days", "-1d", "14y"])
def test_a_mistyped_period_is_refused_with_an_example(text):
    with pytest.raises(ValueError, match="30s, 15m, 24h, 14d"):
        parse_duration(text)


def test_a_bad_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("CLEARANCE_PAYPAL", "three days")
    with pytest.raises(ImproperlyConfigured, match="CLEARANCE_PAYPAL"):
        env_duration("CLEARANCE_PAYPAL", "3d")
    monkeypatch.setenv("REVIEW_REMINDERS", "3d,1d")
    assert env_durations("REVIEW_REMINDERS", "1d") == [timedelta(days=3), timedelta(days=1)]
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG", False)


_server: list[WarmPython] = []


@pytest.fixture(scope="module", autouse=True)
def _warm_python() -> Iterator[None]:
    yield
    while _server:
        _server.pop().close()


# What a test here sets itself, never inherited from the test run (settings_test.py sets SITE_URL).
_OWN_SETTINGS = {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "SITE_URL", "ADDR", "PORT"}


def _django(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``python manage.py ARGS`` in a new process with the production settings module and ``env``.

    The process is forked from a server that has imported the libraries (tests/warm.py): it
    loads the settings and the apps from nothing, as a process just started would, a second
    sooner.
    """
    base = {k: v for k, v in os.environ.items() if k not in _OWN_SETTINGS}
    if not _server:
        _server.append(WarmPython())
    return _server[0].run(
        ["manage.py", *args], env={**base, "DJANGO_SETTINGS_MODULE": "marketplace.settings", **env}, cwd=ROOT
    )


@pytest.mark.parametrize("secret", ["", "short", "django-insecure-embedded-development-key-never-use-in-production"])
def test_with_debug_off_the_app_refuses_to_start_without_a_real_secret_key(secret, tmp_path):
    result = _django({"DEBUG": "false", "SECRET_KEY": secret, "DATA_DIR": str(tmp_path)}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_embedded_default_runs_with_nothing_set(tmp_path):
    env = {"DEBUG": "true", "DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""}
    result = _django(env, "check")
    assert result.returncode == 0, result.stderr
    probe = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['OPTIONS']['transaction_mode'], "
        "s.CELERY_BROKER_URL)"
    )
    result = _django(env, "shell", "-c", probe)
    assert result.stdout.split()[-3:] == ["django.db.backends.sqlite3", "IMMEDIATE", "filesystem://"]


def test_every_process_runs_the_garbage_collector_less_often_unless_told_not_to(tmp_path):
    """A process of the app (here ``manage.py shell``) starts with the collector's young
    threshold raised and what it loaded frozen out of the scans; ``GC_GEN0_THRESHOLD=0``
    keeps Python's defaults."""
    env = {"DEBUG": "true", "DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""}
    probe = "import gc; print(gc.get_threshold()[0], gc.get_freeze_count() > 0)"
    tuned = _django(env, "shell", "-c", probe)
    assert tuned.stdout.split()[-2:] == ["10000", "True"], tuned.stderr
    tuned = _django({**env, "GC_GEN0_THRESHOLD": "50000"}, "shell", "-c", probe)
    assert tuned.stdout.split()[-2:] == ["50000", "True"], tuned.stderr
    untouched = _django({**env, "GC_GEN0_THRESHOLD": "0"}, "shell", "-c", probe)
    assert untouched.stdout.split()[-2:] == ["700", "False"], untouched.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, int]:
    """What ``make run`` does first, on SQLite, once for the tests below (each works on a copy):
    every migration applies (the ones written for PostgreSQL have their SQLite path) and the demo
    data seeds, for ``make run ADDR=127.0.0.1:<port>`` (its webhooks and links go to that port)."""
    data, port = tmp_path_factory.mktemp("embedded"), _free_port()
    env = {"DEBUG": "true", "DATA_DIR": str(data), "DATABASE_URL": "", "REDIS_URL": "", "ADDR": f"127.0.0.1:{port}"}
    for command in (["migrate", "-v0"], ["seed_demo"]):
        result = _django(env, *command)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return data, port


def test_make_run_migrates_and_seeds_the_embedded_default(seeded, tmp_path):
    """The demo's pages answer on SQLite, and the ledger audits clean."""
    shutil.copytree(seeded[0], tmp_path, dirs_exist_ok=True)
    env = {"DEBUG": "true", "DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""}
    # Every demo user's main pages answer on SQLite (the pages that read with raw SQL included).
    pages = (
        "from django.test import Client; from accounts.models import User; from orders.models import Order\n"
        "for user in User.objects.filter(is_active=True):\n"
        "    client = Client(); client.force_login(user, backend='django.contrib.auth.backends.ModelBackend')\n"
        "    urls = ['/dashboard/', '/dashboard/buying/', '/dashboard/selling/', '/earnings/', '/notifications/']\n"
        "    orders = Order.objects.filter(buyer=user) | Order.objects.filter(seller=user)\n"
        "    urls += [order.get_absolute_url() for order in orders]\n"
        "    for url in urls:\n"
        "        print(client.get(url, HTTP_HOST='localhost').status_code, url)\n"
    )
    # A walk with a 22.00 milestone paid by card and a 6.00 tip by card, then the audit command:
    # SQLite's floating-point sums once made it report "transaction 17 sums to -8.88E-16" and exit 1.
    walk = (
        "from djmoney.money import Money\n"
        "from milestones.services.lifecycle import milestone_accept, milestone_approve, milestone_submit\n"
        "from milestones.services.tips import tip_leave\n"
        "from tests.factories import OrderFactory, create_milestone\n"
        "from tests.services.test_changes import pay_on_sandbox\n"
        "from tests.services.test_tips import open_tip_page\n"
        "order = OrderFactory()\n"
        "m = create_milestone(order, amount='22.00')\n"
        "milestone_accept(milestone=m, actor=order.seller)\n"
        "milestone_submit(milestone=m, actor=order.seller, message='Done.')\n"
        "milestone_approve(milestone=m, actor=order.buyer)\n"
        "tip = tip_leave(milestone=m, actor=order.buyer, amount=Money('6.00', 'USD'), method='card')\n"
        "print('tip', pay_on_sandbox(open_tip_page(tip)).status)\n"
    )
    # Both in one process; the audit command after them covers the demo data and the walk.
    result = _django(env, "shell", "-c", pages + walk)
    answers = [line for line in result.stdout.splitlines() if line[:3].isdigit()]
    assert answers and all(line.startswith("200 ") for line in answers), result.stdout[-3000:] + result.stderr[-3000:]
    assert "tip paid" in result.stdout, result.stdout[-2000:] + result.stderr[-4000:]
    audit = _django(env, "ledger_audit")
    assert audit.returncode == 0 and "no breach" in audit.stdout, audit.stdout[-2000:] + audit.stderr[-2000:]


def test_a_link_signed_with_the_old_secret_key_still_opens_while_it_rotates(tmp_path):
    """SECRET_KEY_FALLBACKS from the environment: a value signed under the old key
    is accepted after the switch, and refused once the old key is dropped."""
    old, new = "old-" + "o" * 60, "new-" + "n" * 60
    sign = "from django.core import signing; print(signing.dumps('reset-me'))"
    check = "import sys; from django.core import signing; print(signing.loads(sys.argv[-1]))"
    env = {"DEBUG": "true", "DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""}
    signed = _django({**env, "SECRET_KEY": old}, "shell", "-c", sign)
    token = signed.stdout.strip().splitlines()[-1]
    assert signed.returncode == 0 and token, signed.stderr
    rotating = _django(
        {**env, "SECRET_KEY": new, "SECRET_KEY_FALLBACKS": old},
        "shell",
        "-c",
        check.replace("sys.argv[-1]", repr(token)),
    )
    assert rotating.returncode == 0 and rotating.stdout.strip().endswith("reset-me"), rotating.stderr
    done = _django({**env, "SECRET_KEY": new}, "shell", "-c", check.replace("sys.argv[-1]", repr(token)))
    assert done.returncode != 0 and "BadSignature" in done.stderr


def _production(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A production process's environment: DEBUG off, a real key, nothing of the tests' own."""
    required = {
        "LEDGER_MAC_KEY",
        "PAYMENT_PROVIDER",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "ALLOWED_HOSTS",
        "SITE_URL",
    }
    return {
        **{name: "" for name in required},
        "DEBUG": "false",
        "SECRET_KEY": "prod-" + "p" * 60,
        "DATA_DIR": str(tmp_path),
        **env,
    }


def test_production_refuses_to_start_without_its_secrets_and_names_each(tmp_path):
    result = _django(_production({}, tmp_path), "check")
    assert result.returncode != 0
    assert "With DEBUG off these must be set" in result.stderr
    for name in ("LEDGER_MAC_KEY", "PAYMENT_PROVIDER (stripe; or sandbox, named", "ALLOWED_HOSTS", "SITE_URL"):
        assert name in result.stderr
    assert "STRIPE_SECRET_KEY" not in result.stderr, "only the sandbox's absence is in question"


def test_production_never_falls_back_to_the_sandbox_and_stripe_needs_its_keys(tmp_path):
    base = {"LEDGER_MAC_KEY": "l" * 64, "ALLOWED_HOSTS": "market.example", "SITE_URL": "https://market.example"}
    stripe = _django(_production({**base, "PAYMENT_PROVIDER": "stripe"}, tmp_path), "check")
    assert stripe.returncode != 0
    assert "STRIPE_SECRET_KEY (PAYMENT_PROVIDER is stripe)" in stripe.stderr
    assert "STRIPE_WEBHOOK_SECRET" in stripe.stderr
    typo = _django(_production({**base, "PAYMENT_PROVIDER": "strip"}, tmp_path), "check")
    assert typo.returncode != 0 and "PAYMENT_PROVIDER='strip': use one of sandbox, stripe" in typo.stderr
    named = _django(_production({**base, "PAYMENT_PROVIDER": "sandbox"}, tmp_path), "check")
    assert named.returncode == 0, named.stderr


def test_production_refuses_to_start_without_the_site_url(tmp_path):
    """A worker has no request to take the site's address from: without SITE_URL every link in an
    e-mail would point nowhere (or at a developer's :8000), so the app does not start."""
    base = {"LEDGER_MAC_KEY": "l" * 64, "ALLOWED_HOSTS": "market.example", "PAYMENT_PROVIDER": "sandbox"}
    result = _django(_production(base, tmp_path), "check")
    assert result.returncode != 0
    assert "With DEBUG off these must be set: SITE_URL (the site's public address" in result.stderr, result.stderr
    started = _django(_production({**base, "SITE_URL": "https://market.example/"}, tmp_path), "shell", "-c", _SITE)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split()[-1] == "https://market.example"


_SITE = "from django.conf import settings as s; print(s.SITE_URL)"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"ADDR": "127.0.0.1:9000"}, "http://127.0.0.1:9000"),
        ({"PORT": "9001"}, "http://127.0.0.1:9001"),
        ({"ADDR": "0.0.0.0:9002", "PORT": "9001"}, "http://0.0.0.0:9002"),
        ({"ADDR": "127.0.0.1:9000", "SITE_URL": "https://demo.example"}, "https://demo.example"),
    ],
)
def test_in_debug_the_site_url_is_the_address_make_run_serves(env, expected, tmp_path):
    """``make run ADDR=...`` (or ``PORT=...``) exports it; the links in e-mails and the demo's
    webhooks then go where the site answers, not to :8000."""
    result = _django({"DEBUG": "true", "DATA_DIR": str(tmp_path), "DATABASE_URL": "", **env}, "shell", "-c", _SITE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == expected


def test_make_run_serves_at_the_address_it_is_given(seeded, tmp_path):
    """``make run ADDR=127.0.0.1:<port>`` on SQLite: the site answers at that port (run_embedded binds
    the web there), the worker delivers every webhook of the demo to it (none to :8000, none left
    "retrying"), and SIGTERM to its process group, as Ctrl-C sends SIGINT, stops make, web, worker, beat."""
    data, port = seeded
    shutil.copytree(data, tmp_path, dirs_exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _OWN_SETTINGS and not k.startswith("MAKE")}
    env.update(DATA_DIR=str(tmp_path), DATABASE_URL="", REDIS_URL="", DJANGO_SETTINGS_MODULE="marketplace.settings")
    venv = Path(sys.executable).parent.parent
    # -o: the virtualenv is the one running this test; make must not reinstall into it.
    command = ["make", "-s", "-o", f"{venv}/.installed", "run", f"ADDR=127.0.0.1:{port}", f"VENV={venv}"]
    log = tmp_path / "make-run.log"
    undelivered = "from sandbox.models import SandboxEvent as E; print(E.objects.filter(delivered_at=None).count())"
    probe = {"DEBUG": "true", "DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""}
    with log.open("w") as out:
        make = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        status = None
        while status is None and make.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            status = _answers(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200, log.read_text()[-4000:]
        assert f"running at http://127.0.0.1:{port}/" in log.read_text()
        assert f"API docs at http://127.0.0.1:{port}/api/docs/" in log.read_text()
        left = None
        while left != "0" and time.monotonic() < deadline:
            left = _django(probe, "shell", "-c", undelivered).stdout.strip().splitlines()[-1:] or None
            left = left[0] if left else None
            if left != "0":
                time.sleep(1)
        assert left == "0", "webhooks not delivered:\n" + log.read_text()[-4000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGTERM)
        try:
            make.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(make.pid, signal.SIGKILL)
    text = log.read_text()
    assert ":8000" not in text and "not delivered" not in text, text[-4000:]


def test_the_database_comes_from_separate_variables_with_any_password(tmp_path):
    """A password with "/", "@", "#" and ":" breaks a URL; DB_* variables take it as it is."""
    password = "p/ss@w#rd:1"
    env = {
        "DEBUG": "true",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "DB_NAME": "postgres",
        "DB_USER": "postgres",
        "DB_PASSWORD": password,
        "DB_HOST": "127.0.0.1",
        "DB_PORT": "5432",
    }
    probe = (
        "from django.conf import settings as s; from django.db import connection; "
        "d = s.DATABASES['default']; connection.ensure_connection(); "
        "print(d['ENGINE'], d['NAME'], d['USER'], d['PASSWORD'], d['HOST'], d['PORT'], "
        "'statement_timeout' in d['OPTIONS']['options'], connection.vendor)"
    )
    result = _django(env, "shell", "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-8:] == [
        "django.db.backends.postgresql",
        "postgres",
        "postgres",
        password,
        "127.0.0.1",
        "5432",
        "True",
        "postgresql",
    ]


def test_a_redis_password_of_any_characters_reaches_the_broker_and_the_probe():
    from kombu.utils.url import url_to_parts
    from redis.connection import parse_url

    from marketplace.env import redis_url

    password = "r/ed@is#pw:%"
    url = redis_url("redis://redis:6379/0", password)
    assert url_to_parts(url).password == password, "kombu (the broker)"
    assert parse_url(url)["password"] == password, "redis-py (/readyz)"
    assert parse_url(url)["host"] == "redis" and parse_url(url)["db"] == 0
    assert redis_url("redis://127.0.0.1:6379/0", "") == "redis://127.0.0.1:6379/0"
    assert redis_url("", "secret") == ""
