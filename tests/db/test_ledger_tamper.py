"""A tamper-evident ledger, tried the way an attacker with SQL access would.

Each forgery is planted in SQL: with the triggers on where they allow it (a
new row), and with every trigger off (``session_replication_role = replica``,
what the tables' owner can do) where they refuse it. Each one must be refused
by PostgreSQL or named by ``ledger_audit``, and the clean world must pass.
"""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from milestones.models import Dispute
from milestones.models import MilestoneState as S
from milestones.services.lifecycle import milestone_cancel
from payments.audit import ledger_audit
from payments.integrity import ledger_seal
from payments.ledger import account_for, ledger_post
from payments.models import (
    Account,
    AccountKind,
    CommandStatus,
    Earning,
    EarningStatus,
    LedgerSeal,
    ProviderCommand,
    Transaction,
    TransactionKind,
    WithdrawalStatus,
)
from payments.services import withdrawal_request
from payments.sweeps import sweep_outbox
from tests.factories import OrderFactory, UserFactory, create_milestone, milestone_in
from tests.sql import triggers_off

# Committed for real: a seal covers only what other database transactions have finished writing.
pytestmark = pytest.mark.django_db(transaction=True)


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def seal_everything() -> LedgerSeal:
    """Seal until every transaction written so far is covered. A seal covers only
    what every database transaction of the server older than it has finished
    (another test process's open transaction holds it back), so this may take
    a few rounds."""
    newest = Transaction.objects.order_by("-xid").values_list("xid", flat=True).first()
    assert newest is not None
    # Another xdist worker may hold one transaction open for a while (a security module's world, a
    # hypothesis sequence): the wait is long, and ends as soon as the seal covers our rows.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ledger_seal()
        last = LedgerSeal.objects.order_by("-id").first()
        if last is not None and last.upper > newest:
            return last
        time.sleep(0.2)
    raise AssertionError("the ledger could not be sealed within 300 s")


@pytest.fixture
def world():
    """Every record that holds money: a pending and a cleared earning, a paid
    withdrawal, a refund to card made, a resolved dispute; then a seal."""
    pending = milestone_in(S.APPROVED)
    seller = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT)
    cleared = milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
    withdrawal = withdrawal_request(seller=seller, amount=usd("50.00"), key=f"w-{seller.pk}")
    order = OrderFactory()
    milestone_cancel(milestone=create_milestone(order, amount="40.00"), actor=order.buyer, refund_to="card")
    sweep_outbox()
    resolved = milestone_in(S.RESOLVED)
    seal_everything()
    report = ledger_audit()
    assert report.ok, report.summary()
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PAID
    return {
        "pending": Earning.objects.get(milestone=pending),
        "cleared": Earning.objects.get(milestone=cleared),
        "withdrawal": withdrawal,
        "refund": ProviderCommand.objects.get(kind="refund", status=CommandStatus.SUCCEEDED),
        "dispute": Dispute.objects.get(milestone=resolved),
        "seller": seller,
    }


def refused_then_forced(sql: str, params: list, *, refusal: str = "frozen") -> None:
    """The edit is refused by a trigger, then made anyway with the triggers off, as an owner could."""
    with pytest.raises(IntegrityError, match=refusal), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    with triggers_off() as cursor:
        cursor.execute(sql, params)


def breaches() -> str:
    report = ledger_audit()
    assert not report.ok, "the audit found nothing"
    return report.summary()


# --- forged transactions, balanced, with the cached balance to match ---------------------


