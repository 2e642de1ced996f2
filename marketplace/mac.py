"""Keyed MACs of the records that hold money (docs/ARCHITECTURE.md, "A tamper-evident ledger").

A row that carries a MAC of its money and time fields, computed with a key
that lives in the environment (``LEDGER_MAC_KEY``) and never in the
database, cannot be edited or forged in SQL without ``ledger_audit`` naming
it: whoever can write the table still cannot compute the MAC. The database
triggers refuse such edits in the first place; the MAC catches the ones made
with the triggers disabled (an owner role, a restored dump).

The content is a canonical text of the values, so the same row gives the same
MAC on PostgreSQL and SQLite, before and after a round trip: amounts with their
two decimals and currency, times in UTC to the microsecond, empty for NULL.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from djmoney.money import Money


def _part(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Money):
        return f"{value.amount:.2f} {value.currency}"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def content_mac(label: str, parts: Iterable[Any]) -> str:
    """HMAC-SHA256, hex, of ``label`` and ``parts`` under ``LEDGER_MAC_KEY``.
    Parts are joined with a unit separator, which no part may forge: each is
    escaped first."""
    text = "\x1f".join([label, *(_part(p).replace("\\", "\\\\").replace("\x1f", "\\u") for p in parts)])
    return hmac.new(settings.LEDGER_MAC_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


def macs_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


class MacSealed:
    """A model whose ``MAC_FIELDS`` are sealed by a ``mac`` column, computed
    when the row is created (``save`` of a new row; ``bulk_create`` callers
    call ``seal`` themselves). The money and time fields it names are also
    frozen by a trigger (payments migration 0008)."""

    MAC_FIELDS: ClassVar[Sequence[str]] = ()
    mac: str

    def mac_content(self) -> list[Any]:
        return [getattr(self, name) for name in self.MAC_FIELDS]

    def expected_mac(self) -> str:
        return content_mac(type(self).__name__.lower(), self.mac_content())

    def seal(self) -> None:
        self.mac = self.expected_mac()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding and not self.mac:  # type: ignore[attr-defined]
            self.seal()
        super().save(*args, **kwargs)  # type: ignore[misc]
