"""The shapes the emitters share in an event's ``data``: amounts as strings with their currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from djmoney.money import Money


def money_data(amount: Money) -> dict[str, str]:
    """``{"amount": "120.00", "currency": "USD"}``: a string, never a float."""
    return {"amount": f"{amount.amount:.2f}", "currency": str(amount.currency)}


def time_data(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def subject_data(milestone: Any) -> dict[str, Any]:
    """A milestone as an event names it: ids, title, state and amount (what the order page shows both parties)."""
    return {
        "id": milestone.pk,
        "order_id": milestone.order_id,
        "title": milestone.title,
        "state": getattr(milestone, "state", None),
        **money_data(milestone.amount),
    }
