"""The feed as iCalendar (RFC 5545), built with ``icalendar``: events in the user's zone (each
DTSTART with its TZID, the zone's VTIMEZONE, X-WR-TIMEZONE), UIDs stable across reads, so a
calendar replaces an event that moved rather than adding another."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vDuration

from calendar_feed.selectors import FeedEvent
from marketplace.http import site_url

PRODID = "-//Milestone Marketplace//Calendar feed//EN"
# Calendars that honour it fetch again this often (Apple, Outlook); Google decides by itself.
REFRESH = timedelta(hours=1)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def feed_calendar(events: list[FeedEvent], *, zone_name: str, now: datetime) -> bytes:
    zone = _zone(zone_name)
    host = site_host()
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("Marketplace deadlines"))
    calendar.add("x-wr-caldesc", _("Your open milestones' deadlines, auto-approvals and the answers you owe."))
    calendar.add("x-wr-timezone", zone.key)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    for item in events:
        event = Event()
        event.add("uid", f"{item.key}@{host}")
        event.add("dtstamp", now)
        # A moment, not a span: no DTEND (RFC 5545 3.6.1), and it does not make the user busy.
        event.add("dtstart", item.at.astimezone(zone))
        event.add("transp", "TRANSPARENT")
        event.add("summary", item.summary)
        event.add("description", f"{item.description}\n{site_url(item.url)}")
        event.add("url", site_url(item.url))
        event.add("sequence", item.sequence)
        if item.modified is not None:
            event.add("last-modified", item.modified)
        calendar.add_component(event)
    if events:
        first = min(e.at for e in events).astimezone(zone).date()
        last = max(e.at for e in events).astimezone(zone).date()
        calendar.add_missing_timezones(first_date=first - timedelta(days=1), last_date=last + timedelta(days=366))
    return calendar.to_ical()
