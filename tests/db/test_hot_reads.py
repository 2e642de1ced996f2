"""The reads an approval writes out by hand (``marketplace.rows``) lock what the
ORM locked, in the same order, on PostgreSQL (SQLite has no row locks). That
they build what the ORM builds, on both backends: ``test_sql_layer.py``."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from milestones.models import MilestoneState as S
from milestones.models import lock_milestone
from payments.ledger import Want, account_for, accounts_for
from payments.models import AccountKind
from tests.factories import OrderFactory, UserFactory, milestone_in


def _try_lock(sql: str, params: list) -> str:
    """From another connection: take the row's lock without waiting; what happened."""
    outcome: list[str] = []

    def run() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql + " FOR UPDATE NOWAIT", params)
                outcome.append("locked" if cursor.fetchall() else "no row")
        except Exception as exc:
            outcome.append(type(exc).__name__)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return outcome[0]


@pytest.mark.django_db(transaction=True)
def test_lock_milestone_locks_the_order_and_the_milestone_not_the_parties():
    order = OrderFactory()
    milestone = milestone_in(S.IN_REVIEW, order=order)
    with transaction.atomic():
        lock_milestone(milestone.pk)
        assert _try_lock("SELECT id FROM orders_order WHERE id = %s", [order.pk]) == "OperationalError"
        assert _try_lock("SELECT id FROM milestones_milestone WHERE id = %s", [milestone.pk]) == "OperationalError"
        # The buyer and seller are read, not locked: their other orders do not queue behind this one.
        assert _try_lock("SELECT id FROM marketplace_user WHERE id = %s", [order.seller_id]) == "locked"
        assert _try_lock("SELECT id FROM marketplace_user WHERE id = %s", [order.buyer_id]) == "locked"
    assert _try_lock("SELECT id FROM orders_order WHERE id = %s", [order.pk]) == "locked"


@pytest.mark.django_db(transaction=True)
def test_accounts_for_with_lock_locks_the_guarded_accounts_and_reads_the_platforms():
    seller = UserFactory()
    order = OrderFactory(seller=seller)
    milestone = milestone_in(S.IN_REVIEW, order=order)
    pending = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=seller)
    fees = account_for(kind=AccountKind.PLATFORM_FEES, currency="USD")
    wants = {
        "escrow": Want(AccountKind.ESCROW, milestone=milestone),
        "pending": Want(AccountKind.SELLER_PENDING, user=seller),
        "fees": Want(AccountKind.PLATFORM_FEES),
        "balance": Want(AccountKind.BUYER_BALANCE, user=order.buyer, optional=True),
    }
    with transaction.atomic():
        found = accounts_for(wants, currency="USD", lock=True)
        escrow = found["escrow"]
        assert found == accounts_for(wants, currency="USD") == {"escrow": escrow, "pending": pending, "fees": fees}
        assert escrow.balance == milestone.amount.amount  # read under the lock: what it holds now
        row = "SELECT id FROM payments_account WHERE id = %s"
        assert _try_lock(row, [escrow.pk]) == "OperationalError"
        assert _try_lock(row, [pending.pk]) == "OperationalError"
        # Every approval on the site credits the fee account: it is never locked.
        assert _try_lock(row, [fees.pk]) == "locked"
    # A missing account that is not optional is made; until the commit no one else sees it to take it.
    with transaction.atomic():
        found = accounts_for({"available": Want(AccountKind.SELLER_AVAILABLE, user=seller)}, currency="USD", lock=True)
        assert found["available"].balance == 0
        assert _try_lock(row, [found["available"].pk]) == "no row"
    assert _try_lock(row, [found["available"].pk]) == "locked"
