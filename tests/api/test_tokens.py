"""Personal access tokens: the profile's "API tokens" page, and what a token opens."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiScope, ApiToken, key_hash
from api.services import api_token_create
from tests.api.conftest import assert_problem, bearer
from tests.factories import OrderFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_profile_links_to_the_api_tokens_page(client):
    user = UserFactory()
    client.force_login(user)
    page = client.get(reverse("profile")).content.decode()
    assert f'href="{reverse("api_tokens")}">API tokens</a>' in page
    assert reverse("api_tokens") == "/accounts/api-tokens/"


def test_a_token_is_shown_once_and_stored_only_hashed(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("api_tokens"), {"name": "Agency board", "scope": "read"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=user)
    page = response.content.decode()
    secret = page.split('id="new-token" type="text" readonly value="')[1].split('"')[0]
    assert secret.startswith("mkt_") and len(secret) >= 40
    assert "Copy it now" in page
    assert token.key_hash == key_hash(secret) and secret not in (token.prefix, token.key_hash, token.name)
    assert token.scope == ApiScope.READ and secret.startswith(token.prefix)
    # Shown once: the list afterwards names it, never the secret again.
    again = client.get(reverse("api_tokens")).content.decode()
    assert "Agency board" in again and secret not in again and "Never" in again and "Revoke" in again


def test_create_token_reports_every_bad_field_and_creates_nothing(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("api_tokens"), {"name": "  ", "scope": "admin"})
    page = response.content.decode()
    assert "This field is required." in page
    assert "Select a valid choice." in page
    assert not ApiToken.objects.exists()


def test_a_revoked_token_opens_nothing(client):
    user = UserFactory()
    token, secret = api_token_create(user=user, name="script", scope=ApiScope.READ)
    assert bearer(secret).get("/api/v1/orders/").status_code == 200
    client.force_login(user)
    response = client.post(reverse("api_token_revoke", args=[token.pk]), follow=True)
    assert "is revoked" in response.content.decode()
    assert_problem(bearer(secret).get("/api/v1/orders/"), 401, "not valid")


def test_someone_elses_token_cannot_be_revoked(client):
    token, _secret = api_token_create(user=UserFactory(), name="script", scope=ApiScope.READ)
    client.force_login(UserFactory())
    assert client.post(reverse("api_token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize(
    "header",
    ["Bearer mkt_nonsense", "Bearer", "Bearer a b", "Token abc", "Bearer " + "mkt_" + "x" * 43],
)
def test_a_bad_token_is_401_problem(header):
    client = APIClient()
    response = client.get("/api/v1/orders/", HTTP_AUTHORIZATION=header)
    if header.startswith("Token"):
        assert_problem(response, 401)  # not our scheme: as anonymous
    else:
        assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_anonymous_is_401_problem():
    assert_problem(APIClient().get("/api/v1/milestones/"), 401)


def test_an_inactive_users_token_opens_nothing():
    user = UserFactory()
    _token, secret = api_token_create(user=user, name="script", scope=ApiScope.READ)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_problem(bearer(secret).get("/api/v1/orders/"), 401)


def test_last_used_is_written_at_most_once_a_minute(django_assert_num_queries):
    user = UserFactory()
    token, secret = api_token_create(user=user, name="script", scope=ApiScope.READ)
    client = bearer(secret)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get("/api/v1/me/")
        token.refresh_from_db()
        assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get("/api/v1/me/")
        token.refresh_from_db()
        assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client.get("/api/v1/me/")
        token.refresh_from_db()
        assert token.last_used_at == start + timedelta(seconds=61)


def test_a_read_token_refuses_every_write_with_403():
    order = OrderFactory()
    _t, secret = api_token_create(user=order.buyer, name="ro", scope=ApiScope.READ)
    client = bearer(secret)
    assert client.get(f"/api/v1/orders/{order.pk}/").status_code == 200
    response = client.post(f"/api/v1/orders/{order.pk}/messages/", {"body": "hello"}, format="json")
    assert_problem(response, 403, "can only read")
    assert not order.messages.exists()


def test_a_staff_token_sees_only_the_staff_members_own_orders():
    staff = StaffFactory()
    someone_elses = OrderFactory()
    own = OrderFactory(buyer=staff)
    _t, secret = api_token_create(user=staff, name="staff", scope=ApiScope.READ_WRITE)
    client = bearer(secret)
    ids = [o["id"] for o in client.get("/api/v1/orders/").json()["results"]]
    assert ids == [own.pk]
    assert_problem(client.get(f"/api/v1/orders/{someone_elses.pk}/"), 404)


def test_session_auth_needs_csrf_for_writes():
    order = OrderFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(order.buyer)
    assert client.get(f"/api/v1/orders/{order.pk}/").status_code == 200
    response = client.post(f"/api/v1/orders/{order.pk}/messages/", {"body": "hello"}, format="json")
    assert_problem(response, 403, "CSRF")
    assert not order.messages.exists()
