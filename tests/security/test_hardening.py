"""Login throttling, security headers, production settings, and Django's deploy check."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's


# --- login throttling (django-axes) --------------------------------------------------------------------------


@pytest.fixture
def axes_on(db):
    from axes.models import AccessAttempt, AccessFailureLog

    with override_settings(AXES_ENABLED=True):
        yield
    AccessAttempt.objects.all().delete()
    AccessFailureLog.objects.all().delete()


def login(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_sixth_failed_login_is_locked_out_and_even_the_right_password_waits(axes_on, settings):
    victim = UserFactory(username="victim")
    client = Client()
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5
    for attempt in range(1, limit):
        response = login(client, "victim", f"guess-{attempt}")
        assert response.status_code == 200, f"attempt {attempt}"
        assert response.context["form"].errors, "a failed login shows the form's error"
    # The limit-th failure locks; from then on every attempt gets the lockout page.
    login(client, "victim", "guess-5")
    sixth = login(client, "victim", "guess-6")
    assert sixth.status_code in (403, 429)
    assert "Too many failed log-in attempts" in sixth.content.decode()
    right = login(client, "victim", PASSWORD)
    assert right.status_code in (403, 429), "the right password must wait for the cool-off too"
    assert "_auth_user_id" not in client.session
    victim.refresh_from_db()
    assert victim.last_login is None


def test_lockout_is_per_user_and_address(axes_on):
    UserFactory(username="victim")
    UserFactory(username="bystander")
    client = Client()
    for attempt in range(6):
        login(client, "victim", f"guess-{attempt}")
    # Someone else on the same address can still log in.
    response = login(Client(), "bystander", PASSWORD)
    assert response.status_code == 302


def test_lockout_ends_after_the_cool_off(axes_on, settings):
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.utils import timezone

    UserFactory(username="victim")
    client = Client()
    for attempt in range(6):
        login(client, "victim", f"guess-{attempt}")
    assert login(client, "victim", PASSWORD).status_code in (403, 429)
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert login(client, "victim", PASSWORD).status_code == 302


# --- headers ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["home", "login", "signup"])
def test_security_headers_on_pages(url_name):
    response = Client().get(reverse(url_name))
    policy = response["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_pages_load_nothing_from_another_host(world):
    import re

    for role, url in [
        ("anonymous", reverse("home")),
        ("buyer", reverse("order_detail", args=[world.order.pk])),
        ("seller", reverse("seller_dashboard")),
    ]:
        html = world.client(role).get(url).content.decode()
        for attribute in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not attribute.startswith(("http://", "https://", "//")), f"{url} loads {attribute}"
        assert "<script>" not in html.replace("<script>alert(", ""), f"{url} has an inline script (CSP forbids it)"


@pytest.mark.django_db
def test_downloads_are_attachments_never_rendered_inline(world):
    response = world.client("buyer").get(reverse("deliverable_download", args=[world.delivery_file.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


# --- production settings ------------------------------------------------------------------------------------------


def production_env(**extra: str) -> dict[str, str]:
    """The environment of a production process: no test overrides, DEBUG off, a real key."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "SESSION_", "CSRF_", "DJANGO_", "AXES_", "PYTEST", "DEBUG"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="marketplace.example.com",
        CSRF_TRUSTED_ORIGINS="https://marketplace.example.com",
        SITE_URL="https://marketplace.example.com",
    )
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace")
    env.update(extra)
    return env


def test_production_settings_have_secure_cookies_and_hsts():
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k)"
        " for k in ['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SECURE_SSL_REDIRECT',"
        " 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_CONTENT_TYPE_NOSNIFF', 'DEBUG',"
        " 'X_FRAME_OPTIONS', 'AXES_ENABLED']}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["AXES_ENABLED"] is not False


