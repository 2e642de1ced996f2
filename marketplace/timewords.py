"""Times in words, one way everywhere: "in 3 days", "2 hours ago", "in under
a minute". Rounded to the nearest unit a person would say (2 days 23 hours
is "3 days"), never floored, so two pages never disagree on one moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Within this distance in the past we say "just now" instead of "1 minute ago".
JUST_NOW = timedelta(seconds=45)


def span_words(seconds: float) -> str:
    """A duration in the one unit a person would say, rounded to the nearest:
    '5 minutes', '3 hours', '14 days', '3 weeks', '4 months', '2 years'."""
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
            n = max(1, round(value))
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return ""  # pragma: no cover - the last row always answers


def until_words(moment: datetime, now: datetime) -> str:
    """'3 days' until ``moment``, or 'under a minute'."""
    seconds = (moment - now).total_seconds()
    return "under a minute" if seconds < 30 else span_words(seconds)


def since_words(moment: datetime, now: datetime) -> str:
    """'3 days' since ``moment``, or 'under a minute'."""
    seconds = (now - moment).total_seconds()
    return "under a minute" if seconds < 30 else span_words(seconds)


def relative_words(value: datetime, now: datetime) -> str:
    """'in 3 days', 'in under a minute', 'just now', '2 hours ago'."""
    delta = (value - now).total_seconds()
    if delta > 0:
        return f"in {until_words(value, now)}"
    if -delta < JUST_NOW.total_seconds():
        return "just now"
    return f"{since_words(value, now)} ago"


def period_words(period: timedelta) -> str:
    """'3 days', '1 day', '36 hours', '2 minutes': a configured period in
    whole days, else hours, else minutes (never '0 hours')."""
    days, seconds = period.days, period.seconds
    if seconds == 0 and days:
        return f"{days} day{'s' if days != 1 else ''}"
    total = period.total_seconds()
    if total >= 3600:
        n, unit = round(total / 3600), "hour"
    elif total >= 60:
        n, unit = round(total / 60), "minute"
    else:
        n, unit = max(round(total), 0), "second"
    return f"{n} {unit}{'s' if n != 1 else ''}"


def iso_time(value: datetime) -> str:
    """A ``<time datetime>`` value: whole seconds in UTC (the HTML spec allows
    fractions, but validators and some parsers choke on six digits)."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def response_time_words(seconds: float) -> str:
    """An average response time as a profile says it, rounded: under an hour is "within an hour",
    else "about 2 hours", "about 1 day", "about 3 days"."""
    if seconds < 3600:
        return "within an hour"
    return f"about {span_words(seconds)}"
