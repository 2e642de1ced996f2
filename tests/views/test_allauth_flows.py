"""Accounts on django-allauth: a confirmed e-mail before money moves (and
only then), password reset and e-mail change by link, and two-factor for
staff before the admin opens."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User
from marketplace.errors import NotAllowed
from milestones.models import Milestone
from milestones.services.creation import milestone_create
from payments.services import FundingSource, withdrawal_request
from tests.factories import OrderFactory, StaffFactory, UserFactory, staff_login, totp_code
from tests.mail import deliver_queued_mail

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def text(response) -> str:
    return response.content.decode()


def link_in(message) -> str:
    found = re.search(r"https?://[^/\s]+(/\S+)", message.body)
    assert found, message.body
    return found.group(1)


# --- a confirmed e-mail before paying or withdrawing ------------------------------------------


def test_an_unconfirmed_buyer_is_refused_funding_and_nothing_is_created(audit):
    order = OrderFactory(buyer=UserFactory(username="fresh", verified=False))
    with pytest.raises(NotAllowed, match="Confirm your e-mail address before you pay") as refused:
        milestone_create(
            order=order,
            actor=order.buyer,
            title="Design",
            description="Wireframes.",
            deadline=timezone.now() + timedelta(days=7),
            amount=Money("100.00", "USD"),
            source=FundingSource(method="checkout"),
            idempotency_key=uuid.uuid4().hex,
        )
    assert "fresh@example.com" in refused.value.message
    assert not Milestone.objects.exists()
    audit()


def test_an_unconfirmed_seller_is_refused_a_withdrawal():
    seller = UserFactory(username="newseller", verified=False)
    with pytest.raises(NotAllowed, match="before you withdraw"):
        withdrawal_request(seller=seller, amount=Money("10.00", "USD"), key=uuid.uuid4().hex)


def test_the_pay_page_asks_to_confirm_first_and_browsing_ordering_messaging_do_not_wait(client):
    buyer = UserFactory(username="fresh", verified=False)
    order = OrderFactory(buyer=buyer)
    client.force_login(buyer)
    # Browsing, ordering and messaging work before the address is confirmed.
    assert client.get(reverse("home")).status_code == 200
    assert client.get(order.get_absolute_url()).status_code == 200
    form = text(client.get(order.get_absolute_url()))
    token = re.search(r'name="token" value="([0-9a-f]+)"', form)
    assert token is not None
    sent = client.post(reverse("order_message", args=[order.pk]), {"body": "Hello!", "token": token.group(1)})
    assert sent.status_code == 302 and order.messages.filter(body="Hello!").exists()

    draft = client.post(
        reverse("milestone_new", args=[order.pk]),
        {
            "title": "Design",
            "description": "Wireframes.",
            "deadline": (timezone.localtime() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
            "amount": "100.00",
        },
    )
    pay_url = draft["Location"]
    page = text(client.get(pay_url))
    assert "Confirm your e-mail address first" in page and "Send the link again" in page
    refused = client.post(pay_url, {"method": "card"}, follow=True)
    assert "Confirm your e-mail address before you pay" in text(refused)
    assert not Milestone.objects.exists()

    # "Send the link again" sends it; following it confirms, and paying then works.
    mail.outbox.clear()
    client.post(reverse("account_email"), {"email": buyer.email, "action_send": ""})
    deliver_queued_mail()
    assert len(mail.outbox) == 1
    confirm = link_in(mail.outbox[0])
    assert "Confirm" in text(client.get(confirm))
    client.post(confirm)
    assert EmailAddress.objects.get(user=buyer, email=buyer.email).verified
    assert "Confirm your e-mail address first" not in text(client.get(pay_url))
    paid = client.post(pay_url, {"method": "card"})
    assert paid.status_code == 302 and Milestone.objects.filter(order=order).count() == 1


def test_sign_up_sends_the_confirmation_link(client):
    client.post(
        reverse("signup"),
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password1": "A-long-pass-9x",
            "password2": "A-long-pass-9x",
        },
    )
    user = User.objects.get(username="newbie")
    assert not EmailAddress.objects.get(user=user).verified
    assert not mail.outbox, "queued for a worker, not sent by the request"
    deliver_queued_mail()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["newbie@example.com"]
    client.post(link_in(mail.outbox[0]))
    assert EmailAddress.objects.get(user=user).verified


# --- password reset and e-mail change ---------------------------------------------------------


def test_password_reset_by_email_then_log_in_with_the_new_password(client):
    user = UserFactory(username="forgetful")
    page = text(client.get(reverse("login")))
    assert "Forgot your password?" in page
    client.post(reverse("account_reset_password"), {"email": "FORGETFUL@example.com"})
    deliver_queued_mail()
    assert len(mail.outbox) == 1
    reset = client.get(link_in(mail.outbox[0]), follow=True)
    form_url = reset.redirect_chain[-1][0] if reset.redirect_chain else link_in(mail.outbox[0])
    done = client.post(form_url, {"password1": "A-brand-new-pass-31", "password2": "A-brand-new-pass-31"})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("A-brand-new-pass-31")
    client.logout()
    logged = client.post(reverse("login"), {"login": "forgetful", "password": "A-brand-new-pass-31"})
    assert logged.status_code == 302 and logged["Location"] == reverse("dashboard")


def test_a_reset_answers_the_same_for_an_unknown_address():
    """Nobody learns from the page whether an address has an account here."""
    from django.test import Client

    UserFactory(username="known")
    known = Client().post(reverse("account_reset_password"), {"email": "known@example.com"}, follow=True)
    unknown = Client().post(reverse("account_reset_password"), {"email": "nobody@example.com"}, follow=True)
    assert known.redirect_chain[-1][0] == unknown.redirect_chain[-1][0] == reverse("account_reset_password_done")
    deliver_queued_mail()
    assert len(mail.outbox) == 2 and "/password/reset/key/" not in mail.outbox[1].body


def test_changing_the_email_needs_the_new_address_confirmed(client):
    user = UserFactory(username="mover")
    client.force_login(user)
    # Changing the address asks for the password again first (ACCOUNT_REAUTHENTICATION_REQUIRED).
    asked = client.post(reverse("account_email"), {"email": "mover@new.example", "action_add": ""})
    assert asked.status_code == 302 and reverse("account_reauthenticate") in asked["Location"]
    assert not EmailAddress.objects.filter(email="mover@new.example").exists()
    client.post(reverse("account_reauthenticate"), {"password": "correct-horse-battery"})
    mail.outbox.clear()
    client.post(reverse("account_email"), {"email": "mover@new.example", "action_add": ""})
    user.refresh_from_db()
    assert user.email == "mover@example.com", "not before the new address is confirmed"
    deliver_queued_mail()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["mover@new.example"]
    client.post(link_in(mail.outbox[0]))
    user.refresh_from_db()
    assert user.email == "mover@new.example"
    assert EmailAddress.objects.get(user=user, primary=True).email == "mover@new.example"


# --- two-factor for staff -----------------------------------------------------------------


def test_staff_without_two_factor_are_sent_to_set_it_up_before_the_admin(client):
    clerk = StaffFactory(username="clerk", totp=False)
    client.force_login(clerk)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    assert client.get("/admin/milestones/dispute/").status_code == 302
    enrolled = StaffFactory(username="enrolled")
    client.force_login(enrolled)
    # Enrolled, but this session has not passed the code: asked for one.
    asked = client.get("/admin/")
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("mfa_reauthenticate"))
    staff_login(client, enrolled)
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_is_allauths_with_the_code_step(client):
    staff = StaffFactory(username="stella")
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    step = client.post(reverse("login") + "?next=/admin/", {"login": "stella", "password": PASSWORD, "next": "/admin/"})
    assert step.status_code == 302 and step["Location"] == reverse("mfa_authenticate")
    page = text(client.get(step["Location"]))
    assert "Authenticator code" in page and ">Verify</button>" in page
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    right = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert right.status_code == 302 and right["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert int(client.session["_auth_user_id"]) == staff.pk


def test_the_demo_admin_is_enrolled_and_the_command_prints_its_code(capsys):
    from demo.totp import DEMO_ADMIN_TOTP_SECRET, current_code

    call_command("seed_demo")
    admin = User.objects.get(username="admin")
    assert Authenticator.objects.filter(user=admin, type="totp").exists()
    for name in ("buyer", "seller", "admin"):
        assert EmailAddress.objects.get(user__username=name).verified, name
    call_command("demo_totp")
    assert current_code(DEMO_ADMIN_TOTP_SECRET) in capsys.readouterr().out
