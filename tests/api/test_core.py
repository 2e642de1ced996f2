"""The API's common ground: problem+json, cursor pages, the rate limit, the schema and the docs."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.api.conftest import assert_problem
from tests.factories import NotificationFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_unknown_object_is_404_problem(api_as):
    body = assert_problem(api_as(UserFactory()).get("/api/v1/milestones/999999/"), 404)
    assert body["type"].startswith("/api/docs/#problem-")


def test_bad_filters_name_the_field(api_as):
    body = assert_problem(api_as(UserFactory()).get("/api/v1/orders/?role=boss"), 400)
    assert body["errors"] == {"role": ["Choose buyer or seller."]}


def test_lists_are_cursor_pages_newest_first_without_repeats(api_as):
    user = UserFactory()
    NotificationFactory.create_batch(7, recipient=user)
    client = api_as(user)
    seen: list[int] = []
    url = "/api/v1/notifications/?page_size=3"
    pages = 0
    while url:
        body = client.get(url).json()
        assert set(body) == {"next", "previous", "results"}
        seen += [n["id"] for n in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7


def test_over_the_rate_limit_is_429_with_retry_after(api_as):
    client = api_as(UserFactory())
    with override_settings(API_RATE_LIMIT="3/minute"):
        assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
        response = client.get("/api/v1/me/")
        body = assert_problem(response, 429, "Too many requests")
        assert 0 < int(response["Retry-After"]) <= 60
        assert body["title"] == "Too many requests"
        # Per token: another token of someone else is not held back.
        assert api_as(UserFactory()).get("/api/v1/me/").status_code == 200


def test_the_schema_is_openapi_3_and_lists_the_actions():
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/v1/orders/",
        "/api/v1/milestones/",
        "/api/v1/milestones/{id}/approve/",
        "/api/v1/milestones/{id}/request-revision/",
        "/api/v1/milestones/{id}/submit/",
    ):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_the_docs_load_from_this_host_under_the_sites_policy(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "https://" not in html.split("<body>")[1]  # nothing from another host
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    # Elsewhere the policy is unchanged.
    assert "unsafe-inline" not in client.get("/").get("Content-Security-Policy", "")


def test_the_footer_links_to_the_api_docs(client):
    assert '<a href="/api/docs/">API</a>' in client.get("/").content.decode()


def test_an_order_list_filters_by_role_and_status(api_as):
    user = UserFactory()
    bought = OrderFactory(buyer=user)
    sold = OrderFactory(seller=user)
    OrderFactory()  # someone else's
    client = api_as(user)
    assert {o["id"] for o in client.get("/api/v1/orders/").json()["results"]} == {bought.pk, sold.pk}
    assert [o["id"] for o in client.get("/api/v1/orders/?role=seller").json()["results"]] == [sold.pk]
    assert [o["role"] for o in client.get("/api/v1/orders/?role=buyer").json()["results"]] == ["buyer"]
    assert client.get("/api/v1/orders/?status=completed").json()["results"] == []
    status = bought.status
    assert {o["id"] for o in client.get(f"/api/v1/orders/?status={status}").json()["results"]} >= {bought.pk}
