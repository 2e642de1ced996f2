"""Issue 34, 18: staff and the parties write to each other inside a dispute: one thread, on the
dispute's admin page and on the order page, with notices to the others in the conversation."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from marketplace.errors import InvalidTransition, NotAllowed
from milestones.models import DisputeStatement
from milestones.services.disputes import dispute_add_statement, dispute_resolve
from notifications.models import Notification
from tests.admin.conftest import change_url
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def message_url(dispute) -> str:
    return reverse("admin:milestones_dispute_message", args=[dispute.pk])


def notices(user, event: str) -> list[str]:
    return list(Notification.objects.filter(recipient=user, event=event).values_list("message", flat=True))


def test_staff_write_in_the_dispute_from_its_admin_page_and_both_parties_are_told(staff_client, staff, disputed):
    order = disputed.milestone.order
    page = staff_client.get(change_url(disputed)).content.decode()
    token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)
    form = {"body": "Seller: please upload the source files.", "token": token}

    assert staff_client.post(message_url(disputed), form).status_code == 302
    staff_client.post(message_url(disputed), form)  # the same form again: one message

    assert DisputeStatement.objects.filter(dispute=disputed, author=staff).count() == 1
    for party in (order.buyer, order.seller):
        assert any("please upload the source files" in n for n in notices(party, "dispute_staff_message"))
    page = staff_client.get(change_url(disputed)).content.decode()
    assert "please upload the source files" in page and "(staff)" in page


def test_the_parties_read_and_answer_the_thread_on_the_order_page_and_staff_who_wrote_are_told(client, staff, disputed):
    order = disputed.milestone.order
    dispute_add_statement(dispute=disputed, actor=staff, body="Buyer: which screens are missing?")
    client.force_login(order.buyer)
    html = client.get(order.get_absolute_url()).content.decode()
    assert "which screens are missing?" in html and "Staff" in html

    dispute_add_statement(dispute=disputed, actor=order.buyer, body="Screens 4 and 5.")
    assert notices(staff, "dispute_statement")  # staff in the thread hear the answer
    assert notices(order.seller, "dispute_statement")
    other_staff = StaffFactory()
    assert not notices(other_staff, "dispute_statement")


def test_outsiders_and_staff_on_their_own_order_cannot_write_in_the_dispute(disputed, staff):
    order = disputed.milestone.order
    for actor in (UserFactory(), StaffFactory(is_superuser=False)):
        with pytest.raises(NotAllowed):
            dispute_add_statement(dispute=disputed, actor=actor, body="Me too")
    dispute_resolve(dispute=disputed, actor=staff, outcome="release", note="Done.")
    with pytest.raises(InvalidTransition):
        dispute_add_statement(dispute=disputed, actor=staff, body="Late")
    assert not DisputeStatement.objects.filter(dispute=disputed).exclude(author__in=[order.buyer]).exists()


def test_an_empty_staff_message_sends_nothing(staff_client, disputed):
    response = staff_client.post(message_url(disputed), {"body": "  ", "token": "abc"}, follow=True)
    assert "Write your message" in response.content.decode()
    assert not DisputeStatement.objects.filter(dispute=disputed).exists()
