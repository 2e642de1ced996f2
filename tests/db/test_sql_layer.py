"""The SQL written for speed (``marketplace.rows``, ``marketplace.bulk`` and the
functions built on them: ``lock_milestone``, ``lock_open_milestones``,
``save_changed``, ``accounts_for``, the ledger's inserts, the notices' batch)
does what the ORM does, on PostgreSQL and on SQLite alike: every test here runs
on both (``tests.backends``). The row locks themselves, which SQLite does not
have, are tested on PostgreSQL in ``test_hot_reads.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext, isolate_apps
from django.utils import timezone
from django_fsm import ConcurrentTransition
from djmoney.money import Money

from marketplace import bulk
from marketplace.bulk import add_to_each, insert_unnest
from marketplace.checks import hand_written_models_have_no_save_hooks
from marketplace.errors import DuplicateRequest
from marketplace.rows import Columns, for_update
from milestones.models import OPEN_STATES, Milestone, lock_milestone, lock_open_milestones, save_changed
from milestones.models import MilestoneState as S
from notifications.models import Notification
from notifications.services import Notice, notifications_send
from orders.models import Order
from payments.ledger import Posting, Want, account_for, accounts_for, ledger_post_many
from payments.models import Account, AccountKind, Entry, Transaction, TransactionKind
from tests.backends import BOTH
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db(databases=BOTH)


def _fields(instance: models.Model) -> dict[str, object]:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def _stored(model: type[models.Model], pks, *, leave_out=("id",)) -> list[dict]:
    rows = model.objects.filter(pk__in=pks).order_by("pk").values()
    return [{k: v for k, v in row.items() if k not in leave_out} for row in rows]


# --- rows.py: reading instances --------------------------------------------------------------------------------


def test_the_backend_is_the_one_named(backend):
    assert connection.vendor == backend
    assert for_update() == (" FOR UPDATE" if backend == "postgresql" else "")


def test_columns_build_the_instance_the_orm_builds(backend):
    """Dates, decimals, money, booleans and a nullable key come back as the ORM's converters leave them."""
    user = UserFactory(bio="Logos & type", time_zone="Europe/Paris", is_staff=True)
    account = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=user)
    for model, pk, alias in ((type(user), user.pk, "u"), (Account, account.pk, "")):
        columns = Columns(model, alias)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM {columns.table} WHERE {columns.ref('pk')} = %s", [pk])  # noqa: S608
            built = columns.instance(cursor.fetchone())
        orm = model.objects.get(pk=pk)
        assert _fields(built) == _fields(orm)
        assert {type(v) for v in _fields(built).values()} == {type(v) for v in _fields(orm).values()}
        assert not built._state.adding and built._state.db == "default"
    assert Columns(Account, "a").ref("user") == 'a."user_id"' and Columns(Account, "").ref("pk") == '"id"'


def test_lock_milestone_reads_what_the_orm_reads(backend):
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
        save_changed(again)
    assert Milestone.objects.get(pk=milestone.pk).state == S.APPROVED


def test_lock_milestone_of_no_milestone_says_so_as_the_orm_did(backend):
    with transaction.atomic(), pytest.raises(Order.DoesNotExist):
        lock_milestone(987654321)


def test_lock_open_milestones_reads_the_open_ones_in_their_order(backend):
    order = OrderFactory()
    first = milestone_in(S.IN_PROGRESS, order=order, title="First")
    queued = milestone_in(S.ACCEPTED, order=order, title="Queued")  # behind an "Earlier phase" of its own
    milestone_in(S.CANCELLED, order=order)
    with transaction.atomic():
        locked = lock_open_milestones(Order.objects.get(pk=order.pk))
    orm = list(Milestone.objects.filter(order=order, state__in=OPEN_STATES).order_by("position"))
    assert [m.pk for m in locked] == [m.pk for m in orm] and {first.pk, queued.pk} <= {m.pk for m in locked}
    assert [_fields(m) for m in locked] == [_fields(m) for m in orm]
    assert all(m.order.pk == order.pk for m in locked)


