"""The application's database role owns nothing and may only do what the code needs.

``db_app_role`` makes it; the test then takes that role on its connection
(``SET ROLE``) and tries what an attacker with the application's credentials
would, and then what the application itself does every day.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from milestones.models import MilestoneState as S
from payments.audit import ledger_audit
from payments.models import Entry, Transaction, WithdrawalStatus
from payments.services import withdrawal_request
from payments.sweeps import sweep_outbox
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db

# Roles are shared by every database of the server: one per test process.
ROLE = f"mp_app_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture
def app_role():
    out = StringIO()
    call_command("db_app_role", ROLE, stdout=out)
    assert "no DDL" in out.getvalue()
    return ROLE


@contextmanager
def as_role(role: str) -> Iterator:
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{role}"')
        try:
            yield cursor
        finally:
            cursor.execute("RESET ROLE")


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("CREATE TABLE stolen (id int)", "permission denied for schema public"),
        ("ALTER TABLE payments_entry ADD COLUMN note text", "must be owner"),
        ("ALTER TABLE payments_entry DISABLE TRIGGER payments_entry_immutable", "must be owner"),
        ("ALTER TABLE payments_transaction DISABLE TRIGGER USER", "must be owner"),
        ("DROP TRIGGER payments_transaction_append_only ON payments_transaction", "must be owner"),
        ("SET session_replication_role = replica", "permission denied"),
        ("DELETE FROM payments_entry", "permission denied for table payments_entry"),
        ("DELETE FROM payments_transaction", "permission denied for table payments_transaction"),
        ("UPDATE payments_transaction SET memo = ''", "permission denied for table payments_transaction"),
        ("UPDATE payments_entry SET amount = 0", "permission denied for table payments_entry"),
        ("DELETE FROM payments_earning", "permission denied for table payments_earning"),
        ("DELETE FROM payments_withdrawal", "permission denied for table payments_withdrawal"),
        ("TRUNCATE payments_entry", "permission denied for table payments_entry"),
        ("DELETE FROM payments_ledgerseal", "permission denied for table payments_ledgerseal"),
    ],
)
def test_the_application_role_is_refused_ddl_deletes_and_switching_triggers_off(app_role, statement, refusal):
    milestone_in(S.APPROVED)
    with pytest.raises(DatabaseError, match=refusal), transaction.atomic(), connection.cursor() as cursor:
        # Undone with the savepoint when the statement fails.
        cursor.execute(f'SET LOCAL ROLE "{app_role}"')
        cursor.execute(statement)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] != app_role
    assert Entry.objects.count() > 0 and Transaction.objects.count() > 0


def test_the_application_does_its_work_as_that_role(app_role, audit):
    """Order, fund, deliver, approve, clear at once, withdraw, pay out, resolve a
    dispute: every service on the money path, connected as the application role."""
    with as_role(app_role):
        seller = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT)
        milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
        milestone_in(S.RESOLVED)
        milestone_in(S.CANCELLED)
        withdrawal = withdrawal_request(seller=seller, amount=Money("30.00", "USD"), key="as-app-role")
        sweep_outbox()
        withdrawal.refresh_from_db()
        assert withdrawal.status == WithdrawalStatus.PAID
        assert ledger_audit().ok
    audit()


def test_the_role_must_not_be_the_owner():
    with pytest.raises(CommandError, match="must not be the owner"):
        call_command("db_app_role", connection.settings_dict["USER"])
