"""Whose language a page, an e-mail or a feed is in (issue 38): a visitor's browser
(``Accept-Language``) or the footer's choice, a signed-in user's profile (``User.language``), which
wins over the browser; the same URLs in every language; caches told that the answer depends on it.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from calendar_feed.services import calendar_feed_create, feed_url
from notifications.models import OutgoingEmail
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def text(response) -> str:
    return response.content.decode()


@pytest.fixture(autouse=True)
def _english_after():
    yield
    translation.activate(settings.LANGUAGE_CODE)


# --- visitors ----------------------------------------------------------------------------------


def test_a_spanish_browser_gets_spanish_pages_and_html_lang_es(client):
    page = text(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es"))
    assert '<html lang="es"' in page
    assert "<h1>Iniciar sesión</h1>" in page and "<h1>Log in</h1>" not in page
    signup = text(client.get(reverse("signup"), HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9,en;q=0.5"))
    assert '<html lang="es"' in signup and "Crea tu cuenta" in signup


def test_a_browser_with_no_language_of_ours_gets_english(client):
    page = text(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="ja"))
    assert '<html lang="en-gb"' in page and "<h1>Log in</h1>" in page


def test_the_footer_sets_the_visitors_language_in_a_cookie(client):
    response = client.post(reverse("set_language"), {"language": "de", "next": reverse("login")})
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    # The choice wins over the browser's.
    page = text(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es"))
    assert '<html lang="de"' in page and "<h1>Anmelden</h1>" in page


def test_the_footer_refuses_a_language_we_do_not_have(client):
    client.post(reverse("set_language"), {"language": "xx", "next": reverse("login")})
    assert '<html lang="en-gb"' in text(client.get(reverse("login")))


# --- signed-in users ---------------------------------------------------------------------------


def test_the_footer_keeps_a_signed_in_users_choice_on_their_profile(client):
    user = UserFactory(username="ute")
    client.force_login(user)
    response = client.post(reverse("set_language"), {"language": "de", "next": reverse("profile")})
    assert response["Location"] == reverse("profile")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    user.refresh_from_db()
    assert user.language == "de"
    page = text(client.get(reverse("profile")))
    assert '<html lang="de"' in page and "<h1>Ihr Profil</h1>" in page
    # On another device (no cookie), the profile's choice follows them.
    other = client_class_for(client)
    other.force_login(user)
    assert "<h1>Ihr Profil</h1>" in text(other.get(reverse("profile")))


def client_class_for(client):
    return type(client)()


def test_the_profiles_language_saves_and_the_next_page_is_in_it(client):
    user = UserFactory(username="sofia")
    client.force_login(user)
    data = {
        "bio": "",
        "withdrawal_method": user.withdrawal_method,
        "payout_account": user.payout_account,
        "current_password": PASSWORD,
        "refund_to": "balance",
        "time_zone": "UTC",
        "language": "es",
        "email_notifications": "all",
    }
    response = client.post(reverse("profile"), data, follow=True)
    page = text(response)
    assert "Tu perfil está guardado." in page and '<html lang="es"' in page
    user.refresh_from_db()
    assert user.language == "es"
    assert '<option value="es" selected>Español</option>' in page


def test_the_profiles_language_refuses_one_we_do_not_have(client):
    user = UserFactory(username="nobody-lang")
    client.force_login(user)
    data = {"bio": "", "withdrawal_method": user.withdrawal_method, "payout_account": "", "language": "xx"}
    assert client.post(reverse("profile"), data).status_code == 200
    user.refresh_from_db()
    assert user.language == "en-gb"


def test_a_users_profile_language_wins_over_the_browsers(client):
    user = UserFactory(username="hans")
    User.objects.filter(pk=user.pk).update(language="de")
    user.refresh_from_db()
    client.force_login(user)
    page = text(client.get(reverse("profile"), HTTP_ACCEPT_LANGUAGE="es"))
    assert '<html lang="de"' in page and "<h1>Ihr Profil</h1>" in page


def test_logging_in_brings_the_profiles_language(client):
    user = UserFactory(username="greta")
    User.objects.filter(pk=user.pk).update(language="de")
    client.post(reverse("login"), {"login": "greta", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")
    page = text(client.get(reverse("profile"), HTTP_ACCEPT_LANGUAGE="en"))
    assert "<h1>Ihr Profil</h1>" in page


def test_sign_up_keeps_the_browsers_language(client):
    client.post(
        reverse("signup"),
        {
            "username": "lucia",
            "email": "lucia@example.com",
            "password1": "A-long-pass-9x",
            "password2": "A-long-pass-9x",
        },
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert User.objects.get(username="lucia").language == "es"
    # Her welcome and her confirmation e-mail are in Spanish too.
    page = text(client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en"))
    assert "Te damos la bienvenida, lucia." in page
    mail = OutgoingEmail.objects.get(to="lucia@example.com")
    assert "confirme" in mail.subject.lower() or "confirma" in mail.subject.lower()


def test_sign_up_without_a_language_of_ours_keeps_english(client):
    client.post(
        reverse("signup"),
        {
            "username": "kenji",
            "email": "kenji@example.com",
            "password1": "A-long-pass-9x",
            "password2": "A-long-pass-9x",
        },
        HTTP_ACCEPT_LANGUAGE="ja",
    )
    assert User.objects.get(username="kenji").language == "en-gb"


# --- the same URLs, and caches told --------------------------------------------------------------


@pytest.mark.parametrize("language", ["en-gb", "es", "de"])
def test_urls_are_the_same_in_every_language(client, language):
    for name in ("login", "signup", "account_reset_password"):
        response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, name
        assert f'<html lang="{language}"' in text(response)
    assert reverse("login") == "/accounts/login/"
    with translation.override(language):
        assert reverse("login") == "/accounts/login/" and reverse("profile") == "/accounts/profile/"


def test_the_vary_header_names_accept_language(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de")
    vary = [part.strip().lower() for part in response["Vary"].split(",")]
    assert "accept-language" in vary and "cookie" in vary


# --- words for someone else: in their language -------------------------------------------------


def test_an_email_about_a_members_address_is_in_the_members_language(client):
    """Someone signing up in Spanish with a German member's address: the member is told in German."""
    owner = UserFactory(username="owner-de", email="owner@example.com")
    User.objects.filter(pk=owner.pk).update(language="de")
    client.post(
        reverse("signup"),
        {
            "username": "intruder",
            "email": "owner@example.com",
            "password1": "A-long-pass-9x",
            "password2": "A-long-pass-9x",
        },
        HTTP_ACCEPT_LANGUAGE="es",
    )
    mail = OutgoingEmail.objects.get(to="owner@example.com", kind="account/email/account_already_exists")
    assert "Konto existiert bereits" in mail.subject


