"""CSV downloads: rows streamed as they are read, cells safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is a formula to Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a
milestone title would run when the buyer opens the file): such text gets a
leading apostrophe, which spreadsheets show as plain text. Numbers are written
as numbers (``-30.00``), dates in ISO 8601, in every language: the header and the words
may be the reader's, the amounts and dates stay machine-readable.

Part of the kernel: imports no app.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import pgettext

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Excel reads a UTF-8 file as UTF-8 only when it starts with a byte order mark.
BOM = "\ufeff"


def safe_text(text: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_cell(value: object) -> str:
    """One cell: ISO dates, plain numbers, yes/no, and text made safe (``safe_text``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return pgettext("csv cell", "yes") if value else pgettext("csv cell", "no")
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | Decimal | float):
        return str(value)
    return safe_text(str(value))


class _Echo:
    """A file that hands back what is written to it, for ``csv.writer``."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[object], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The file, one line at a time: the header, then each row."""
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow([safe_text(str(name)) for name in header])
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_filename(stem: str, *, today: date | None = None) -> str:
    """``earnings-2025-01-31.csv``."""
    return f"{stem}-{(today or timezone.localdate()).isoformat()}.csv"


def csv_response(*, stem: str, header: Sequence[object], rows: Iterable[Iterable[object]]) -> StreamingHttpResponse:
    """A streamed CSV attachment named ``<stem>-<today>.csv``, never cached
    (it holds the user's money and work)."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{csv_filename(stem)}"'
    add_never_cache_headers(response)
    return response
