"""`make demo-token`: the demo buyer's token, made once and printed the same after."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from api.models import ApiToken
from api.services import api_token_revoke
from tests.api.conftest import bearer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _run() -> str:
    out = io.StringIO()
    call_command("demo_token", stdout=out)
    return out.getvalue().splitlines()[0]


@override_settings(DEBUG=True)
def test_the_demo_token_is_made_once_opens_the_api_and_a_revoked_one_is_replaced():
    buyer = UserFactory(username="buyer")
    first = _run()
    assert _run() == first
    assert ApiToken.objects.filter(user=buyer).count() == 1
    assert bearer(first).get("/api/v1/me/").json()["username"] == "buyer"
    api_token_revoke(token=ApiToken.objects.get(user=buyer), actor=buyer)
    second = _run()
    assert second != first and bearer(second).get("/api/v1/me/").status_code == 200
    assert bearer(first).get("/api/v1/me/").status_code == 401


def test_no_demo_token_outside_debug():
    UserFactory(username="buyer")
    with pytest.raises(CommandError, match="demo"):
        _run()
    assert not ApiToken.objects.exists()
