"""The requests' sweep: open requests past ``expires_at`` (``REQUEST_EXPIRY``) expire."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from marketplace.sweeps import DueSet, SweepResult, candidates, now_or, register_sweep, sweep
from requests_board.models import BuyerRequest, RequestState
from requests_board.services import request_expire


def _requests_due(now: datetime) -> QuerySet[BuyerRequest]:
    return BuyerRequest.objects.filter(state=RequestState.OPEN, expires_at__lte=now)


def requests_due(now: datetime) -> list[DueSet]:
    return [DueSet("open requests to expire", _requests_due(now), "expires_at")]


@register_sweep("requests", due=requests_due)
def sweep_requests(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Open requests past ``expires_at`` expire; their pending proposals are declined."""
    now = now_or(now)
    pks = candidates(_requests_due(now), time_field="expires_at")
    return sweep("requests", pks, lambda pk: request_expire(request_id=pk, now=now), until=until)
