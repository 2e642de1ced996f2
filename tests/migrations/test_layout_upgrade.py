"""A database from before the app layout migrates forward with every row kept.

Commit 27ea175 is the last one before the layout change (b45b047), when the
user, gig and notification models lived in the ``marketplace`` app. This test
exports that commit with ``git archive`` (no change to the clone's git state),
creates a scratch PostgreSQL database, and in the old tree runs ``migrate``,
``seed_demo`` and a short script that writes a little more (a notification, a
user with a group and a direct permission, an admin log entry on the gig).

It then snapshots every table's row count and a few key columns, and in the
current tree runs ``migrate`` (whose override records the three state-only
first migrations of ``accounts``, ``gigs`` and ``notifications``), then, in one
``shell``, ``ledger_audit``, ``makemigrations --check --dry-run`` and
``payments_reconcile``, and a payment from the balance by a user of the old
layout. It proves that:

* the three commands succeed: the ledger is still balanced, the migration
  history matches the models, and the provider's history copied at the upgrade
  (sandbox 0001, each operation as it was, dates included) is skipped as history
  (sandbox 0005) rather than listed as mismatches;
* every user of the old layout has a primary, confirmed ``EmailAddress``
  (accounts 0007), so the demo buyer pays a milestone from the balance without
  being asked to confirm the address, and the ledger audits clean after it;
* a charge the provider makes after the upgrade with nothing of ours behind it
  is still a mismatch (exit 1, listed alone);
* every table keeps its row count (only ``django_migrations`` and
  ``django_content_type`` may change) and the key columns are identical;
* ``django_migrations`` gained the layout migrations;
* the user, gig and notification content types now belong to ``accounts``,
  ``gigs`` and ``notifications`` (so admin history and permissions follow);
* the ORM of the new layout reads the same rows, a demo user can still log
  in, and a permission granted before the move is still held.

It uses its own scratch database, never the Django test database, so it needs
no ``db`` fixture; the scratch database is always dropped.

Migrating and seeding the old tree takes three Django start-ups and a migration
from nothing, the same every run: it is done once and kept in PostgreSQL as a
template database named after the old commit and everything that shapes it
(``OLD_EXTRA``, the pinned packages). Each run copies that template into its
scratch database (``CREATE DATABASE ... TEMPLATE``), then upgrades the copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

OLD_COMMIT = "27ea175"
TIMEOUT = 240
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/marketplace"

# The state-only moves and the migrations of the layout change that the old
# database has never seen.
LAYOUT_MIGRATIONS = {
    ("accounts", "0001_initial"),
    ("gigs", "0001_initial"),
    ("notifications", "0001_initial"),
    ("marketplace", "0002_models_moved_out"),
    ("milestones", "0004_users_and_gigs_moved"),
    ("orders", "0003_users_and_gigs_moved"),
    ("payments", "0004_users_and_gigs_moved"),
}
MOVED = {"user": "accounts", "gig": "gigs", "notification": "notifications"}
# Tables whose row count may change on upgrade.
MAY_CHANGE = {"django_migrations", "django_content_type"}
# Later migrations add models (their permissions) and move tables between
# apps: these are checked on their own below.
MAY_GROW = {"auth_permission", "auth_group", "auth_group_permissions"}  # and groups (orders 0007: "Support")
MOVED_TABLES = {"payments_gatewayoperation": "sandbox_sandboxoperation"}

# Run in the old tree after seed_demo: a bit more data on the moved tables and
# on the tables that point at their content types.
OLD_EXTRA = """
import json
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
import marketplace.models
from marketplace.models import Gig, User
from marketplace.services import notification_send, user_create

