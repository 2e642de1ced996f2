"""Every connection carries the statement, lock and idle-in-transaction limits
(settings ``DB_*_TIMEOUT_MS``): a runaway query or a stuck lock is cut off
instead of holding the site up."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection, transaction

pytestmark = pytest.mark.django_db(transaction=True)


def _fresh():
    """A connection made the way the app makes one (``migrate`` in this process lifted its own limit)."""
    return connection.get_new_connection(connection.get_connection_params())


def test_every_new_connection_has_the_configured_limits():
    raw = _fresh()
    try:
        with raw.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == f"{settings.DB_STATEMENT_TIMEOUT_MS // 1000}s"
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == f"{settings.DB_LOCK_TIMEOUT_MS // 1000}s"
            cursor.execute("SHOW idle_in_transaction_session_timeout")
            assert cursor.fetchone()[0] != "0"
    finally:
        raw.close()


def test_a_wait_on_a_lock_held_by_a_stuck_transaction_is_cut_off(settings):
    """A transaction holds a seller's account row and never finishes; the next
    writer gives up after the lock limit with an error, instead of waiting forever."""
    from payments.ledger import account_for
    from payments.models import AccountKind

    account = account_for(kind=AccountKind.PLATFORM_FEES, currency="USD")
    held, done = threading.Event(), threading.Event()

    def stuck():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT id FROM payments_account WHERE id = %s FOR UPDATE", [account.pk])
                held.set()
                done.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=stuck)
    thread.start()
    assert held.wait(30)
    raw = _fresh()
    try:
        with raw.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")  # the same rule as the configured 10 s, sooner
            with pytest.raises(Exception, match="lock timeout"):
                cursor.execute("SELECT id FROM payments_account WHERE id = %s FOR UPDATE", [account.pk])
    finally:
        raw.close()
        done.set()
        thread.join(30)


@pytest.mark.django_db
def test_the_headers_unread_counts_use_the_unread_index():
    """Every signed-in page counts the viewer's unread notices: on the partial index of unread rows,
    never a scan of the whole table (PostgreSQL once misjudged a recipient's share and did that)."""
    from django.db import connection

    from tests.factories import UserFactory

    with connection.cursor() as cursor:
        # A new, empty table (rolled back with the test): what earlier tests left in it (dead rows,
        # statistics, pages marked all-visible) must not decide the plan.
        cursor.execute("TRUNCATE marketplace_notification")
    user = UserFactory()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # the small test table would make a scan cheapest
        cursor.execute(
            "EXPLAIN SELECT count(*) FROM marketplace_notification WHERE recipient_id = %s AND read_at IS NULL",
            [user.pk],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "notification_unread" in plan, plan
