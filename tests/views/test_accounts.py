"""Accounts (django-allauth under the site's URLs and labels): sign up, log
in and out, change password, the profile, the lockout page."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from tests.factories import UserFactory
from tests.mail import deliver_queued_mail

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "correct-horse-battery"


def text(response) -> str:
    return response.content.decode()


def label_for(html: str, label: str) -> bool:
    return f">{label}</label>" in html or f">{label} <span" in html


# --- sign up ---------------------------------------------------------------------


def test_signup_page_labels_every_field(client):
    html = text(client.get(reverse("signup")))
    for label in ("Username", "Email", "Password", "Password confirmation"):
        assert label_for(html, label), label


def test_signup_creates_the_account_logs_in_and_lands_on_the_dashboard(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password1": "A-long-pass-9x",
            "password2": "A-long-pass-9x",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    user = User.objects.get(username="newbie")
    assert user.email == "newbie@example.com"
    assert client.get(reverse("dashboard")).status_code == 200


def test_welcome_back_right_after_sign_up_is_a_welcome(client):
    """Issue 34, item 12: a new member was greeted "Welcome back"."""
    client.post(
        reverse("signup"),
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password1": "A-long-pass-9x",
            "password2": "A-long-pass-9x",
        },
    )
    page = text(client.get(reverse("dashboard")))
    assert "Welcome, newbie." in page and "Welcome back" not in page
    client.logout()
    client.post(reverse("login"), {"login": "newbie", "password": "A-long-pass-9x"})
    assert "Welcome back, newbie." in text(client.get(reverse("dashboard")))


@pytest.mark.parametrize(
    ("url", "button"),
    [
        ("account_reset_password", ">Reset my password<"),
        ("account_email", ">Change e-mail<"),
        ("account_change_password", ">Change password<"),
    ],
)
def test_account_buttons_are_in_sentence_case_like_the_rest_of_the_site(client, url, button):
    """Issue 34, item 12: allauth's "Reset My Password", "Make Primary" beside the site's "Log in"."""
    client.force_login(UserFactory(username="cased"))
    if url == "account_reset_password":
        client.logout()
    page = " ".join(text(client.get(reverse(url))).split()).replace("> ", ">").replace(" <", "<")
    assert button in page


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"password2": "something-else-9x"}, "You must type the same password each time."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"username": ""}, "This field is required."),
    ],
)
def test_signup_with_bad_input_shows_the_error_and_creates_nothing(client, data, field_message):
    form = {
        "username": "newbie",
        "email": "n@example.com",
        "password1": "A-long-pass-9x",
        "password2": "A-long-pass-9x",
    }
    response = client.post(reverse("signup"), {**form, **data})
    assert response.status_code == 200
    assert 'class="field-error"' in text(response)
    assert field_message in text(response)
    assert not User.objects.filter(username="newbie").exists()


def test_signup_with_an_address_in_use_answers_as_for_a_new_one_and_tells_its_owner(client, buyer):
    """No enumeration: the page cannot tell whether the address has an account. The owner is
    e-mailed that someone tried; the newcomer gets no confirmation link for it, so it stays
    unconfirmed on their account, which can neither pay nor withdraw with it."""

    def sign_up(username: str, email: str):
        return client.post(
            reverse("signup"),
            {"username": username, "email": email, "password1": "A-long-pass-9x", "password2": "A-long-pass-9x"},
        )

    taken = sign_up("copycat", buyer.email.upper())
    client.logout()
    fresh = sign_up("newcomer", "newcomer@example.com")
    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"])
    assert "already" not in text(client.get(taken["Location"], follow=True))
    deliver_queued_mail()
    to_owner = [m for m in mail.outbox if m.to == [buyer.email.lower()]]
    assert len(to_owner) == 1 and "/confirm-email/" not in to_owner[0].body
    assert "password" in to_owner[0].body.lower()
    copycat = User.objects.get(username="copycat")
    assert not EmailAddress.objects.filter(user=copycat, verified=True).exists()
    assert [m.to for m in mail.outbox if "/confirm-email/" in m.body] == [["newcomer@example.com"]]


# --- log in and out ----------------------------------------------------------------


def test_login_page_has_labels_and_button(client):
    html = text(client.get(reverse("login")))
    assert reverse("login") == "/accounts/login/"
    assert label_for(html, "Username") and label_for(html, "Password")
    assert ">Log in</button>" in html


def test_login_redirects_to_the_dashboard(client, buyer):
    response = client.post(reverse("login"), {"username": buyer.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_login_follows_next(client, buyer):
    response = client.post(
        reverse("login") + "?next=/earnings/", {"username": buyer.username, "password": PASSWORD, "next": "/earnings/"}
    )
    assert response["Location"] == "/earnings/"


def test_wrong_password_shows_an_error_and_does_not_log_in(client, buyer):
    response = client.post(reverse("login"), {"username": buyer.username, "password": "wrong"})
    assert response.status_code == 200
    assert "The username and/or password you specified are not correct." in text(response)
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post(client, buyer):
    client.force_login(buyer)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "You are logged out." in text(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("name", ["profile", "password_change", "dashboard", "earnings", "notifications"])
def test_pages_of_an_account_send_anonymous_to_login(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=2)
def test_repeated_failures_show_the_lockout_page(client, buyer):
    for _ in range(2):
        client.post(reverse("login"), {"username": buyer.username, "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    response = client.post(reverse("login"), {"username": buyer.username, "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    assert "Too many failed log-in attempts" in text(response)
    assert re.search(r"is paused for \d+ \w+ after 2 failed attempts", text(response))
    assert "_auth_user_id" not in client.session


# --- password and profile ------------------------------------------------------------


def test_password_change(client, buyer):
    client.force_login(buyer)
    html = text(client.get(reverse("password_change"), follow=True))
    assert label_for(html, "Old password") and label_for(html, "New password")
    assert label_for(html, "New password confirmation")
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "Another-pass-77", "password2": "Another-pass-77"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("profile")
    assert "Your password is changed." in text(response)
    buyer.refresh_from_db()
    assert buyer.check_password("Another-pass-77")


def test_password_change_with_the_wrong_old_password_changes_nothing(client, buyer):
    client.force_login(buyer)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": "nope", "password1": "Another-pass-77", "password2": "Another-pass-77"},
    )
    assert 'class="field-error"' in text(response)
    buyer.refresh_from_db()
    assert buyer.check_password(PASSWORD)


def test_profile_shows_each_withdrawal_method_with_its_clearance_period(client, seller):
    client.force_login(seller)
    html = text(client.get(reverse("profile")))
    assert "Instant (debit card) — available as soon as it is released" in html
    assert "PayPal — clears 3 days after release" in html
    assert "Bank transfer — clears 14 days after release" in html
    for label in ("Bio", "Payout account"):
        assert label_for(html, label), label
    # The address changes on its own page, which confirms the new one by e-mail.
    assert "<dt>Email</dt>" in html and f"{seller.email}" in html and reverse("account_email") in html
    assert "<legend>Withdrawal method</legend>" in html


def test_profile_saves(client, seller):
    client.force_login(seller)
    response = client.post(
        reverse("profile"),
        {
            "email": "bob@new.example",
            "bio": "I build apps.",
            "withdrawal_method": "paypal",
            "payout_account": "Bob@PP.example",
            "current_password": "correct-horse-battery",
        },
        follow=True,
    )
    assert "Your profile is saved." in text(response)
    seller.refresh_from_db()
    # The e-mail address is not changed here (it would skip its confirmation).
    assert (seller.email, seller.bio, seller.withdrawal_method, seller.payout_account) == (
        "bob_seller@example.com",
        "I build apps.",
        "paypal",
        "bob@pp.example",
    )


def test_profile_with_bad_input_changes_nothing(client, seller):
    other = UserFactory(email="taken@example.com")
    client.force_login(seller)
    for data in (
        {"email": other.email, "withdrawal_method": "bitcoin"},
        {"withdrawal_method": "bitcoin"},
        {"withdrawal_method": "paypal", "time_zone": "Nowhere/Atlantis"},
    ):
        response = client.post(reverse("profile"), {"bio": "changed", "payout_account": "x", **data})
        assert response.status_code == 200
        assert 'class="field-error"' in text(response)
    seller.refresh_from_db()
    assert seller.bio == "" and seller.withdrawal_method == "bank_transfer"


def test_signup_returns_to_the_page_that_asked_for_it(client):
    gig_url = "/gigs/1/order/"
    html = text(client.get(reverse("signup") + f"?next={gig_url}"))
    assert f'name="next" value="{gig_url}"' in html
    form = {
        "username": "newbie",
        "email": "n@example.com",
        "password1": "A-long-pass-9x",
        "password2": "A-long-pass-9x",
    }
    assert client.post(reverse("signup"), {**form, "next": gig_url})["Location"] == gig_url


def test_signup_ignores_a_next_on_another_site(client):
    form = {
        "username": "newbie",
        "email": "n@example.com",
        "password1": "A-long-pass-9x",
        "password2": "A-long-pass-9x",
    }
    response = client.post(reverse("signup"), {**form, "next": "https://evil.example/"})
    assert response["Location"] == reverse("dashboard")