def test_the_calendar_feed_is_in_its_owners_language_whatever_the_calendar_asks(client):
    from tests.factories import milestone_in

    milestone = milestone_in("in_progress")
    buyer = milestone.order.buyer
    User.objects.filter(pk=buyer.pk).update(language="es")
    buyer.refresh_from_db()
    _, token = calendar_feed_create(user=buyer)
    body = client.get(feed_url(token).split("8000", 1)[-1], HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "X-WR-CALNAME:Plazos del marketplace" in body
    assert f"SUMMARY:Plazo: {milestone.title} (pedido n.º {milestone.order_id})" in body


def test_an_api_problem_is_in_the_requests_language(client):
    response = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="de", HTTP_AUTHORIZATION="Bearer mkt_nope")
    assert response.status_code == 401
    body = response.json()
    assert body["title"] == "Nicht authentifiziert"
    # The problem's type is the same in every language.
    assert body["type"].endswith("#problem-not-authenticated")


def test_the_payout_notice_is_in_the_users_language_and_the_security_log_in_english(client):
    from accounts.models import SecurityEvent
    from notifications.models import Notification

    user = UserFactory(username="paula")
    User.objects.filter(pk=user.pk).update(language="de")
    user.refresh_from_db()
    client.force_login(user)
    data = {
        "bio": "",
        "withdrawal_method": "paypal",
        "payout_account": "paula@pp.example",
        "current_password": PASSWORD,
        "language": "de",
    }
    assert client.post(reverse("profile"), data).status_code == 302
    notice = Notification.objects.get(recipient=user, event="payout_changed")
    assert notice.message.startswith("Ihre Auszahlungsdaten wurden geändert: Banküberweisung")
    assert "→ PayPal paula@pp.example" in notice.message
    event = SecurityEvent.objects.get(user=user, kind="payout_changed")
    assert event.detail.startswith("Bank transfer") and event.detail.endswith("→ PayPal paula@pp.example")
