"""Payout numbers on both backends (issue 32, items 1 and 5), each in its own scratch database run by
``manage.py`` as ``make run`` and a deployment run it:

* the data migrations mask every payout number stored before them (the profile's account, a
  withdrawal's destination, a payout command's, the sandbox's operation) and seal each withdrawal
  and command again over its masked destination, so the audit still proves them; a row whose MAC
  was already wrong stays named;
* on SQLite, the embedded default, on from there: a card and an IBAN typed on the profile,
  withdrawals of a seller's earnings and of a buyer's refund, a tip and a refund to card from the
  balance, the payouts run, and then ``ledger_audit`` exits 0 and the database file holds none of
  the numbers, the masked ones included.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/marketplace"
CARD = "4000056655665556"
IBAN = "GB82WEST12345698765432"

# Rows as the code before tokens wrote them: numbers whole, withdrawals and commands sealed over them.
LEGACY = """
import json
from django.db import connection
from django.utils import timezone
from djmoney.money import Money
from marketplace.mac import content_mac

now = timezone.now()
with connection.cursor() as c:
    def user(name, method, account):
        c.execute(
            "INSERT INTO marketplace_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined, withdrawal_method, payout_account, bio, refund_to, rating_count, time_zone,"
            " email_notifications) VALUES ('!', %s, %s, '', '', %s, %s, %s, %s, %s, %s, '', 'balance', 0, 'UTC', 'all')",
            [False, name, name + "@example.com", False, True, now, method, account],
        )
        c.execute("SELECT id FROM marketplace_user WHERE username = %s", [name])
        return c.fetchone()[0]

    card_user = user("legacy_card", "instant", "{CARD}")
    iban_user = user("legacy_iban", "bank_transfer", "{IBAN}")
    paypal_user = user("legacy_paypal", "paypal", "sam@paypal.example")

    def withdrawal(seller, method, destination, key, forged=False):
        mac = content_mac("withdrawal", [seller, Money("10.00", "USD"), method, destination, key])
        c.execute(
            "INSERT INTO payments_withdrawal (seller_id, amount, amount_currency, method, destination, status,"
            " idempotency_key, gateway_reference, failure_reason, created_at, mac)"
            " VALUES (%s, 10, 'USD', %s, %s, 'paid', %s, 'po_x', '', %s, %s)",
            [seller, method, destination, key, now, "0" * 64 if forged else mac],
        )
        c.execute("SELECT id FROM payments_withdrawal WHERE idempotency_key = %s", [key])
        pk = c.fetchone()[0]
        ckey = "payout:" + key
        cmac = content_mac(
            "providercommand",
            ["payout", ckey, Money("10.00", "USD"), seller, pk, None, None, method, destination, ""],
        )
        c.execute(
            "INSERT INTO payments_providercommand (kind, status, idempotency_key, amount, amount_currency, user_id,"
            " withdrawal_id, method, destination, payment_reference, attempts, next_attempt_at, last_error,"
            " provider_reference, failure_code, created_at, mac)"
            " VALUES ('payout', 'succeeded', %s, 10, 'USD', %s, %s, %s, %s, '', 1, %s, '', 'po_x', '', %s, %s)",
            [ckey, seller, pk, method, destination, now, now, cmac],
        )
        c.execute(
            "INSERT INTO sandbox_sandboxoperation (idempotency_key, kind, amount, amount_currency, succeeded,"
            " reference, target, failure_code, created_at) VALUES (%s, 'payout', 10, 'USD', %s, 'po_x', %s, '', %s)",
            [ckey, True, destination, now],
        )

    withdrawal(card_user, "instant", "{CARD}", "k-card")
    withdrawal(iban_user, "bank_transfer", "{IBAN}", "k-iban")
    withdrawal(paypal_user, "paypal", "sam@paypal.example", "k-paypal")
    withdrawal(iban_user, "bank_transfer", "{IBAN}", "k-forged", forged=True)
print(json.dumps({"ok": True}))
""".replace("{CARD}", CARD).replace("{IBAN}", IBAN)

BEFORE_THEN_MIGRATE = """
from django.core.management import call_command
for app, before in (("accounts", "0005"), ("payments", "0010"), ("sandbox", "0001")):
    call_command("migrate", app, before, interactive=False, verbosity=0)
"""

MIGRATE = """
call_command("migrate", interactive=False, verbosity=0)
"""

AFTER = """
import json
from accounts.models import User
from payments.models import ProviderCommand, Withdrawal
from sandbox.models import SandboxOperation

print(json.dumps({
    "users": sorted(User.objects.filter(username__startswith="legacy_").values_list("username", "payout_account", "payout_token")),
    "withdrawals": sorted(
        (w.idempotency_key, w.destination, w.mac == w.expected_mac()) for w in Withdrawal.objects.all()
    ),
    "commands": sorted(
        (c.idempotency_key, c.destination, c.mac == c.expected_mac()) for c in ProviderCommand.objects.all()
    ),
    "targets": sorted(SandboxOperation.objects.values_list("idempotency_key", "target")),
}))
"""

FORGET_LEGACY_PAYOUTS = """
from django.db import connection
with connection.cursor() as c:
    for table in ("payments_providercommand", "payments_withdrawal", "sandbox_sandboxoperation"):
        c.execute(f"DELETE FROM {table}")
