"""The reads an approval writes out by hand (``marketplace.rows``): they build
what the ORM builds, and lock what the ORM locked, in the same order."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from milestones.models import Milestone, lock_milestone
from milestones.models import MilestoneState as S
from orders.models import Order
from payments.ledger import Want, account_for, accounts_for
from payments.models import AccountKind
from tests.factories import OrderFactory, UserFactory, milestone_in


def _fields(instance) -> dict[str, object]:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.mark.django_db
def test_lock_milestone_reads_what_the_orm_reads():
    order = OrderFactory(seller=UserFactory(bio="Logos & type", time_zone="Europe/Paris"))
    milestone = milestone_in(S.IN_REVIEW, order=order, title="Logo", amount="123.45")
    with transaction.atomic():
        locked = lock_milestone(milestone.pk)
    orm = Milestone.objects.select_related("order__buyer", "order__seller").get(pk=milestone.pk)
    assert _fields(locked) == _fields(orm)
    assert _fields(locked.order) == _fields(orm.order)
    assert _fields(locked.order.buyer) == _fields(orm.order.buyer)
    assert _fields(locked.order.seller) == _fields(orm.order.seller)
    # Money, dates and the state machine work on it as on an ORM instance.
    assert str(locked.amount) == str(orm.amount) and locked.auto_approve_at == orm.auto_approve_at
    assert not locked._state.adding and locked.get_state_display() == orm.get_state_display()
    with transaction.atomic():
        again = lock_milestone(milestone.pk)
        again.approve(at=again.submitted_at)
        assert again.state == S.APPROVED


@pytest.mark.django_db
def test_lock_milestone_of_no_milestone_says_so_as_the_orm_did():
    with transaction.atomic(), pytest.raises(Order.DoesNotExist):
        lock_milestone(987654321)


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


@pytest.mark.django_db
def test_a_transition_saves_only_from_the_state_it_was_locked_in():
    from django_fsm import ConcurrentTransition

    from milestones.models import save_changed

    milestone = milestone_in(S.IN_REVIEW)
    with transaction.atomic():
        locked = lock_milestone(milestone.pk)
        locked.approve(at=locked.submitted_at)
        # The row moved on behind the object's back (nothing can, under the lock: this is the belt).
        Milestone.objects.filter(pk=milestone.pk).update(state=S.DISPUTED)
        # The ORM's save marks the transaction broken when it raises: a savepoint keeps the test's.
        with pytest.raises(ConcurrentTransition), transaction.atomic():
            save_changed(locked)
        assert Milestone.objects.get(pk=milestone.pk).state == S.DISPUTED
    with transaction.atomic():
        locked = lock_milestone(milestone.pk)
        assert locked.state == S.DISPUTED