def test_a_transition_saves_only_what_changed_and_only_from_the_state_it_was_locked_in(backend):
    milestone = milestone_in(S.IN_REVIEW)
    with transaction.atomic():
        locked = lock_milestone(milestone.pk)
        locked.approve(at=locked.submitted_at)
        with CaptureQueriesContext(connection) as saved:
            save_changed(locked)
        (update,) = saved.captured_queries
        assert update["sql"].startswith('UPDATE "milestones_milestone" SET "state" = ')
        assert '"title"' not in update["sql"] and '"state" = ' in update["sql"].split("WHERE")[1]
    with transaction.atomic():
        locked = lock_milestone(milestone.pk)
        locked.portfolio_allowed_at = timezone.now()
        # The row moved on behind the object's back (nothing can, under the lock: this is the belt).
        Milestone.objects.filter(pk=milestone.pk).update(state=S.DISPUTED)
        # The ORM's save marks the transaction broken when it raises: a savepoint keeps the test's.
        with pytest.raises(ConcurrentTransition), transaction.atomic():
            save_changed(locked)
        assert Milestone.objects.get(pk=milestone.pk).portfolio_allowed_at is None


def test_accounts_for_reads_the_wanted_accounts_and_makes_the_missing_ones(backend):
    seller = UserFactory()
    order = OrderFactory(seller=seller)
    milestone = milestone_in(S.IN_REVIEW, order=order)
    pending = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=seller)
    fees = account_for(kind=AccountKind.PLATFORM_FEES, currency="USD")
    account_for(kind=AccountKind.SELLER_PENDING, currency="EUR", user=seller)  # another currency, another account
    wants = {
        "escrow": Want(AccountKind.ESCROW, milestone=milestone),
        "pending": Want(AccountKind.SELLER_PENDING, user=seller),
        "fees": Want(AccountKind.PLATFORM_FEES),
        "balance": Want(AccountKind.BUYER_BALANCE, user=order.buyer, optional=True),
    }
    with transaction.atomic(), CaptureQueriesContext(connection) as read:
        found = accounts_for(wants, currency="USD", lock=True)
    assert len(read.captured_queries) == 1
    assert ("FOR UPDATE" in read.captured_queries[0]["sql"]) == (backend == "postgresql")
    escrow = Account.objects.get(kind=AccountKind.ESCROW, milestone=milestone)
    assert found == {"escrow": escrow, "pending": pending, "fees": fees}
    assert [_fields(found[name]) for name in found] == [_fields(Account.objects.get(pk=a.pk)) for a in found.values()]
    assert found["escrow"].balance == milestone.amount.amount and isinstance(found["escrow"].balance, Decimal)
    assert accounts_for(wants, currency="USD") == found
    # A missing account that is not optional is made.
    made = accounts_for({"available": Want(AccountKind.SELLER_AVAILABLE, user=seller)}, currency="USD", lock=True)
    assert made["available"] == Account.objects.get(kind=AccountKind.SELLER_AVAILABLE, user=seller, currency="USD")


# --- bulk.py: writing many rows -----------------------------------------------------------------------------------


def test_insert_unnest_stores_what_bulk_create_stores(backend):
    user = UserFactory()
    now = timezone.now()
    rows = [("k-a", "release", "memo a", None, user.pk, now, "mac-a"), ("k-b", "clear", "", None, None, now, "")]
    names = ["idempotency_key", "kind", "memo", "milestone_id", "actor_id", "created_at", "mac"]
    by_hand = insert_unnest(Transaction, {name: [row[i] for row in rows] for i, name in enumerate(names)})
    assert len(by_hand) == 2 and by_hand == sorted(by_hand)
    orm = Transaction.objects.bulk_create(
        Transaction(**dict(zip(names, (f"orm-{row[0]}", *row[1:]), strict=True))) for row in rows
    )
    leave_out = ("id", "idempotency_key", "xid")  # xid: stamped by a PostgreSQL trigger per transaction
    assert _stored(Transaction, by_hand, leave_out=leave_out) == _stored(
        Transaction, [t.pk for t in orm], leave_out=leave_out
    )
    assert list(
        Transaction.objects.filter(pk__in=by_hand).order_by("pk").values_list("idempotency_key", flat=True)
    ) == [
        "k-a",
        "k-b",
    ]
    # Money as two columns; no ids asked, none returned. (Each transaction balances: PostgreSQL
    # checks it when the test ends.)
    account = account_for(kind=AccountKind.PLATFORM_FEES, currency="USD")
    amounts = [Decimal("1.10"), Decimal("-1.10")] * 2
    entries = {
        "transaction_id": [by_hand[0]] * 2 + [by_hand[1]] * 2,
        "account_id": [account.pk] * 4,
        "amount_currency": ["USD"] * 4,
        "amount": amounts,
    }
    assert insert_unnest(Entry, entries, returning=False) == []
    stored = Entry.objects.filter(transaction_id__in=by_hand).order_by("pk")
    assert [e.amount for e in stored] == [Money(a, "USD") for a in amounts]


