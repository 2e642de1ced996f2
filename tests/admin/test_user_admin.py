"""Issue 34, 19c: the user's page in the admin shows their balances, orders and disputes; accounts
are closed through the deletion service with its blockers, not "Delete selected users"; and no two
admin sections share a title."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import SecurityEvent, SecurityEventKind, User
from milestones.models import MilestoneState as S
from tests.factories import UserFactory, milestone_in

pytestmark = pytest.mark.django_db


def test_the_user_page_shows_their_balances_orders_and_disputes(staff_client, order):
    milestone_in(S.APPROVED, order=order, amount="100.00", title="Logo")
    milestone_in(S.DISPUTED, order=order, amount="250.00", title="Website")
    html = staff_client.get(reverse("admin:accounts_user_change", args=[order.seller.pk])).content.decode()
    assert "Seller: pending clearance" in html
    assert "\xa0USD" in html and "US$" not in html
    assert f"#{order.pk} {order.title}" in html
    assert "Website" in html and "Open" in html
    assert "still clearing" in html  # the blocker, before anyone tries to close the account


def test_delete_selected_users_is_replaced_by_the_account_deletion_flow(staff_client, staff, order):
    milestone_in(S.IN_PROGRESS, order=order)
    idle = UserFactory(username="idle_ida")
    changelist = reverse("admin:accounts_user_changelist")
    actions = dict(staff_client.get(changelist).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert "close_accounts" in actions
    assert staff_client.get(reverse("admin:accounts_user_delete", args=[idle.pk])).status_code == 403

    response = staff_client.post(
        changelist, {"action": "close_accounts", "_selected_action": [idle.pk, order.buyer.pk]}, follow=True
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert "idle_ida: account closed" in text
    assert f"{order.buyer.username}: not closed" in text and "not finished" in text
    idle.refresh_from_db()
    assert (idle.username, idle.is_active) == (f"deleted-{idle.pk}", False)
    event = SecurityEvent.objects.get(user=idle, kind=SecurityEventKind.ACCOUNT_DELETED)
    assert staff.username in event.detail
    assert User.objects.get(pk=order.buyer.pk).is_active


def test_no_two_admin_sections_share_a_title(staff_client):
    apps = staff_client.get(reverse("admin:index")).context["app_list"]
    names = [str(app["name"]).lower() for app in apps]
    assert len(names) == len(set(names)), names