def _forge(kind: str, source: Account, target: Account, amount: str) -> int:
    """A balanced transaction written in SQL, with the cached balance moved to match."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO payments_transaction (idempotency_key, kind, memo, created_at, mac) "
            "VALUES (%s, %s, '', now(), %s) RETURNING id",
            [f"{kind}:forged", kind, "0" * 64],
        )
        txn_id = cursor.fetchone()[0]
        for account, sign in ((source, "-"), (target, "")):
            cursor.execute(
                "INSERT INTO payments_entry (transaction_id, account_id, amount, amount_currency) "
                "VALUES (%s, %s, %s, 'USD')",
                [txn_id, account.pk, Decimal(sign + amount)],
            )
        cursor.execute("UPDATE payments_account SET balance = balance + %s WHERE id = %s", [amount, target.pk])
    return txn_id


def test_a_balanced_transaction_from_the_gateway_into_a_buyers_balance_is_named(world):
    buyer = UserFactory()
    balance = account_for(kind=AccountKind.BUYER_BALANCE, currency="USD", user=buyer)
    txn = _forge("fund", account_for(kind=AccountKind.GATEWAY, currency="USD"), balance, "500.00")
    found = breaches()
    assert f"transaction {txn} (fund, fund:forged) does not match its MAC" in found
    assert f"transaction {txn} (fund) credits a buyer_balance account, which its kind never does" in found


def test_a_balanced_transaction_from_the_fee_account_into_a_sellers_balance_is_named(world):
    available = account_for(kind=AccountKind.SELLER_AVAILABLE, currency="USD", user=world["seller"])
    txn = _forge("clear", account_for(kind=AccountKind.PLATFORM_FEES, currency="USD"), available, "300.00")
    found = breaches()
    assert f"transaction {txn} (clear) debits a platform_fees account, which its kind never does" in found
    assert f"transaction {txn} (clear, clear:forged) clears no earning" in found
    assert f"transaction {txn} (clear, clear:forged) does not match its MAC" in found


# --- edits the triggers refuse, made anyway with the triggers off ---------------------------


def test_a_changed_transaction_kind_memo_or_key_is_refused_then_named(world):
    txn = Transaction.objects.filter(kind=TransactionKind.FUND).order_by("id").first()
    assert txn is not None
    for column, value in [("kind", "refund"), ("memo", "Nothing to see"), ("idempotency_key", "fund:other")]:
        sql = f"UPDATE payments_transaction SET {column} = %s WHERE id = %s"  # noqa: S608 - a column of ours
        refused_then_forced(sql, [value, txn.pk], refusal="append-only")
        found = breaches()
        assert f"transaction {txn.pk} (" in found and "does not match its MAC" in found, column
        with triggers_off() as cursor:
            cursor.execute(sql, [getattr(txn, column), txn.pk])
        assert ledger_audit().ok, "put back, the transaction matches its MAC again"


def test_a_pending_earning_moved_to_clear_early_is_refused_then_named(world):
    earning = world["pending"]
    sql = "UPDATE payments_earning SET clears_at = now() - interval '1 day' WHERE id = %s"
    refused_then_forced(sql, [earning.pk])
    assert f"earning {earning.pk} does not match its MAC: its money was changed" in breaches()


def test_a_cleared_earning_with_a_larger_net_is_refused_then_named(world):
    earning = world["cleared"]
    assert earning.status == EarningStatus.CLEARED
    sql = "UPDATE payments_earning SET net = net + 100 WHERE id = %s"
    refused_then_forced(sql, [earning.pk])
    found = breaches()
    assert f"earning {earning.pk} does not match its MAC" in found
    assert f"clears 80.00 to user(s) [{earning.seller_id}] but earning {earning.pk} is cleared, 180.00" in found


def test_a_paid_withdrawals_amount_changed_is_refused_then_named(world):
    withdrawal = world["withdrawal"]
    sql = "UPDATE payments_withdrawal SET amount = 5.00 WHERE id = %s"
    refused_then_forced(sql, [withdrawal.pk])
    found = breaches()
    assert f"withdrawal {withdrawal.pk} does not match its MAC" in found
    assert "but the withdrawal is paid, 5.00" in found


def test_a_provider_commands_amount_changed_is_refused_then_named(world):
    command = world["refund"]
    sql = "UPDATE payments_providercommand SET amount = amount + 1 WHERE id = %s"
    refused_then_forced(sql, [command.pk])
    found = breaches()
    assert f"provider command {command.pk} does not match its MAC" in found
    assert "but its refund command is succeeded" in found


def test_a_resolved_disputes_outcome_changed_is_refused_then_named(world):
    dispute = world["dispute"]
    sql = "UPDATE milestones_dispute SET outcome = 'release', seller_amount = buyer_amount WHERE id = %s"
    refused_then_forced(sql, [dispute.pk])
    assert f"dispute {dispute.pk} does not match its MAC: its outcome was changed" in breaches()


def test_postgres_refuses_moving_a_status_back_and_deleting_money_records(world):
    for sql in [
        "UPDATE payments_earning SET status = 'pending', cleared_at = NULL WHERE status = 'cleared'",
        "UPDATE payments_withdrawal SET status = 'requested' WHERE status = 'paid'",
        "UPDATE payments_providercommand SET status = 'pending' WHERE status = 'succeeded'",
        "DELETE FROM payments_earning",
        "DELETE FROM payments_withdrawal",
        "DELETE FROM payments_transaction",
        "DELETE FROM payments_ledgerseal",
        "UPDATE payments_ledgerseal SET count = 0",
        "DELETE FROM milestones_dispute",
    ]:
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert ledger_audit().ok


# --- the seals: deletes and inserts under them ----------------------------------------------


def test_a_sealed_transaction_deleted_with_the_triggers_off_is_named(world):
    withdrawal = world["withdrawal"]
    with triggers_off() as cursor:
        # The request and its payout both go, and the withdrawal with them: the balances still add up.
        for key in (f"withdraw:{withdrawal.idempotency_key}", f"payout:{withdrawal.idempotency_key}"):
            cursor.execute(
                "DELETE FROM payments_entry WHERE transaction_id IN "
                "(SELECT id FROM payments_transaction WHERE idempotency_key = %s)",
                [key],
            )
            cursor.execute("DELETE FROM payments_transaction WHERE idempotency_key = %s", [key])
        cursor.execute("DELETE FROM payments_providercommand WHERE withdrawal_id = %s", [withdrawal.pk])
        cursor.execute("DELETE FROM payments_withdrawal WHERE id = %s", [withdrawal.pk])
        cursor.execute(
            "UPDATE payments_account SET balance = balance + 50 WHERE kind = 'seller_available' AND user_id = %s",
            [world["seller"].pk],
        )
    found = breaches()
    assert "seal" in found and "covered" in found, "the payout's request and payment are gone from under a seal"
    assert " moving USD 50.00;" not in found
    # The two may sit under one seal or, when another test process held a seal back, under two.
    named = re.findall(r"seal (\d+) covered (\d+) transactions moving [^;]*; (\d+) moving", found)
    assert named, found
    seals = {s.pk: s for s in LedgerSeal.objects.all()}
    for pk, covered, _ in named:
        assert int(covered) == seals[int(pk)].count
    assert sum(int(covered) - int(now) for _, covered, now in named) == 2, found


def test_a_copy_of_a_real_transaction_planted_under_a_seal_is_named(world):
    original = Transaction.objects.filter(kind=TransactionKind.CLEAR).first()
    assert original is not None
    seal = LedgerSeal.objects.get(lower__lte=original.xid, upper__gt=original.xid)
    with triggers_off() as cursor:
        cursor.execute(
            "INSERT INTO payments_transaction (idempotency_key, kind, memo, created_at, mac, xid, milestone_id) "
            "SELECT idempotency_key || ':again', kind, memo, created_at, mac, xid, milestone_id "
            "FROM payments_transaction WHERE id = %s RETURNING id",
            [original.pk],
        )
        copy = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO payments_entry (transaction_id, account_id, amount, amount_currency) "
            "SELECT %s, account_id, amount, amount_currency FROM payments_entry WHERE transaction_id = %s",
            [copy, original.pk],
        )
    found = breaches()
    assert f"transaction {copy} (clear" in found and "does not match its MAC" in found
    assert f"seal {seal.pk} covered" in found


def test_a_seal_rewritten_to_match_is_named_by_its_own_mac(world):
    seal = LedgerSeal.objects.order_by("id").first()
    with triggers_off() as cursor:
        cursor.execute("UPDATE payments_ledgerseal SET count = count + 1 WHERE id = %s", [seal.pk])
    assert f"seal {seal.pk} does not match its MAC or its place in the chain" in breaches()


def test_seals_chain_and_cover_only_what_was_written_since_the_last(world):
    first = LedgerSeal.objects.order_by("-id").first()
    assert ledger_seal() is None, "nothing new: no empty seal"
    milestone_in(S.APPROVED)
    last = seal_everything()
    # The approval commits several database transactions; another process's open transaction (the other
    # test worker's: the horizon is the server's) may hold a seal back between two of them, so they can
    # take more than one seal. Each follows the one before, and counts exactly what it covers.
    chain = list(LedgerSeal.objects.filter(id__gt=first.id).order_by("id"))
    assert chain and chain[-1] == last
    previous = first
    for seal in chain:
        assert seal.previous_mac == previous.mac and seal.lower == previous.upper
        assert seal.count > 0
        assert Transaction.objects.filter(xid__gte=seal.lower, xid__lt=seal.upper).count() == seal.count
        previous = seal
    assert ledger_audit().ok


def test_sealing_does_not_wait_for_a_writer_and_never_seals_it_half():
    """A writer holds its transaction open; the seal neither waits for it nor
    covers it. After it commits, the next seal does, and the audit is clean."""
    milestone_in(S.APPROVED)
    posted, release = threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic():
                ledger_post(
                    key="slow-writer",
                    kind=TransactionKind.LATE_PAYMENT,
                    lines=[
                        (account_for(kind=AccountKind.GATEWAY, currency="USD"), usd("-1.00")),
                        (account_for(kind=AccountKind.CARD_REFUNDS, currency="USD"), usd("1.00")),
                    ],
                )
                posted.set()
                assert release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert posted.wait(30)
    try:
        # Everything committed before the writer began gets sealed while it stays open.
        seal = seal_everything()
    finally:
        release.set()
    thread.join(30)
    slow = Transaction.objects.get(idempotency_key="slow-writer")
    assert slow.xid is not None and slow.xid >= seal.upper, "the open writer was not sealed"
    later = seal_everything()
    assert LedgerSeal.objects.filter(lower__lte=slow.xid, upper__gt=slow.xid).exists()
    assert later.upper > slow.xid
    # The slow writer's payment was posted bare, with no refund command: only that is named.
    assert [b for b in ledger_audit().breaches if "seal" in b] == []
