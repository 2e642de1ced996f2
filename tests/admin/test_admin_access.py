"""Only staff reach the admin: everyone else is sent to the admin login and
nothing changes, whatever they GET or POST."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from milestones.models import DisputeState, Milestone
from milestones.models import MilestoneState as S
from payments.models import Entry, Transaction
from tests.admin.conftest import change_url, resolve_url
from tests.factories import StaffFactory, staff_login

pytestmark = pytest.mark.django_db


def admin_urls(dispute) -> list[str]:
    entry = Entry.objects.filter(transaction__milestone=dispute.milestone).first()
    assert entry is not None
    return [
        reverse("admin:index"),
        reverse("admin:milestones_dispute_changelist"),
        change_url(dispute),
        reverse("admin:milestones_milestone_change", args=[dispute.milestone_id]),
        reverse("admin:orders_order_change", args=[dispute.milestone.order_id]),
        reverse("admin:payments_entry_change", args=[entry.pk]),
        reverse("admin:payments_transaction_changelist"),
        reverse("admin:accounts_user_changelist"),
        *(resolve_url(dispute, outcome) for outcome in ("release", "refund", "split")),
    ]


def assert_nothing_changed(dispute):
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.OPEN
    assert Milestone.objects.get(pk=dispute.milestone_id).state == S.DISPUTED
    assert not Transaction.objects.filter(idempotency_key=f"settle:{dispute.milestone_id}").exists()
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("who", ["anonymous", "buyer", "seller", "outsider"])
def test_only_staff_reach_the_admin(who, disputed, order, outsider):
    client = Client()
    user = {"anonymous": None, "buyer": order.buyer, "seller": order.seller, "outsider": outsider}[who]
    if user is not None:
        client.force_login(user)
    login = reverse("admin:login")
    for url in admin_urls(disputed):
        for method in ("get", "post"):
            data = {"confirm": "1", "note": "mine", "seller_amount": "99.00"} if method == "post" else None
            response = getattr(client, method)(url, data)
            assert response.status_code == 302, (method, url)
            assert response.url.startswith(f"{login}?next="), (method, url, response.url)
    assert_nothing_changed(disputed)


def test_staff_without_the_dispute_permission_cannot_resolve(disputed):
    clerk = StaffFactory(username="clerk", is_superuser=False)  # enrolled in two-factor, no permission
    client = Client()
    staff_login(client, clerk)
    response = client.post(resolve_url(disputed, "refund"), {"confirm": "1", "note": "mine"})
    assert response.status_code == 403
    assert_nothing_changed(disputed)


def test_the_buttons_need_the_csrf_token(disputed, staff):
    client = Client(enforce_csrf_checks=True)
    staff_login(client, staff)
    response = client.post(resolve_url(disputed, "refund"), {"confirm": "1", "note": "forged"})
    assert response.status_code == 403
    assert_nothing_changed(disputed)
