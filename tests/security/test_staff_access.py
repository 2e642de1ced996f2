"""Staff read other people's orders and files by permission, not by the staff
flag alone: the "Support" group (made by a migration) may; every private
file they open is recorded and shown in the admin (issue 15)."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import User
from milestones.models import DeliveryFile, Milestone, MilestoneState
from milestones.services.lifecycle import milestone_submit
from orders.models import StaffFileRead
from orders.selectors import REFUSED
from tests.factories import OrderFactory, StaffFactory, UserFactory, milestone_in, staff_login, totp_code

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
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


def _agent(**kwargs) -> User:
    agent: User = StaffFactory(username=kwargs.pop("username", "agent"), is_superuser=False, **kwargs)
    agent.groups.add(Group.objects.get(name="Support"))
    return agent


@pytest.mark.parametrize("enrolled", [True, False], ids=["enrolled", "not-enrolled"])
def test_support_with_a_password_alone_is_refused_told_how_and_the_attempt_is_logged(delivered, enrolled):
    """Issue 33: a support agent logged in with the password only read /orders/1/ and the files."""
    milestone, item = delivered
    agent = _agent(totp=enrolled)
    client = Client()
    staff_login(client, agent, second_factor=False)
    page = client.get(milestone.order.get_absolute_url())
    assert page.status_code == 403
    body = page.content.decode()
    assert "Two-factor authentication needed" in body and milestone.order.title not in body
    if enrolled:
        assert "Enter a code" in body and reverse("mfa_reauthenticate") in body
    else:
        assert "Set up two-factor authentication" in body and reverse("mfa_activate_totp") in body
    assert client.get(reverse("deliverable_download", args=[item.pk])).status_code == 403
    assert client.get(reverse("order_live", args=[milestone.order.pk])).status_code in (403, 404)
    refused = list(StaffFileRead.objects.values_list("reader", "kind", "file_name"))
    assert refused == [(agent.pk, REFUSED, f"order {milestone.order.pk}")] * 2
    # An outsider who is not support staff still learns nothing: 404.
    outsider = Client()
    outsider.force_login(StaffFactory(username="clerk", is_superuser=False))
    assert outsider.get(milestone.order.get_absolute_url()).status_code == 404


def test_enrolling_with_a_valid_code_passes_the_second_factor_for_the_session(delivered):
    milestone, _ = delivered
    agent = _agent(totp=False)
    client = Client()
    staff_login(client, agent, second_factor=False)
    assert client.get(milestone.order.get_absolute_url()).status_code == 403
    # Setting it up asks for the password again first (as every sensitive change does).
    asked = client.get(reverse("mfa_activate_totp"))
    assert asked.status_code == 302 and reverse("account_reauthenticate") in asked["Location"]
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert client.get(milestone.order.get_absolute_url()).status_code == 403, (
        "the password again is not a second factor"
    )
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session["mfa.totp.secret"]
    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200
    assert client.get(milestone.order.get_absolute_url()).status_code == 403, "a wrong code passes nothing"
    client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert Authenticator.objects.filter(user=agent, type=Authenticator.Type.TOTP).exists()
    assert client.get(milestone.order.get_absolute_url()).status_code == 200
    assert StaffFileRead.objects.filter(reader=agent, kind="order page").count() == 1


def test_a_staff_session_ends_after_staff_session_age_a_members_does_not(settings):
    settings.STAFF_SESSION_AGE = 3600
    _agent(username="stella")
    client = Client()
    step = client.post(reverse("login"), {"login": "stella", "password": PASSWORD})
    assert step["Location"] == reverse("mfa_authenticate")
    client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert client.session.get_expiry_age() == 3600
    UserFactory(username="member")
    member = Client()
    member.post(reverse("login"), {"login": "member", "password": PASSWORD})
    assert member.session.get_expiry_age() > 24 * 3600
