"""The README's backup and restore drill, run on the test database: a backup restores into a scratch
database where ledger_audit and payments_reconcile pass; a ledger forged before the backup fails it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from milestones.models import MilestoneState as S
from payments.models import Transaction
from tests.db.test_ledger_tamper import seal_everything
from tests.factories import milestone_in
from tests.sql import triggers_off

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def _url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def _run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts" / script), *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.settings_test", "DATABASE_URL": _url(), **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


def _drills_left() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'marketplace_drill_%%'")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def ledger():
    milestone_in(S.APPROVED, amount="250.00")
    milestone_in(S.IN_PROGRESS, amount="80.00")
    seal_everything()
    return Transaction.objects.count()


def test_a_backup_restores_and_the_copy_audits_clean(ledger, tmp_path):
    before = set(_drills_left())
    backup = _run("backup.sh", str(tmp_path))
    assert backup.returncode == 0, backup.stderr
    dump = Path(backup.stdout.strip())
    assert dump.exists() and dump.suffix == ".dump" and dump.stat().st_size > 0

    drill = _run("restore_drill.sh", str(dump))
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert f"the copy holds {ledger} transactions" in drill.stdout
    assert "the ledger audits clean and matches the provider" in drill.stdout
    # Its own copy, by name: under xdist another worker's drill may hold a copy of its own right now.
    named = re.search(r"restored into (marketplace_drill_\w+)", drill.stdout)
    assert named, drill.stdout
    scratch = named.group(1)
    assert scratch not in before
    assert scratch not in _drills_left(), "the scratch copy is dropped"


def test_the_drill_takes_its_own_backup_when_given_none(ledger):
    drill = _run("restore_drill.sh")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "drill: took a backup" in drill.stdout and "drill: OK" in drill.stdout


def test_a_ledger_forged_before_the_backup_fails_the_drill(ledger, tmp_path):
    with triggers_off() as cursor:
        cursor.execute(
            "UPDATE payments_entry SET amount = amount + 1 "
            "WHERE id = (SELECT max(id) FROM payments_entry WHERE amount > 0)"
        )
    dump = Path(_run("backup.sh", str(tmp_path)).stdout.strip())
    drill = _run("restore_drill.sh", str(dump))
    assert drill.returncode != 0
    assert "drill: OK" not in drill.stdout
    assert "ledger audit found breaches" in drill.stderr


def test_a_missing_backup_is_named():
    drill = _run("restore_drill.sh", "/nonexistent/marketplace.dump")
    assert drill.returncode == 2 and "no such backup: /nonexistent/marketplace.dump" in drill.stderr