def test_insert_unnest_fills_what_the_caller_leaves_out_as_the_orm_does(backend):
    """The notices' batch names four columns: ``created_at`` (auto_now_add) is set now, the e-mail
    columns take their defaults (two of them the database's), as ``bulk_create`` leaves them."""
    user = UserFactory()
    before = timezone.now()
    ids = notifications_send([Notice(user.pk, "money_cleared", "Cleared.", "/earnings/")] * 2)
    orm = Notification.objects.bulk_create(
        Notification(recipient=user, event="money_cleared", message="Cleared.", url="/earnings/") for _ in range(2)
    )
    leave_out = ("id", "created_at")
    assert _stored(Notification, ids, leave_out=leave_out) == _stored(
        Notification, [n.pk for n in orm], leave_out=leave_out
    )
    assert all(n.created_at >= before for n in Notification.objects.filter(pk__in=ids))


def test_insert_unnest_skips_a_conflicting_row_and_returns_no_id_for_it(backend):
    def insert(*keys: str) -> list[int]:
        return insert_unnest(
            Transaction,
            {"idempotency_key": list(keys), "kind": ["release"] * len(keys), "memo": [""] * len(keys)},
            skip_conflicts_on=["idempotency_key"],
        )

    (first,) = insert("k-1")
    assert insert("k-1") == []
    (second,) = insert("k-1", "k-2")
    assert second > first and Transaction.objects.filter(idempotency_key__in=["k-1", "k-2"]).count() == 2
    # Without it, the unique index refuses the row, as it refuses the ORM's.
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_unnest(Transaction, {"idempotency_key": ["k-2"], "kind": ["release"], "memo": [""]})


def test_insert_unnest_refuses_what_it_cannot_write(backend):
    with pytest.raises(ValueError, match="different lengths"):
        insert_unnest(Transaction, {"idempotency_key": ["a"], "kind": ["a", "b"]})
    with pytest.raises(TypeError, match="written_by_hand"):
        insert_unnest(Order, {"title": ["a"]})
    with pytest.raises(TypeError, match="written_by_hand"):
        add_to_each(Order, "title", {1: "x"})
    assert insert_unnest(Transaction, {"idempotency_key": []}) == []
    with pytest.raises(ValueError, match="no column colour"):
        insert_unnest(Transaction, {"idempotency_key": ["a"], "colour": ["red"]})


def test_add_to_each_moves_each_row_by_its_delta(backend):
    a = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=UserFactory())
    b = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=UserFactory())
    c = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=UserFactory())
    add_to_each(Account, "balance", {a.pk: Decimal("10.25"), b.pk: Decimal("1.25"), c.pk: Decimal("0")})
    add_to_each(Account, "balance", {a.pk: Decimal("0.75"), b.pk: Decimal("-0.50")})
    add_to_each(Account, "balance", {})
    balances = {x.pk: x.balance for x in Account.objects.filter(pk__in=[a.pk, b.pk, c.pk])}
    assert balances == {a.pk: Decimal("11.00"), b.pk: Decimal("0.75"), c.pk: Decimal("0.00")}


def _tip(key: str, fees: Account, pending: Account, amount: str) -> Posting:
    lines = [(fees, Money(f"-{amount}", "USD")), (pending, Money(amount, "USD"))]
    return Posting(key=key, kind=TransactionKind.TIP, lines=lines)


def test_the_ledger_posts_through_the_layer_and_refuses_a_key_twice(backend):
    """One posting (ON CONFLICT on PostgreSQL, a savepoint on SQLite) and several (one INSERT per
    table): the same rows, and "already processed" for a key posted before, on both."""
    seller = UserFactory()
    fees = account_for(kind=AccountKind.PLATFORM_FEES, currency="USD")
    pending = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=seller)
    (one,) = ledger_post_many([_tip("one", fees, pending, "5.00")])
    many = ledger_post_many([_tip(f"many-{i}", fees, pending, "1.00") for i in range(3)])
    assert one.pk and [t.pk for t in many] == sorted(t.pk for t in many) and not many[0]._state.adding
    assert Entry.objects.filter(transaction__in=[one, *many]).count() == 8
    assert Account.objects.get(pk=pending.pk).balance == Decimal("8.00")
    assert Transaction.objects.get(pk=one.pk).mac == one.mac != ""
    with pytest.raises(DuplicateRequest):
        ledger_post_many([_tip("one", fees, pending, "5.00")])
    with pytest.raises(DuplicateRequest):
        ledger_post_many([_tip("new", fees, pending, "1.00"), _tip("many-1", fees, pending, "1.00")])
    assert Account.objects.get(pk=pending.pk).balance == Decimal("8.00")
    assert not Transaction.objects.filter(idempotency_key="new").exists()


