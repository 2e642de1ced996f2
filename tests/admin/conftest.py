"""Fixtures for the admin tests: a disputed milestone and staff to decide it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from milestones.models import Dispute
from milestones.models import MilestoneState as S
from tests.factories import milestone_in, staff_login


@pytest.fixture
def disputed(order):
    """A 100.00 USD milestone in progress that the buyer disputed."""
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00", title="Design")
    return Dispute.objects.select_related("milestone__order").get(milestone=milestone)


@pytest.fixture
def staff_client(client, staff):
    staff_login(client, staff)
    return client


def resolve_url(dispute: Dispute, outcome: str) -> str:
    return reverse("admin:milestones_dispute_resolve", args=[dispute.pk, outcome])


def change_url(dispute: Dispute) -> str:
    return reverse("admin:milestones_dispute_change", args=[dispute.pk])
