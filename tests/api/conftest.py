"""The API's fixtures: a token for any user, and a client that sends it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.models import ApiScope
from api.services import api_token_create

PROBLEM = "application/problem+json"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api_as():
    """``api_as(user)``: a client with a fresh read-and-write token of ``user`` (``scope="read"`` for a read one)."""

    def make(user, scope: str = ApiScope.READ_WRITE) -> APIClient:
        _token, secret = api_token_create(user=user, name="tests", scope=scope)
        return bearer(secret)

    return make


def assert_problem(response, status: int, detail_contains: str = "") -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if detail_contains:
        assert detail_contains in body["detail"], body["detail"]
    return body
