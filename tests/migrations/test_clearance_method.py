"""The clearance migrations on both backends (issue 33, item 6), each in its own scratch database
run by ``manage.py``, as ``make run`` and a deployment run them:

* ``payments.0012`` gives every earning released before it the method whose clearance period its
  own (``clears_at - created_at``) matches, in one UPDATE per method, and leaves one that matches
  none empty; the MACs still hold (``method`` is not sealed) and, on PostgreSQL, the trigger that
  freezes an earning's money and times is still on;
* ``accounts.0008`` counts a user who gave a payout account as having chosen their method, and
  asks the others.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from tests.migrations.test_payout_masking import DEFAULT_DATABASE_URL, _env, _json, _manage
from tests.template_db import migrated_postgres, migrated_sqlite

# Earnings as the code of today writes them, under bank transfer, PayPal, instant, and PayPal when
# its period was 5 days; then the columns the migrations add are dropped (migrating back), so that
# migrating forward meets them as the code before kept them.
RELEASE_THEN_MIGRATE_BACK = """
from datetime import timedelta
from django.conf import settings
from django.core.management import call_command
from milestones.models import MilestoneState as S
from tests.factories import OrderFactory, UserFactory, milestone_in

def release(name, method, **extra):
    seller = UserFactory(username=name, withdrawal_method=method, **extra)
    milestone_in(S.APPROVED, order=OrderFactory(seller=seller), title=name)

release("m_bank", "bank_transfer")
release("m_paypal", "paypal", payout_account="")
release("m_instant", "instant", payout_account="", payout_token="")
settings.CLEARANCE_PERIODS["paypal"] = timedelta(days=5)
release("m_odd", "paypal")
settings.CLEARANCE_PERIODS["paypal"] = timedelta(days=3)
call_command("migrate", "payments", "0011", interactive=False, verbosity=0)
call_command("migrate", "accounts", "0007", interactive=False, verbosity=0)
"""

MIGRATE = """
call_command("migrate", interactive=False, verbosity=0)
"""

AFTER = """
import json
from accounts.models import User
from payments.models import Earning

print(json.dumps({
    "earnings": sorted(
        (e.milestone.title, e.method, e.mac == e.expected_mac())
        for e in Earning.objects.select_related("milestone")
    ),
    "chosen": sorted(
        (u.username, u.has_chosen_withdrawal_method) for u in User.objects.filter(username__startswith="m_")
    ),
}))
"""


@pytest.fixture
def migrated_postgres_url(tmp_path):
    """A scratch PostgreSQL database with every migration applied: a copy of the run's template
    (``tests.template_db``), or, when the run has none, migrated here."""
    base = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    name = f"clearance_{os.getpid()}_{secrets.token_hex(4)}"
    maintenance = urlunsplit(base._replace(path="/postgres"))
    url = urlunsplit(base._replace(path=f"/{name}"))
    try:
        if not migrated_postgres(maintenance, name):
            with psycopg.connect(maintenance, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            _manage(_env(tmp_path / "migrate", url), "migrate", "--verbosity=0")
        yield url
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_earnings_released_before_get_the_method_their_period_matches(backend, tmp_path, request):
    # Each starts migrated (a copy: migrating from nothing is not what is tested here, and SQLite's
    # costs 13 CPU-seconds), then migrates back before the two migrations and forward again.
    if backend == "sqlite":
        env = _env(tmp_path, "")
        migrated_sqlite(Path(env["DATA_DIR"]) / "marketplace.sqlite3")
    else:
        env = _env(tmp_path, request.getfixturevalue("migrated_postgres_url"))
    after = _json(_manage(env, "shell", "-c", RELEASE_THEN_MIGRATE_BACK + MIGRATE + AFTER))
    assert after["earnings"] == [
        ["m_bank", "bank_transfer", True],
        ["m_instant", "instant", True],
        ["m_odd", "", True],  # 5 days: no method has that period now; the page shows the period alone
        ["m_paypal", "paypal", True],
    ]
    # A payout account given (the factory's, on the profile) counts as a choice; none, and they are asked.
    assert after["chosen"] == [["m_bank", True], ["m_instant", False], ["m_odd", True], ["m_paypal", False]]
    if backend == "postgresql":
        import psycopg

        with psycopg.connect(env["DATABASE_URL"]) as conn, pytest.raises(psycopg.errors.RestrictViolation):
            conn.execute("UPDATE payments_earning SET clears_at = clears_at + interval '1 day'")
