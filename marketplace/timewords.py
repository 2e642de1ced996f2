"""Times in words, one way everywhere: "in 3 days", "2 hours ago", "in under
a minute". Rounded to the nearest unit a person would say (2 days 23 hours
is "3 days"), never floored, so two pages never disagree on one moment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# Within this distance in the past we say "just now" instead of "1 minute ago".
JUST_NOW = timedelta(seconds=45)

# Whole phrases, never glued from pieces: "in 3 days" is one message, so each language can put the
# number, the unit and the "in" where it belongs (German "in 3 Tagen", Spanish "en 3 días").
_Phrase = Callable[[int], str]
_SPAN: dict[str, _Phrase] = {
    "second": lambda n: ngettext("{n} second", "{n} seconds", n),
    "minute": lambda n: ngettext("{n} minute", "{n} minutes", n),
    "hour": lambda n: ngettext("{n} hour", "{n} hours", n),
    "day": lambda n: ngettext("{n} day", "{n} days", n),
    "week": lambda n: ngettext("{n} week", "{n} weeks", n),
    "month": lambda n: ngettext("{n} month", "{n} months", n),
    "year": lambda n: ngettext("{n} year", "{n} years", n),
}
_IN: dict[str, _Phrase] = {
    "minute": lambda n: ngettext("in {n} minute", "in {n} minutes", n),
    "hour": lambda n: ngettext("in {n} hour", "in {n} hours", n),
    "day": lambda n: ngettext("in {n} day", "in {n} days", n),
    "week": lambda n: ngettext("in {n} week", "in {n} weeks", n),
    "month": lambda n: ngettext("in {n} month", "in {n} months", n),
    "year": lambda n: ngettext("in {n} year", "in {n} years", n),
}
_AGO: dict[str, _Phrase] = {
    "minute": lambda n: ngettext("{n} minute ago", "{n} minutes ago", n),
    "hour": lambda n: ngettext("{n} hour ago", "{n} hours ago", n),
    "day": lambda n: ngettext("{n} day ago", "{n} days ago", n),
    "week": lambda n: ngettext("{n} week ago", "{n} weeks ago", n),
    "month": lambda n: ngettext("{n} month ago", "{n} months ago", n),
    "year": lambda n: ngettext("{n} year ago", "{n} years ago", n),
}
_ABOUT: dict[str, _Phrase] = {
    "minute": lambda n: ngettext("about {n} minute", "about {n} minutes", n),
    "hour": lambda n: ngettext("about {n} hour", "about {n} hours", n),
    "day": lambda n: ngettext("about {n} day", "about {n} days", n),
    "week": lambda n: ngettext("about {n} week", "about {n} weeks", n),
    "month": lambda n: ngettext("about {n} month", "about {n} months", n),
    "year": lambda n: ngettext("about {n} year", "about {n} years", n),
}


def _phrase(phrases: dict[str, _Phrase], unit: str, n: int) -> str:
    return phrases[unit](n).format(n=n)


def _span_unit(seconds: float) -> tuple[int, str]:
    """The duration as (number, unit), the one unit a person would say, rounded to the nearest."""
    minutes = seconds / 60
    hours = minutes / 60
    days = hours / 24
    for value, unit in (
        (minutes, "minute") if minutes < 59.5 else (None, ""),
        (hours, "hour") if hours < 23.5 else (None, ""),
        (days, "day") if days < 20.5 else (None, ""),
        (days / 7, "week") if days < 59.5 else (None, ""),
        (days / 30.4, "month") if days < 364.5 else (None, ""),
        (days / 365.25, "year"),
    ):
        if value is not None:
            return max(1, round(value)), unit
    return 0, ""  # pragma: no cover - the last row always answers


def span_words(seconds: float) -> str:
    """A duration in the one unit a person would say, rounded to the nearest:
    '5 minutes', '3 hours', '14 days', '3 weeks', '4 months', '2 years'."""
    n, unit = _span_unit(seconds)
    return _phrase(_SPAN, unit, n)


def until_words(moment: datetime, now: datetime) -> str:
    """'3 days' until ``moment``, or 'under a minute'."""
    seconds = (moment - now).total_seconds()
    return _("under a minute") if seconds < 30 else span_words(seconds)


def since_words(moment: datetime, now: datetime) -> str:
    """'3 days' since ``moment``, or 'under a minute'."""
    seconds = (now - moment).total_seconds()
    return _("under a minute") if seconds < 30 else span_words(seconds)


def relative_words(value: datetime, now: datetime) -> str:
    """'in 3 days', 'in under a minute', 'just now', '2 hours ago'."""
    delta = (value - now).total_seconds()
    if delta > 0:
        if delta < 30:
            return _("in under a minute")
        n, unit = _span_unit(delta)
        return _phrase(_IN, unit, n)
    if -delta < JUST_NOW.total_seconds():
        return _("just now")
    n, unit = _span_unit(-delta)
    return _phrase(_AGO, unit, n)


def period_words(period: timedelta) -> str:
    """'3 days', '1 day', '36 hours', '2 minutes': a configured period in
    whole days, else hours, else minutes (never '0 hours')."""
    days, seconds = period.days, period.seconds
    if seconds == 0 and days:
        return _phrase(_SPAN, "day", days)
    total = period.total_seconds()
    if total >= 3600:
        n, unit = round(total / 3600), "hour"
    elif total >= 60:
        n, unit = round(total / 60), "minute"
    else:
        n, unit = max(round(total), 0), "second"
    return _phrase(_SPAN, unit, n)


# For words made later in another reader's language (a notice): ``format_lazy(gettext_lazy("… {period}"),
# period=period_words_lazy(settings.TIP_WINDOW))``.
period_words_lazy = lazy(period_words, str)


def iso_time(value: datetime) -> str:
    """A ``<time datetime>`` value: whole seconds in UTC (the HTML spec allows
    fractions, but validators and some parsers choke on six digits)."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def response_time_words(seconds: float) -> str:
    """An average response time as a profile says it, rounded: under an hour is "within an hour",
    else "about 2 hours", "about 1 day", "about 3 days"."""
    if seconds < 3600:
        return _("within an hour")
    n, unit = _span_unit(seconds)
    return _phrase(_ABOUT, unit, n)
