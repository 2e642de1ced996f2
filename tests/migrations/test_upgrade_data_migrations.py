"""The data migrations that keep users of an upgraded database working, on both backends (the
upgrade itself, from the first layout's seeded database: ``test_layout_upgrade.py``):

* accounts 0007: every user who signed up before allauth gets a primary ``EmailAddress`` in one
  ``INSERT ... SELECT``, confirmed unless ``UPGRADE_EMAILS_VERIFIED`` is false, so they pay from
  their balance as before (or, with it false, are asked to confirm first and nothing is created);
  one address shared by two accounts is confirmed for the earliest only, and a second run
  changes nothing;
* sandbox 0005: the operations dated before sandbox 0001 was applied (the provider's history it
  copied from the first layout) are marked as imported, and the sandbox's own later ones are not
  (on PostgreSQL).

Each function is called as ``migrate`` calls it, with the app registry and the connection.
"""

from __future__ import annotations

import importlib
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings
from django.utils import timezone
from djmoney.money import Money

from marketplace.errors import NotAllowed
from milestones.models import Milestone, MilestoneState
from milestones.services.creation import milestone_create
from payments.services import FundingSource
from sandbox.models import SandboxOperation
from tests.backends import BOTH
from tests.factories import OrderFactory, UserFactory
from tests.services.test_changes import give_balance

pytestmark = pytest.mark.django_db(databases=BOTH)

email_addresses = importlib.import_module("accounts.migrations.0007_email_addresses_for_earlier_users")
operations_imported = importlib.import_module("sandbox.migrations.0005_operations_imported_history")


def migrate(function) -> None:
    function(apps, SimpleNamespace(connection=connection))


def addresses() -> set[tuple[str, str, bool, bool]]:
    return {
        (a.user.username, a.email, a.primary, a.verified) for a in EmailAddress.objects.select_related("user").all()
    }


def pay_from_balance(buyer) -> Milestone:
    return milestone_create(
        order=OrderFactory(buyer=buyer),
        actor=buyer,
        title="After the upgrade",
        description="Paid from the balance.",
        deadline=timezone.now() + timedelta(days=7),
        amount=Money("100.00", "USD"),
        source=FundingSource(method="balance"),
        idempotency_key=uuid.uuid4().hex,
    )


def test_users_from_before_allauth_get_a_confirmed_primary_address_and_pay_as_before(backend, audit):
    assert connection.vendor == backend
    # As the first layout left them: no EmailAddress row at all.
    old = UserFactory(username="old_buyer", email="Old.Buyer@Example.com", verified=False)
    UserFactory(username="no_email", email="", verified=False)
    UserFactory(username="first", email="shared@example.com", verified=False)
    UserFactory(username="second", email="SHARED@example.com", verified=False)
    # Signed up under allauth: their rows are theirs, confirmed or not.
    UserFactory(username="confirmed")
    pending = UserFactory(username="pending", verified=False)
    EmailAddress.objects.create(user=pending, email=pending.email, primary=True, verified=False)

    migrate(email_addresses.email_addresses_for_earlier_users)

    assert addresses() == {
        ("old_buyer", "old.buyer@example.com", True, True),
        # One confirmed owner per address (allauth's rule): the earliest account.
        ("first", "shared@example.com", True, True),
        ("second", "shared@example.com", True, False),
        ("confirmed", "confirmed@example.com", True, True),
        ("pending", "pending@example.com", True, False),
    }
    migrate(email_addresses.email_addresses_for_earlier_users)
    assert EmailAddress.objects.count() == 5

    give_balance(old, "300.00")
    milestone = pay_from_balance(old)
    assert milestone.state == MilestoneState.AWAITING_ACCEPTANCE
    audit()


@override_settings(UPGRADE_EMAILS_VERIFIED=False)
def test_with_upgrade_emails_verified_false_they_confirm_before_paying_and_nothing_is_created(backend):
    old = UserFactory(username="old_buyer", email="old.buyer@example.com", verified=False)

    migrate(email_addresses.email_addresses_for_earlier_users)

    assert addresses() == {("old_buyer", "old.buyer@example.com", True, False)}
    with pytest.raises(NotAllowed, match="Confirm your e-mail address before you pay"):
        pay_from_balance(old)
    assert not Milestone.objects.exists()


def test_the_operations_copied_before_sandbox_0001_was_applied_are_marked_imported():
    """On PostgreSQL: the SQLite test database is built without migration records (its ``UPDATE``
    is the ORM's, the same on both)."""
    applied = MigrationRecorder(connection).migration_qs.get(app="sandbox", name="0001_initial").applied

    def operation(key: str):
        return SandboxOperation.objects.create(
            idempotency_key=key, kind="charge", amount=Money("10.00", "USD"), succeeded=True, reference=f"pi_{key}"
        )

    copied, later = operation("copied"), operation("later")
    SandboxOperation.objects.filter(pk=copied.pk).update(created_at=applied - timedelta(days=30))
    assert not SandboxOperation.objects.filter(imported=True).exists()

    migrate(operations_imported.mark_imported)

    assert set(SandboxOperation.objects.filter(imported=True).values_list("pk", flat=True)) == {copied.pk}
    later.refresh_from_db()
    assert not later.imported
