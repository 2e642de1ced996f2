"""Schemathesis against /api/schema/: with a seeded user and a token, no request answers 5xx and
every documented answer matches the schema. Bounded (a few examples per operation, no shrinking)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.models import ApiScope
from api.services import api_token_create
from marketplace.wsgi import application
from milestones.models import MilestoneState as S
from tests.factories import NotificationFactory, milestone_in


@pytest.fixture
def api_schema(db):
    # Calls go through the WSGI handler itself, which closes the database connection at the end of
    # each request; the test's transaction must survive them, as Django's test client ensures.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db):
    """A buyer with an order, a milestone in review, a notice and a read-and-write token."""
    milestone = milestone_in(S.IN_REVIEW)
    NotificationFactory(recipient=milestone.order.buyer)
    _token, secret = api_token_create(user=milestone.order.buyer, name="schemathesis", scope=ApiScope.READ_WRITE)
    return {"Authorization": f"Bearer {secret}"}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=2,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_answers_as_its_schema_says_and_never_5xx(case, seeded):
    response = case.call(headers=seeded)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