buyer = User.objects.get(username="buyer")
admin = User.objects.get(username="admin")
gig = Gig.objects.order_by("pk").first()
notification_send(recipient=buyer, event="layout.upgrade", message="Written before the layout move.")
carol = user_create(username="carol_old_layout", email="carol@example.com", password="old-layout-pass")
group = Group.objects.create(name="layout-upgrade")
view_gig = Permission.objects.get(content_type__app_label="marketplace", codename="view_gig")
group.permissions.add(view_gig)
carol.groups.add(group)
carol.user_permissions.add(Permission.objects.get(content_type__app_label="marketplace", codename="change_gig"))
LogEntry.objects.create(
    user=admin,
    content_type=ContentType.objects.get_for_model(Gig),
    object_id=str(gig.pk),
    object_repr=str(gig)[:200],
    action_flag=CHANGE,
    change_message="Edited before the layout move.",
)
print(json.dumps({"models_file": marketplace.models.__file__}))
"""

# The provider's history in the old layout, and the same operations in the sandbox's table.
OPERATION_TABLES = ("sandbox_sandboxoperation", "payments_gatewayoperation")
OPERATION_COLUMNS = "idempotency_key, kind, amount, amount_currency, succeeded, reference, failure_code, created_at"

# Run in the new tree after the upgrade, in one start-up: the ledger audits clean, the
# migration history matches the models, reconciliation passes over the copied history (each
# command exits non-zero, and so this script, if not), and the new models read the same rows.
# Then the demo buyer cancels the milestone still awaiting acceptance (its amount and fee back
# to the balance) and pays a new one from that balance, the ledger audits clean again, and a
# charge planted at the provider after the upgrade is the one mismatch reconciliation finds.
NEW_CHECK = """
import json
import uuid
from datetime import timedelta
from io import StringIO

import accounts.models
from accounts.models import User
from allauth.account.models import EmailAddress
from django.contrib.admin.models import LogEntry
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from django.utils import timezone
from djmoney.money import Money
from gigs.models import Gig
from milestones.models import Milestone
from milestones.services.creation import milestone_create
from milestones.services.lifecycle import milestone_cancel
from notifications.models import Notification
from payments.models import Account, AccountKind, Entry
from payments.services import FundingSource
from sandbox.models import SandboxOperation

call_command("ledger_audit")
call_command("makemigrations", "--check", "--dry-run")
reconciled = StringIO()
# Every record however old: the template may have been seeded more than 90 days ago.
call_command("payments_reconcile", "--days", "36500", stdout=reconciled)

carol = User.objects.get(username="carol_old_layout")
entry = LogEntry.objects.get(change_message="Edited before the layout move.")
found = {
    "models_file": accounts.models.__file__,
    "users": User.objects.count(),
    "gigs": Gig.objects.count(),
    "notifications": Notification.objects.count(),
    "notification_recipients": sorted(
        [n.pk, n.recipient.username] for n in Notification.objects.select_related("recipient")
    ),
    "buyer_authenticates": authenticate(username="buyer", password="marketplace-demo") is not None,
    "carol_authenticates": authenticate(username="carol_old_layout", password="old-layout-pass") is not None,
    "carol_groups": sorted(g.name for g in carol.groups.all()),
    "carol_perms": sorted(carol.get_all_permissions()),
    "log_entry_model": entry.content_type.model_class()._meta.label,
    "log_entry_object": str(entry.get_edited_object().pk),
    "reconciled": reconciled.getvalue(),
    "email_addresses": sorted(
        [a.user.username, a.email, a.primary, a.verified] for a in EmailAddress.objects.select_related("user")
    ),
}

buyer = User.objects.get(username="buyer")


def balance():
    account = Account.objects.get(kind=AccountKind.BUYER_BALANCE, user=buyer, currency="USD")
    return Entry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]


waiting = Milestone.objects.get(order__buyer=buyer, state="awaiting_acceptance")
milestone_cancel(milestone=waiting, actor=buyer)
refunded = balance()
paid = milestone_create(
    order=waiting.order,
    actor=buyer,
    title="After the upgrade",
    description="Paid from the balance by a user of the old layout.",
    deadline=timezone.now() + timedelta(days=7),
    amount=Money("100.00", "USD"),
    source=FundingSource(method="balance"),
    idempotency_key=uuid.uuid4().hex,
)
call_command("ledger_audit")