# --- a new NOT NULL column: the layer and the ORM fail or pass together -----------------------------------------

NEW_FIELDS: dict[str, tuple[Callable[[], models.Field], object]] = {
    "a default": (lambda: models.IntegerField(default=3), 3),
    "a callable default": (lambda: models.UUIDField(default=uuid.uuid4, unique=True), uuid.UUID),
    "a database default": (lambda: models.IntegerField(db_default=5), 5),
    "auto_now_add": (lambda: models.DateTimeField(auto_now_add=True), datetime),
    "no default (text: the ORM writes '')": (lambda: models.CharField(max_length=20), ""),
    "no default (a number: refused)": (lambda: models.IntegerField(), IntegrityError),
}


@pytest.mark.parametrize("new_field", NEW_FIELDS)
def test_a_new_not_null_column_fails_or_passes_the_layer_and_the_orm_together(backend, new_field, monkeypatch):
    """A caller written before the column existed names only the old ones. Whatever the new column
    is, ``insert_unnest`` does what ``bulk_create`` and ``save()`` do: the same value, or the same
    refusal, on PostgreSQL as on SQLite (the hand-typed column lists it replaces broke PostgreSQL only)."""
    make, expected = NEW_FIELDS[new_field]
    with isolate_apps("marketplace"):

        class Thing(models.Model):  # noqa: DJ008
            name = models.CharField(max_length=20)
            added = make()

            class Meta:
                app_label = "marketplace"
                db_table = f"test_thing_{uuid.uuid4().hex[:8]}"

    monkeypatch.setattr(bulk, "_HAND_WRITTEN", {*bulk.hand_written_models(), Thing})
    # The table as a migration would make it (``schema_editor().table_sql``, executed in the test's transaction).
    editor = connection.schema_editor()
    editor.deferred_sql = []
    sql, params = editor.table_sql(Thing)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for statement in editor.deferred_sql:
            cursor.execute(str(statement))

    def outcome(write) -> object:
        try:
            with transaction.atomic():
                pks = write()
        except IntegrityError:
            return IntegrityError
        values = [Thing.objects.get(pk=pk).added for pk in pks]
        assert len(values) == 2
        if isinstance(expected, type):
            assert all(isinstance(v, expected) for v in values)
            return expected
        assert values[0] == values[1]
        return values[0]

    by_hand = outcome(lambda: insert_unnest(Thing, {"name": ["a", "b"]}))
    by_bulk_create = outcome(lambda: [t.pk for t in Thing.objects.bulk_create([Thing(name="a"), Thing(name="b")])])
    by_save = outcome(lambda: [Thing.objects.create(name=n).pk for n in "ab"])
    assert by_hand == by_bulk_create == by_save == expected


# --- the system check: nothing that the hand-written SQL would skip ----------------------------------------------


def test_the_check_names_a_hand_written_model_that_gets_a_save_receiver(backend):
    assert Entry in bulk.hand_written_models() and hand_written_models_have_no_save_hooks() == []

    def planted(sender, **kwargs):  # what a successor might add, not knowing the ledger skips it
        pass

    for signal in (pre_save, post_save):
        signal.connect(planted, sender=Entry)
        try:
            (error,) = hand_written_models_have_no_save_hooks()
        finally:
            signal.disconnect(planted, sender=Entry)
        assert error.id == "marketplace.E001" and error.obj is Entry
        assert error.msg.startswith("payments.Entry is written with hand-written SQL")
        assert f"a {'pre' if signal is pre_save else 'post'}_save receiver" in error.msg
    assert hand_written_models_have_no_save_hooks() == []


def test_the_check_names_a_hand_written_model_that_overrides_save(backend, monkeypatch):
    with isolate_apps("marketplace"):

        class Stamped(models.Model):  # noqa: DJ008
            class Meta:
                app_label = "marketplace"

            def save(self, *args, **kwargs):
                super().save(*args, **kwargs)

    monkeypatch.setattr(bulk, "_HAND_WRITTEN", {*bulk.hand_written_models(), Stamped})
    (error,) = hand_written_models_have_no_save_hooks()
    assert error.id == "marketplace.E001" and error.obj is Stamped
    assert "marketplace.Stamped is written with hand-written SQL" in error.msg
    assert "save() overridden in tests.db.test_sql_layer." in error.msg
