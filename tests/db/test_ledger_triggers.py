"""PostgreSQL itself guards the ledger, whatever the application does.

A deferred constraint trigger refuses an unbalanced transaction at COMMIT (the
tests make it fire at once with ``SET CONSTRAINTS ALL IMMEDIATE``, or really
commit), and a row trigger refuses any UPDATE or DELETE of an entry. Then the
operator's tool: ``manage.py ledger_audit`` exits 0 on a clean ledger and 1,
naming the breach, when a cached balance or an escrow is wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from djmoney.money import Money

from milestones.models import Milestone
from milestones.models import MilestoneState as S
from payments.ledger import account_for
from payments.models import Account, AccountKind, Entry, Transaction
from tests.factories import milestone_in

ROOT = Path(__file__).resolve().parents[2]


def _accounts():
    return (
        account_for(kind=AccountKind.GATEWAY, currency="USD"),
        account_for(kind=AccountKind.PLATFORM_FEES, currency="USD"),
    )


def _post_raw(lines) -> Transaction:
    txn = Transaction.objects.create(idempotency_key=uuid.uuid4().hex, kind="fund")
    for account, money in lines:
        Entry.objects.create(transaction=txn, account=account, amount=money)
    return txn


def _check_deferred_constraints_now() -> None:
    """Fire the deferred triggers now, as COMMIT would (the test never commits)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.django_db
def test_postgres_refuses_an_unbalanced_transaction():
    gateway, fees = _accounts()
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        _post_raw([(gateway, Money("-10.00", "USD")), (fees, Money("9.99", "USD"))])
        _check_deferred_constraints_now()
    assert not Entry.objects.exists()


@pytest.mark.django_db
def test_postgres_refuses_a_transaction_balanced_only_across_currencies():
    gateway, _ = _accounts()
    eur_fees = account_for(kind=AccountKind.PLATFORM_FEES, currency="EUR")
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        _post_raw([(gateway, Money("-10.00", "USD")), (eur_fees, Money("10.00", "EUR"))])
        _check_deferred_constraints_now()


@pytest.mark.django_db
def test_postgres_accepts_a_balanced_transaction():
    gateway, fees = _accounts()
    with transaction.atomic():
        _post_raw([(gateway, Money("-10.00", "USD")), (fees, Money("10.00", "USD"))])
        _check_deferred_constraints_now()
    assert Entry.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_unbalanced_transaction_is_refused_at_a_real_commit():
    gateway, _ = _accounts()
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        _post_raw([(gateway, Money("-10.00", "USD"))])
    assert not Transaction.objects.exists()
    assert not Entry.objects.exists()


def _one_entry() -> Entry:
    gateway, fees = _accounts()
    _post_raw([(gateway, Money("-10.00", "USD")), (fees, Money("10.00", "USD"))])
    return Entry.objects.order_by("pk")[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE payments_entry SET amount = 0 WHERE id = %s",
        "UPDATE payments_entry SET amount_currency = 'EUR' WHERE id = %s",
        "DELETE FROM payments_entry WHERE id = %s",
    ],
    ids=["update-amount", "update-currency", "delete"],
)
def test_an_entry_cannot_be_changed_or_deleted_with_sql(sql):
    entry = _one_entry()
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk])
    assert Entry.objects.get(pk=entry.pk).amount == entry.amount


@pytest.mark.django_db
def test_an_entry_cannot_be_changed_or_deleted_through_the_orm():
    entry = _one_entry()
    attempts = [
        lambda: Entry.objects.filter(pk=entry.pk).update(amount=Money("0.00", "USD")),
        lambda: Entry.objects.all().delete(),
        entry.delete,
    ]

    def save_changed():
        entry.amount = Money("99.00", "USD")
        entry.save()

    attempts.append(save_changed)
    for attempt in attempts:
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
            attempt()
    assert Entry.objects.count() == 2
    assert Entry.objects.get(pk=entry.pk).amount == Money("-10.00", "USD")


# --- ledger_audit, the operator's command ---------------------------------------------------


def _audit_command() -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("ledger_audit", stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, err.getvalue()
    return 0, out.getvalue()


@pytest.mark.django_db
def test_ledger_audit_passes_a_clean_ledger():
    for state in (S.APPROVED, S.DISPUTED, S.CANCELLED):
        milestone_in(state)
    code, output = _audit_command()
    assert code == 0
    assert "OK" in output


@pytest.mark.django_db
def test_ledger_audit_reports_a_cached_balance_that_disagrees_with_the_entries():
    milestone = milestone_in(S.APPROVED)
    pending = Account.objects.get(kind=AccountKind.SELLER_PENDING, user=milestone.order.seller)
    Account.objects.filter(pk=pending.pk).update(balance=pending.balance + 1)
    code, output = _audit_command()
    assert code == 1
    assert f"account {pending.pk} (seller_pending) shows 81.00 but the ledger says 80.00" in output


@pytest.mark.django_db
def test_ledger_audit_reports_an_escrow_that_no_longer_matches_its_milestone():
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    Milestone.objects.filter(pk=milestone.pk).update(amount=Money("120.00", "USD"))
    code, output = _audit_command()
    assert code == 1
    assert f"milestone {milestone.pk} is in_progress with amount 120.00 but escrow holds 100.00" in output


@pytest.mark.django_db
def test_ledger_audit_reports_money_left_in_the_escrow_of_a_closed_milestone():
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    # Bypassing the state machine is exactly the kind of bug the audit exists to catch.
    Milestone.objects.filter(pk=milestone.pk).update(state=S.APPROVED)
    code, output = _audit_command()
    assert code == 1
    assert f"milestone {milestone.pk} is approved but escrow still holds 100.00" in output


def _run_manage(*args: str) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "marketplace.settings_test"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.django_db(transaction=True)
def test_ledger_audit_exits_0_then_1_with_the_breach_printed():
    milestone = milestone_in(S.APPROVED)
    clean = _run_manage("ledger_audit")
    assert clean.returncode == 0, clean.stderr
    assert "no breach" in clean.stdout

    pending = Account.objects.get(kind=AccountKind.SELLER_PENDING, user=milestone.order.seller)
    Account.objects.filter(pk=pending.pk).update(balance=0)
    broken = _run_manage("ledger_audit")
    assert broken.returncode == 1
    assert "BREACH" in broken.stderr
    assert f"account {pending.pk} (seller_pending) shows 0.00 but the ledger says 80.00" in broken.stderr


@pytest.mark.django_db
def test_ledger_audit_reports_a_withdrawal_that_was_never_set_aside():
    from payments.models import Withdrawal

    milestone = milestone_in(S.APPROVED)
    seller = milestone.order.seller
    Withdrawal.objects.create(seller=seller, amount=Money("5.00", "USD"), method="paypal", idempotency_key="ghost")
    code, output = _audit_command()
    assert code == 1
    assert f"seller {seller.pk} has 5.00 USD in requested withdrawals but 0 in the withdrawing account" in output