SandboxOperation.objects.create(
    idempotency_key="after-the-upgrade",
    kind="charge",
    amount=Money("12.00", "USD"),
    succeeded=True,
    reference="pi_after_the_upgrade",
)
mismatch = StringIO()
try:
    call_command("payments_reconcile", "--days", "36500", stderr=mismatch)
    mismatch_exit = 0
except CommandError as error:
    mismatch_exit = error.returncode

print(json.dumps({
    **found,
    "paid_state": paid.state,
    "balance_after_refund": str(refunded),
    "balance_after_payment": str(balance()),
    "mismatch_exit": mismatch_exit,
    "mismatch": mismatch.getvalue().splitlines(),
}))
"""


def _git(root: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=TIMEOUT, **kwargs)


@pytest.fixture(scope="module")
def repo_root() -> Path:
    found = _git(Path(__file__).resolve().parent, "rev-parse", "--show-toplevel", text=True)
    if found.returncode != 0:
        pytest.skip(f"not inside a git clone: {found.stderr.strip()}")
    root = Path(found.stdout.strip())
    if _git(root, "cat-file", "-e", f"{OLD_COMMIT}^{{commit}}").returncode != 0:
        pytest.skip(f"commit {OLD_COMMIT} (the layout before b45b047) is not in this clone (shallow clone?)")
    return root


@pytest.fixture(scope="module")
def old_tree(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Commit 27ea175 exported with git archive: no worktree, no checkout."""
    target = tmp_path_factory.mktemp("layout_before")
    archive = subprocess.Popen(["git", "archive", OLD_COMMIT], cwd=repo_root, stdout=subprocess.PIPE)
    assert archive.stdout is not None
    try:
        untar = subprocess.run(
            ["tar", "-x", "-C", str(target)], stdin=archive.stdout, capture_output=True, timeout=TIMEOUT
        )
    finally:
        archive.stdout.close()
        archive_rc = archive.wait(timeout=TIMEOUT)
    assert archive_rc == 0, f"git archive {OLD_COMMIT} exited {archive_rc}"
    assert untar.returncode == 0, f"tar -x failed: {untar.stderr.decode(errors='replace')}"
    assert (target / "manage.py").is_file()
    return target


def _base_url():
    return urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)


def _maintenance_url() -> str:
    return urlunsplit(_base_url()._replace(path="/postgres"))


def _database_url(name: str) -> str:
    return urlunsplit(_base_url()._replace(path=f"/{name}"))


def _old_layout_key(repo_root: Path) -> str:
    digest = hashlib.sha256(f"{OLD_COMMIT}\0{OLD_EXTRA}\0".encode())
    digest.update((repo_root / "constraints.txt").read_bytes())
    return digest.hexdigest()[:10]


def _seed_old_layout(old_tree: Path, url: str, data_dir: Path) -> None:
    """In the old tree: the schema of its day, the demo data and a little more."""
    env = _env(url, data_dir)
    _manage(old_tree, env, "migrate", "--noinput")
    _manage(old_tree, env, "seed_demo")
    extra = _last_json(_manage(old_tree, env, "shell", "-c", OLD_EXTRA))
    assert Path(extra["models_file"]).resolve().is_relative_to(old_tree.resolve()), extra