"""

# The money paths of the embedded default, through the services a person's clicks call.
SQLITE_WALK = """
import json, uuid
from djmoney.money import Money
from milestones.models import MilestoneState as S
from milestones.services.tips import tip_leave
from payments.audit import ledger_audit
from payments.models import ProviderCommand
from payments.outbox import command_execute
from payments.services import balance_refund_to_card, withdrawal_request
from tests.factories import OrderFactory, UserFactory, milestone_in, payout_account_set

usd = lambda amount: Money(amount, "USD")
seller = UserFactory(username="sqlite_seller", withdrawal_method="instant")
buyer = UserFactory(username="sqlite_buyer")
payout_account_set(seller, "4000 0566 5566 5556")
payout_account_set(buyer, "GB82 WEST 1234 5698 7654 32")
approved = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller), amount="22.00")
milestone_in(S.CANCELLED, order=OrderFactory(buyer=buyer, seller=seller), amount="100.00")  # 105.50 back
tip_leave(milestone=approved, actor=buyer, amount=usd("6.00"), method="balance")
withdrawal_request(seller=seller, amount=usd("22.40"), key=uuid.uuid4().hex)  # 17.60 + 4.80 of the tip
withdrawal_request(seller=buyer, amount=usd("50.00"), key=uuid.uuid4().hex)
balance_refund_to_card(user=buyer, amount=usd("49.50"), key=uuid.uuid4().hex)
outcomes = [command_execute(command_id=c.pk).outcome for c in ProviderCommand.objects.order_by("pk")]
report = ledger_audit()
print(json.dumps({"outcomes": outcomes, "ok": report.ok, "summary": report.summary()}))
"""


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _json(done: subprocess.CompletedProcess) -> dict:
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"')]
    assert lines, done.stdout + done.stderr
    return json.loads(lines[-1])


@pytest.fixture
def postgres_url():
    base = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    name = f"payout_masking_{os.getpid()}_{secrets.token_hex(4)}"
    maintenance = urlunsplit(base._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(base._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings_test",
        "DATABASE_URL": database_url,
        "REDIS_URL": "",  # tasks go to a private filesystem broker
        "DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_data_migrations_mask_every_stored_payout_number(backend, tmp_path, request):
    env = _env(tmp_path, "" if backend == "sqlite" else request.getfixturevalue("postgres_url"))
    # The schema before tokens, the rows its code wrote, every migration after it, and what they
    # left: one process, as ``manage.py migrate`` runs them (a process per step cost 2 s each).
    after = _json(_manage(env, "shell", "-c", BEFORE_THEN_MIGRATE + LEGACY + MIGRATE + AFTER))
    assert after["users"] == [
        ["legacy_card", "•••• 5556", ""],
        ["legacy_iban", "•••• 5432", ""],
        ["legacy_paypal", "sam@paypal.example", ""],
    ]
    assert after["withdrawals"] == [
        ["k-card", "•••• 5556", True],
        ["k-forged", "•••• 5432", False],  # forged before: still named by the audit
        ["k-iban", "•••• 5432", True],
        ["k-paypal", "sam@paypal.example", True],
    ]
    assert after["commands"] == [
        ["payout:k-card", "•••• 5556", True],
        ["payout:k-forged", "•••• 5432", True],
        ["payout:k-iban", "•••• 5432", True],
        ["payout:k-paypal", "sam@paypal.example", True],
    ]
    assert [target for _, target in after["targets"]] == ["•••• 5556", "•••• 5432", "•••• 5432", "sam@paypal.example"]
    if backend == "postgresql":
        # The triggers that freeze the destination are back on.
        with psycopg.connect(env["DATABASE_URL"]) as conn, pytest.raises(psycopg.errors.RestrictViolation):
            conn.execute("UPDATE payments_withdrawal SET destination = 'x'")
        return

    # --- SQLite, the embedded default, on from there: new numbers typed, money moved both ways. The
    # legacy payouts, which have no ledger behind them, go first, so the audit sees only the walk.
    walked = _json(_manage(env, "shell", "-c", FORGET_LEGACY_PAYOUTS + SQLITE_WALK))
    assert walked["ok"], walked["summary"]
    assert walked["outcomes"] == ["succeeded"] * 3, walked  # two payouts and a refund to card
    _manage(env, "ledger_audit")
    files = list((tmp_path / "data").glob("marketplace.sqlite3*"))
    assert files
    for path in files:
        data = path.read_bytes()
        for number in (CARD, IBAN, "4000 0566 5566 5556", "GB82 WEST 1234 5698 7654 32"):
            assert number.encode() not in data, f"{number} is in {path.name}"
