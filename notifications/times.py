"""Times inside a notice's words, shown in the reader's zone.

A notice is written by whoever acts (a seller in Berlin, a sweep in UTC) and read later by
someone else, in a page or an e-mail. Formatting a time when the notice is written puts it in
the writer's zone, unlabelled: a buyer in UTC read "answer by 09 Dec 06:08" (Berlin) while their
order page said 05:08. So a notice stores each moment as a token, ``{{t:2026-12-09T05:08Z}}``
(a time) or ``{{d:2026-12-09T05:08Z}}`` (a day), always in UTC, and the page or the e-mail
renders it in its reader's zone with the zone named: "09 Dec 2026 05:08 UTC".

Notices written before the tokens keep their words as they were: ``notice_text`` changes only
what is a token.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

from django.utils import timezone
from django.utils.dateformat import format as date_format

# Notification.message's length: a notice is cut there, never inside a token.
MESSAGE_LENGTH = 300

_TOKEN = re.compile(r"\{\{([td]):(\d{4}-\d\d-\d\dT\d\d:\d\dZ)\}\}")
_STAMP = "%Y-%m-%dT%H:%MZ"


def notice_time(moment: datetime) -> str:
    """``moment`` for a notice's words: its date and time in the reader's zone, zone named."""
    return _token("t", moment)


def notice_day(moment: datetime) -> str:
    """``moment``'s day for a notice's words, in the reader's zone ("09 Dec 2026")."""
    return _token("d", moment)


def _token(kind: str, moment: datetime) -> str:
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    stamp = moment.astimezone(UTC).strftime(_STAMP)
    return "{{" + f"{kind}:{stamp}" + "}}"


def zone_label(local: datetime) -> str:
    """The zone's short name ("UTC", "CET"); a zone that has none ("-03") is named by its offset
    from UTC ("UTC-03"), so a bare number is never taken for part of the time."""
    name = local.strftime("%Z")
    return f"UTC{name}" if name[:1] in "+-" else name


def notice_text(message: str, zone: tzinfo | None = None) -> str:
    """A notice's words with its times in ``zone`` (default: the active one, the reader's on a page)."""
    zone = zone or timezone.get_current_timezone()

    def render(match: re.Match[str]) -> str:
        kind, stamp = match.groups()
        local = datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC).astimezone(zone)
        # Month names in the reader's language ("09 Dec 2026", "09 Dez. 2026"): the active one.
        if kind == "d":
            return date_format(local, "d M Y")
        return f"{date_format(local, 'd M Y H:i')} {zone_label(local)}"

    return _TOKEN.sub(render, message)


def clip_message(message: str) -> str:
    """``message`` cut to ``MESSAGE_LENGTH``; a token the cut would split goes whole, so no
    half-token ever reaches a reader."""
    if len(message) <= MESSAGE_LENGTH:
        return message
    clipped = message[:MESSAGE_LENGTH]
    start = clipped.rfind("{{")
    token = _TOKEN.match(message, start) if start != -1 else None
    if token is not None and token.end() > MESSAGE_LENGTH:
        clipped = clipped[:start].rstrip()
    return clipped