@pytest.fixture(scope="module")
def old_layout_template(request, repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The old tree's seeded database, kept as a template: built on the first run, then reused.

    Built under ``<name>_new`` and renamed when complete, so an interrupted build is never
    reused; an advisory lock makes a second worker wait for the first one's build. Templates of
    an earlier ``OLD_EXTRA`` are dropped.
    """
    prefix = f"{(_base_url().path.strip('/') or 'marketplace')[:24]}_layout_{OLD_COMMIT}_"
    name = prefix + _old_layout_key(repo_root)
    lock = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with psycopg.connect(_maintenance_url(), autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        conn.execute("SELECT pg_advisory_lock(%s)", [lock])
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                building = sql.Identifier(f"{name}_new")
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(building))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(building))
                _seed_old_layout(
                    request.getfixturevalue("old_tree"), _database_url(f"{name}_new"), tmp_path_factory.mktemp("old")
                )
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(building, sql.Identifier(name)))
                stale = conn.execute(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, %s) AND datname <> %s", [prefix, name]
                ).fetchall()
                for (old,) in stale:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(old)))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [lock])
    return name


@pytest.fixture
def scratch_url(old_layout_template: str):
    """A copy of the old layout's seeded database next to DATABASE_URL's; dropped whatever happens."""
    name = f"layout_upgrade_{os.getpid()}_{secrets.token_hex(4)}"
    maintenance = _maintenance_url()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(old_layout_template))
        )
    try:
        yield _database_url(name)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _manage(tree: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run manage.py in ``tree`` with this interpreter; fail with its output if it exits non-zero."""
    command = [sys.executable, "manage.py", *args]
    try:
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{' '.join(args)} in {tree} timed out after {TIMEOUT}s\nstdout:\n{exc.stdout}\nstderr:\n{exc.stderr}"
        )
    assert done.returncode == 0, (
        f"`manage.py {' '.join(args)}` in {tree} exited {done.returncode}\n"
        f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )
    return done


def _last_json(done: subprocess.CompletedProcess) -> dict:
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in the output\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return json.loads(lines[-1])


def _snapshot(url: str) -> dict:
    """Row counts of every table in the public schema, and the key columns."""
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        counts = {
            table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
            for table in tables
        }

        def rows(query: str | sql.Composable) -> list[tuple]:
            return [tuple(row) for row in conn.execute(query)]

        return {
            "counts": counts,
            "users": rows("SELECT id, username, password, email FROM marketplace_user ORDER BY id"),
            "gigs": rows("SELECT id, seller_id, title FROM marketplace_gig ORDER BY id"),
            "notifications": rows("SELECT id, recipient_id, event FROM marketplace_notification ORDER BY id"),
            "user_groups": rows("SELECT user_id, group_id FROM marketplace_user_groups ORDER BY 1, 2"),
            "user_permissions": rows(
                "SELECT user_id, permission_id FROM marketplace_user_user_permissions ORDER BY 1, 2"
            ),
            "entry_sum": rows(
                "SELECT amount_currency, sum(amount) FROM payments_entry GROUP BY amount_currency ORDER BY 1"
            ),
            "content_types": dict(
                rows(
                    "SELECT model, app_label FROM django_content_type"
                    " WHERE model IN ('user', 'gig', 'notification') AND app_label <> 'auth'"
                )
            ),
            "migrations": set(rows("SELECT app, name FROM django_migrations")),
            "operations": rows(
                sql.SQL("SELECT {} FROM {} ORDER BY idempotency_key").format(
                    sql.SQL(OPERATION_COLUMNS), sql.Identifier(next(t for t in OPERATION_TABLES if t in tables))
                )
            ),
        }


def _env(url: str, data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings_test",
        # No shared Redis: tasks published by the demo go to a private filesystem broker.
        "REDIS_URL": "",
        "DATA_DIR": str(data_dir),
    }
    env.pop("PYTHONPATH", None)
    return env


