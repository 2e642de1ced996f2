"""The user's milestones as a spreadsheet: every milestone of every order they
buy or sell in, one row each, streamed as CSV (``marketplace.csv``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpResponseBase
from django.views.decorators.http import require_GET

from accounts.http import AuthedRequest
from accounts.models import User
from marketplace.csv import csv_response
from milestones.models import Milestone

MILESTONES_CSV_HEADER = (
    "Order",
    "Order title",
    "Your role",
    "Position",
    "Milestone",
    "State",
    "Amount",
    "Service fee",
    "Currency",
    "Deadline",
    "Created",
    "Accepted",
    "Submitted",
    "Approved",
    "Closed",
    "Revisions",
    "Late",
)


def milestone_rows(user: User, *, chunk_size: int = 1000) -> Iterator[tuple[Any, ...]]:
    """One row per milestone of the orders where the user is buyer or seller,
    by order then position, read in chunks (``iterator``)."""
    milestones = (
        Milestone.objects.filter(Q(order__buyer=user) | Q(order__seller=user))
        .select_related("order")
        .order_by("order_id", "position")
        .iterator(chunk_size=chunk_size)
    )
    for m in milestones:
        order = m.order
        yield (
            order.pk,
            order.title,
            "buyer" if order.buyer_id == user.pk else "seller",
            m.position,
            m.title,
            m.get_state_display(),
            m.amount.amount,
            m.buyer_fee.amount,
            str(m.amount.currency),
            m.deadline,
            m.created_at,
            m.accepted_at,
            m.submitted_at,
            m.approved_at,
            m.closed_at,
            m.revision_count,
            m.is_late,
        )


@login_required
@require_GET
def milestones_export(request: AuthedRequest) -> HttpResponseBase:
    return csv_response(stem="milestones", header=MILESTONES_CSV_HEADER, rows=milestone_rows(request.user))
