"""Staff read other people's orders and files by permission, not by the staff
flag alone: the "Support" group (made by a migration) may; every private
file they open is recorded and shown in the admin (issue 15)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from milestones.models import DeliveryFile, Milestone, MilestoneState
from milestones.services.lifecycle import milestone_submit
from orders.models import StaffFileRead
from tests.factories import OrderFactory, StaffFactory, milestone_in, staff_login

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def delivered():
    order = OrderFactory()
    milestone = milestone_in(MilestoneState.IN_PROGRESS, order)
    milestone_submit(
        milestone=milestone, actor=order.seller, message="Done.", links=[], files=[SimpleUploadedFile("logo.pdf", PDF)]
    )
    return Milestone.objects.get(pk=milestone.pk), DeliveryFile.objects.get()


def test_the_staff_flag_alone_reads_no_one_elses_order_or_file(delivered):
    milestone, item = delivered
    clerk = StaffFactory(username="clerk", is_superuser=False)  # staff, two-factor, no permission
    client = Client()
    staff_login(client, clerk)
    assert client.get(milestone.order.get_absolute_url()).status_code == 404
    assert client.get(reverse("deliverable_download", args=[item.pk])).status_code == 404
    assert client.get(reverse("order_live", args=[milestone.order.pk])).status_code == 404
    assert not StaffFileRead.objects.exists()


def test_support_reads_them_and_every_file_read_is_recorded_and_shown_in_the_admin(delivered):
    milestone, item = delivered
    agent = StaffFactory(username="agent", is_superuser=False)
    agent.groups.add(Group.objects.get(name="Support"))
    client = Client()
    staff_login(client, agent)
    assert client.get(milestone.order.get_absolute_url()).status_code == 200
    assert client.get(reverse("deliverable_download", args=[item.pk])).status_code == 200
    page, read = StaffFileRead.objects.order_by("pk")
    assert (page.reader, page.order, page.kind, page.file_name) == (
        agent,
        milestone.order,
        "order page",
        milestone.order.title,
    )
    assert (read.reader, read.order, read.kind, read.file_name) == (agent, milestone.order, "deliverable", "logo.pdf")

    # The parties' own pages and downloads are not "reads by staff".
    party = Client()
    party.force_login(milestone.order.buyer)
    assert party.get(milestone.order.get_absolute_url()).status_code == 200
    assert party.get(reverse("deliverable_download", args=[item.pk])).status_code == 200
    assert StaffFileRead.objects.count() == 2

    admin = Client()
    staff_login(admin, StaffFactory(username="boss"))
    listing = admin.get("/admin/orders/stafffileread/").content.decode()
    assert "logo.pdf" in listing and "agent" in listing