def test_database_from_before_the_layout_upgrades_with_every_row(repo_root, scratch_url, tmp_path):
    env = _env(scratch_url, tmp_path / "data")

    # --- The old layout: schema, demo data and a little more (old_layout_template) ---
    before = _snapshot(scratch_url)
    counts = before["counts"]
    for table in (
        "marketplace_user",
        "marketplace_gig",
        "marketplace_notification",
        "marketplace_user_groups",
        "marketplace_user_user_permissions",
        "django_admin_log",
        "orders_order",
        "milestones_milestone",
        "payments_entry",
        "payments_transaction",
    ):
        assert counts.get(table, 0) > 0, f"the old layout left {table} empty: {counts}"
    assert before["content_types"] == {model: "marketplace" for model in MOVED}
    assert not before["migrations"] & LAYOUT_MIGRATIONS

    # --- The new layout -------------------------------------------------------
    migrated = _manage(repo_root, env, "migrate", "--noinput")
    after = _snapshot(scratch_url)

    for old_table, new_table in MOVED_TABLES.items():
        assert after["counts"].get(new_table) == counts.get(old_table), f"{old_table} → {new_table} lost rows"
    for table in MAY_GROW:
        assert after["counts"][table] >= counts[table], f"{table} shrank"
    changed = {
        table: (counts[table], after["counts"].get(table))
        for table in counts
        if table not in MAY_CHANGE | MAY_GROW | MOVED_TABLES.keys() and after["counts"].get(table) != counts[table]
    }
    assert not changed, f"row counts changed (before, after): {changed}\nmigrate output:\n{migrated.stdout}"
    for key in ("users", "gigs", "notifications", "user_groups", "user_permissions", "entry_sum"):
        assert after[key] == before[key], f"{key} changed on upgrade"
    assert after["migrations"] >= before["migrations"]
    missing = LAYOUT_MIGRATIONS - after["migrations"]
    assert not missing, f"layout migrations not recorded: {missing}\nmigrate output:\n{migrated.stdout}"
    assert after["counts"]["django_migrations"] >= counts["django_migrations"] + len(LAYOUT_MIGRATIONS)
    assert after["content_types"] == MOVED, "content types did not follow their models"
    assert "Recorded accounts.0001_initial" in migrated.stdout, migrated.stdout

    # --- ledger_audit, makemigrations --check, and the new ORM reads the same rows ---
    check = _last_json(_manage(repo_root, env, "shell", "-c", NEW_CHECK))
    assert Path(check["models_file"]).resolve().is_relative_to(repo_root.resolve()), check
    assert check["users"] == after["counts"]["marketplace_user"] == len(before["users"])
    assert check["gigs"] == after["counts"]["marketplace_gig"] == len(before["gigs"])
    assert check["notifications"] == after["counts"]["marketplace_notification"] == len(before["notifications"])
    usernames = {user_id: username for user_id, username, *_ in before["users"]}
    assert check["notification_recipients"] == sorted(
        [pk, usernames[recipient]] for pk, recipient, _ in before["notifications"]
    )
    assert check["buyer_authenticates"], "the demo buyer can no longer log in"
    assert check["carol_authenticates"], "a user created before the move can no longer log in"
    assert check["carol_groups"] == ["layout-upgrade"]
    assert {"gigs.view_gig", "gigs.change_gig"} <= set(check["carol_perms"]), check["carol_perms"]
    assert check["log_entry_model"] == "gigs.Gig"
    assert check["log_entry_object"] == str(before["gigs"][0][0])

    # --- The provider's history: copied as it was, skipped by reconciliation as history ---
    assert before["operations"], "the old layout has no provider history to copy"
    assert after["operations"] == before["operations"], "the copy changed the provider's history"
    with psycopg.connect(scratch_url) as conn:
        copied = conn.execute(
            "SELECT count(*) FILTER (WHERE succeeded), count(*) FILTER (WHERE NOT imported OR target <> '')"
            " FROM sandbox_sandboxoperation WHERE idempotency_key = ANY(%s)",
            [[key for key, *_ in before["operations"]]],
        ).fetchone()
    succeeded, unmarked = copied
    assert unmarked == 0, "an operation copied at the upgrade is not marked as history"
    assert f"{succeeded} of the provider's records skipped as history" in check["reconciled"], check["reconciled"]
    assert check["reconciled"].startswith("OK: 0 movements"), check["reconciled"]

    # --- Users of the old layout keep paying: a confirmed primary address each ---
    assert check["email_addresses"] == sorted(
        [username, email.lower(), True, True] for _, username, _, email in before["users"] if email
    )
    assert check["paid_state"] == "awaiting_acceptance", check
    assert Decimal(check["balance_after_refund"]) - Decimal(check["balance_after_payment"]) > Decimal("100.00"), check

    # --- A charge made after the upgrade with nothing of ours behind it is still found ---
    assert check["mismatch_exit"] == 1, check["mismatch"]
    assert check["mismatch"] == [
        "charge pi_after_the_upgrade: US$12.00 at sandbox, not in our records",
        f"{succeeded} of the provider's records skipped as history"
        " (copied at the upgrade from the first layout, before our records began).",
    ]