def test_production_refuses_to_start_with_a_weak_secret_key():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=production_env(SECRET_KEY="short"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_check_deploy_is_clean():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_session_cookie_is_httponly_and_lax(world):
    client = Client()
    response = client.post(reverse("login"), {"username": world.buyer.username, "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"].lower() in ("lax", "strict")


# --- redirects and mass assignment ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target", ["https://evil.example/phish", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_never_redirects_to_another_host(world, target):
    response = Client().post(
        f"{reverse('login')}?next={target}", {"username": world.buyer.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location


@pytest.mark.django_db
def test_profile_cannot_grant_staff_or_change_username(world):
    client = world.client("seller")
    data = {
        "email": "bob@example.com",
        "bio": "",
        "withdrawal_method": "paypal",
        "payout_account": "bob@pay.example",
        "is_staff": "on",
        "is_superuser": "on",
        "username": "admin",
        "password": "plain",
        "current_password": PASSWORD,  # the payout change asks for it
    }
    assert client.post(reverse("profile"), data).status_code == 302
    world.seller.refresh_from_db()
    assert not world.seller.is_staff and not world.seller.is_superuser
    assert world.seller.username == "bob_seller"
    assert world.seller.check_password(PASSWORD)


@pytest.mark.django_db
def test_signup_cannot_grant_staff(db):
    data = {
        "username": "mallory",
        "email": "mallory@example.com",
        "password1": "Xy7!a-long-passphrase",
        "password2": "Xy7!a-long-passphrase",
        "is_staff": "on",
        "is_superuser": "on",
    }
    assert Client().post(reverse("signup"), data).status_code == 302
    from accounts.models import User

    mallory = User.objects.get(username="mallory")
    assert not mallory.is_staff and not mallory.is_superuser


@pytest.mark.django_db
def test_unknown_host_is_refused(db):
    assert Client().get(reverse("home"), HTTP_HOST="evil.example").status_code == 400


@pytest.mark.django_db
def test_uploaded_files_are_not_served_from_a_public_url(world, settings):
    """Deliverables and dispute files exist only behind the permission-checking download views."""
    for stored in (world.delivery_file.file, world.statement.attachment):
        assert (settings.MEDIA_ROOT / stored.name).exists()
        for role in ("anonymous", "outsider", "buyer"):
            client = world.client(role)
            for url in (stored.url, f"/media/{stored.name}", f"/{stored.name}", f"/static/../media/{stored.name}"):
                assert client.get(url).status_code == 404, f"{url} as {role}"


# --- behind the proxy: the client's own address ---------------------------------------------------------------

PROXY = "10.0.0.2"


def login_via_proxy(client: Client, username: str, password: str, client_address: str):
    """As nginx passes it on: from the proxy's socket, the client in X-Forwarded-For."""
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=client_address,
    )


def test_behind_a_proxy_a_failed_login_storm_does_not_lock_the_owner_out_from_elsewhere(axes_on, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    UserFactory(username="owner")
    attacker = Client()
    for attempt in range(10):
        login_via_proxy(attacker, "owner", f"guess-{attempt}", "203.0.113.9")
    assert login_via_proxy(attacker, "owner", PASSWORD, "203.0.113.9").status_code in (403, 429)
    # The owner, through the same proxy from their own address, logs in.
    assert login_via_proxy(Client(), "owner", PASSWORD, "198.51.100.7").status_code == 302


def test_a_client_cannot_choose_its_address_by_writing_the_header(axes_on, settings):
    """Without a trusted proxy the header is ignored; with one, only the entry
    the proxy appended counts, never those the client wrote before it."""
    UserFactory(username="owner")
    attacker = Client()
    for attempt in range(6):
        attacker.post(
            reverse("login"),
            {"username": "owner", "password": f"guess-{attempt}"},
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt}",
        )
    locked = attacker.post(
        reverse("login"),
        {"username": "owner", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert locked.status_code in (403, 429), "a new X-Forwarded-For per try does not reset the count"

    settings.TRUSTED_PROXY_COUNT = 1
    from django.test import RequestFactory

    from marketplace.http import client_ip

    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    assert client_ip(request) == "203.0.113.9", "the proxy's entry, not the one the client wrote"
