"""A small world for the security tests: one order in every interesting shape,
built through the services so that every URL of the project has a real id to
point at, and a snapshot of everything a request could change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from importlib import import_module

import pytest
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings

from accounts.models import User
from gigs.models import Gig
from milestones.models import Delivery, DeliveryFile, Dispute, DisputeStatement, Milestone, RevisionRequest
from milestones.services.disputes import milestone_open_dispute
from milestones.services.lifecycle import milestone_accept, milestone_submit
from notifications.models import Notification
from orders.models import Activity, Order, OrderMessage
from payments.audit import ledger_audit
from payments.models import Account, Earning, Entry, Transaction, Withdrawal
from sandbox.models import SandboxOperation
from tests.factories import OrderFactory, StaffFactory, UserFactory, create_milestone

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf(name: str = "work.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@dataclass
class World:
    buyer: User
    seller: User
    outsider: User
    staff: User
    order: Order  # in_review milestone (with a file) + an awaiting one
    in_review: Milestone
    awaiting: Milestone
    dispute_order: Order
    disputed: Milestone
    dispute: Dispute
    statement: DisputeStatement
    delivery_file: DeliveryFile
    gig: Gig

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)

    def client(self, role: str, **kwargs) -> Client:
        client = Client(**kwargs)
        user = self.user(role)
        if user is not None:
            signed_in(client, user)
        return client

    def fresh(self) -> World:
        """The same rows read again, as new objects: what one test changes in its copies stays there."""
        return World(
            **{
                field.name: type(value)._default_manager.get(pk=value.pk)
                for field in fields(self)
                for value in [getattr(self, field.name)]
            }
        )


def signed_in(client: Client, user: User) -> Client:
    """What ``client.force_login(user)`` leaves behind, a session naming the user, made directly.

    force_login goes through ``login()``: a session made, flushed and made again for the new key,
    and the login signal's bookkeeping (``last_login``), some fifteen queries; the matrix signs
    in a thousand times. The session is the same; ``snapshot()`` never looked at the bookkeeping.
    """
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if user.is_staff:
        # Staff log in with the code from their authenticator app (accounts.two_factor).
        session[AUTHENTICATION_METHODS_SESSION_KEY] = [{"method": "mfa", "at": 0, "type": "totp"}]
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return client


@pytest.fixture(scope="module")
def _world_rows(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """The world, built once per module inside a transaction rolled back at the module's end.

    As Django's ``setUpTestData`` does: each test's own transaction (pytest-django's ``db``) is
    a savepoint inside this one, so whatever a test writes is rolled back before the next test,
    which finds the world as it was built. Files the world stores go to a folder of the module.
    """
    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
        with django_db_blocker.unblock():
            outer = transaction.atomic()
            # Like a TestCase's own atomic blocks: a durable block inside a test stays allowed.
            outer._from_testcase = True  # type: ignore[attr-defined]
            outer.__enter__()
            try:
                world = _build_world()
                report = ledger_audit()
                assert report.ok, report.summary()
            except BaseException:
                transaction.set_rollback(True)
                outer.__exit__(None, None, None)
                raise
        try:
            yield world
        finally:
            with django_db_blocker.unblock():
                transaction.set_rollback(True)
                outer.__exit__(None, None, None)


@pytest.fixture
def world(_world_rows: World, db) -> World:
    """The world of the module, read afresh for this test (which may change it: see ``_world_rows``)."""
    return _world_rows.fresh()


@pytest.fixture
def buyer(world):
    return world.buyer


@pytest.fixture
def seller(world):
    return world.seller


@pytest.fixture
def outsider(world):
    return world.outsider


@pytest.fixture
def staff(world):
    return world.staff


def _build_world() -> World:
    buyer = UserFactory(username="alice_buyer")
    seller = UserFactory(username="bob_seller")
    outsider = UserFactory(username="eve_outsider")
    staff = StaffFactory(username="sam_staff")
    order = OrderFactory(buyer=buyer, seller=seller)
    in_review = create_milestone(order, title="Wireframes")
    milestone_accept(milestone=in_review, actor=seller)
    delivery = milestone_submit(milestone=in_review, actor=seller, message="Here it is.", files=[pdf()])
    awaiting = create_milestone(order, title="Screens")

    dispute_order = OrderFactory(buyer=buyer, seller=seller, gig=order.gig)
    disputed = create_milestone(dispute_order, title="Backend")
    milestone_accept(milestone=disputed, actor=seller)
    dispute = milestone_open_dispute(
        milestone=disputed, actor=buyer, reason="Nothing delivered.", attachment=pdf("proof.pdf")
    )
    statement = DisputeStatement.objects.get(dispute=dispute)
    return World(
        buyer=buyer,
        seller=seller,
        outsider=outsider,
        staff=staff,
        order=order,
        in_review=Milestone.objects.get(pk=in_review.pk),
        awaiting=awaiting,
        dispute_order=dispute_order,
        disputed=Milestone.objects.get(pk=disputed.pk),
        dispute=dispute,
        statement=statement,
        delivery_file=DeliveryFile.objects.get(delivery=delivery),
        gig=order.gig,
    )


COUNTED = [
    User,
    Gig,
    Notification,
    Order,
    OrderMessage,
    Activity,
    Milestone,
    Delivery,
    DeliveryFile,
    RevisionRequest,
    Dispute,
    DisputeStatement,
    Account,
    Transaction,
    Entry,
    Earning,
    Withdrawal,
    SandboxOperation,
]


# What ``snapshot()`` lists besides the counts: (key, model, the columns of each row).
_LISTED = (
    ("milestones", Milestone, ("id", "state", "amount", "title", "description")),
    ("orders", Order, ("id", "status", "title", "completed_at")),
    ("balances", Account, ("id", "balance")),
    ("users", User, ("id", "username", "email", "password", "payout_account", "bio", "is_staff")),
    ("gigs", Gig, ("id", "title", "is_active")),
    ("disputes", Dispute, ("id", "state")),
)


def _snapshot_sql() -> str:
    """``snapshot()`` as one statement (one round trip, not eight), on PostgreSQL: every counted
    table's rows, the ledger's sum, the unread notices, then each listed table's rows as their text
    (``ROW(...)::text``: every value as PostgreSQL prints it, exact), in order of id."""
    from django.db import connection

    q = connection.ops.quote_name
    # Table and column names only, from the models' _meta, each quoted: no value is ever put into the text.
    parts = [f"(SELECT COUNT(*) FROM {q(m._meta.db_table)})" for m in COUNTED]  # noqa: S608
    parts.append(f"(SELECT COALESCE(SUM(amount), 0) FROM {q(Entry._meta.db_table)})")  # noqa: S608
    parts.append(f"(SELECT COUNT(*) FROM {q(Notification._meta.db_table)} WHERE read_at IS NULL)")  # noqa: S608
    for _, model, columns in _LISTED:
        row = ", ".join(q(model._meta.get_field(c).column) for c in columns)
        parts.append(f"ARRAY(SELECT ROW({row})::text FROM {q(model._meta.db_table)} ORDER BY id)")  # noqa: S608
    return "SELECT " + ", ".join(parts)


def snapshot() -> dict:
    """Everything a request could change, except sessions and login bookkeeping: every counted
    table's rows and the ledger's sum, the unread notices, and the listed columns of every row."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_snapshot_sql())
        values = cursor.fetchone()
    c = len(COUNTED)
    counts, (entry_sum, unread), listed = values[:c], values[c : c + 2], values[c + 2 :]
    return {
        "counts": {**{m.__name__: n for m, n in zip(COUNTED, counts, strict=True)}, "entry_sum": Decimal(entry_sum)},
        "unread": unread,
        **{key: list(rows) for (key, _, _), rows in zip(_LISTED, listed, strict=True)},
    }


@pytest.fixture
def unchanged():
    """``with unchanged(): ...`` fails if the block changed anything at all: a row added or
    removed, a state, a balance, the ledger's sum. (The ledger audit runs once, on the module's world
    as built: with every ledger row, sum and balance unchanged it could only repeat itself.)"""
    from contextlib import contextmanager

    @contextmanager
    def check():
        before = snapshot()
        yield
        after = snapshot()
        for key in before:
            assert after[key] == before[key], f"{key} changed"

    return check
