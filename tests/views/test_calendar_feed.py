"""The calendar feed (issue 37 item 3): a secret ``.ics`` address per user, made, shown once, reset
and revoked on the dashboards, read by any calendar application without a login; its events are the
user's open deadlines, auto-approval dates and the answers they owe, in their time zone, with UIDs
that stay the same so a calendar replaces an event that moved."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money
from icalendar import Calendar

from calendar_feed.models import CalendarFeed
from calendar_feed.services import calendar_feed_create, feed_url
from milestones.models import MilestoneState
from milestones.services.changes import changes_request
from milestones.services.proposals import cancellation_request, extension_request, proposal_accept
from privacy.export import user_data_zip
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db
NEW_YORK = "America/New_York"


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1].removesuffix(".ics")


def path_of(url: str) -> str:
    return reverse("calendar_feed_ics", kwargs={"token": token_of(url)})


def read(client: Client, url: str):
    response = client.get(path_of(url))
    assert response.status_code == 200, response.status_code
    return response


def events(response) -> dict[str, Any]:
    """The feed's VEVENTs by UID."""
    calendar = Calendar.from_ical(response.content)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def second(moment):
    """iCalendar times are whole seconds."""
    return moment.replace(microsecond=0)


def uid(kind: str, pk: int) -> str:
    return f"milestone-{pk}-{kind}@127.0.0.1"


@pytest.fixture
def world(buyer, seller):
    """A buyer in New York with one of everything the feed shows, and what it must not show."""
    buyer.time_zone = NEW_YORK
    buyer.save(update_fields=["time_zone"])
    w = type("World", (), {})()
    w.buyer, w.seller = buyer, seller

    def order():  # one milestone in work per order
        return OrderFactory(buyer=buyer, seller=seller)

    w.working = milestone_in(S.IN_PROGRESS, order(), title="Logo")
    w.revising = milestone_in(S.REVISION_REQUESTED, order(), title="Icons")
    w.reviewing = milestone_in(S.IN_REVIEW, order(), title="Banner")
    w.approved = milestone_in(S.APPROVED, order(), title="Sketches")
    w.offer = milestone_in(S.OFFERED, order(), title="Poster")
    w.awaiting = milestone_in(S.AWAITING_ACCEPTANCE, order(), title="Flyer")
    w.changes = changes_request(
        milestone=w.awaiting,
        actor=seller,
        new_deadline=w.awaiting.deadline + timedelta(days=3),
        new_amount=Money("120.00", w.awaiting.amount.currency),
        new_description="Two sides.",
    )
    w.extension = extension_request(
        milestone=w.working, actor=seller, new_deadline=w.working.deadline + timedelta(days=2), reason="Fonts."
    )
    # The buyer asked this one: it waits on the seller, not on the buyer.
    w.cancellation = cancellation_request(milestone=w.revising, actor=buyer, refund=None, reason="Plans changed.")
    w.elsewhere = milestone_in(S.IN_PROGRESS, OrderFactory(), title="Someone else's")
    for m in (w.working, w.revising, w.reviewing):
        m.refresh_from_db()
    return w


def test_the_buyers_feed_holds_every_deadline_auto_approval_and_answer_they_owe(client, world):
    _, token = calendar_feed_create(user=world.buyer)
    response = read(client, feed_url(token))
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=300"
    assert client.head(path_of(feed_url(token))).status_code == 200  # some calendars ask first
    assert client.post(path_of(feed_url(token))).status_code == 405
    found = events(response)

    def on(m) -> str:
        return f"{m.title} (Order #{m.order_id})"

    assert {uid: str(e["SUMMARY"]) for uid, e in found.items()} == {
        uid("deadline", world.working.pk): f"Deadline: {on(world.working)}",
        uid("deadline", world.revising.pk): f"Deadline: {on(world.revising)}",
        uid("auto-approval", world.reviewing.pk): f"Auto-approval: {on(world.reviewing)}",
        uid("offer", world.offer.pk): f"Answer due: offer {on(world.offer)}",
        f"proposal-{world.changes.pk}-answer@127.0.0.1": f"Answer due: changes to {on(world.awaiting)}",
        f"proposal-{world.extension.pk}-answer@127.0.0.1": f"Answer due: deadline extension of {on(world.working)}",
    }
    deadline = found[uid("deadline", world.working.pk)]
    assert deadline.decoded("DTSTART") == second(world.working.deadline)
    assert str(deadline["URL"]) == f"http://127.0.0.1:8000{world.working.get_absolute_url()}"
    assert found[uid("auto-approval", world.reviewing.pk)].decoded("DTSTART") == second(world.reviewing.auto_approve_at)
    assert found[uid("offer", world.offer.pk)].decoded("DTSTART") == second(world.offer.offer_expires_at)
    answer = found[f"proposal-{world.extension.pk}-answer@127.0.0.1"]
    assert answer.decoded("DTSTART") == second(world.extension.respond_by)


def test_times_are_in_the_users_zone_with_the_zone_described(client, world):
    _, token = calendar_feed_create(user=world.buyer)
    response = read(client, feed_url(token))
    body = response.content.decode()
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["X-WR-TIMEZONE"]) == NEW_YORK
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == [NEW_YORK]
    start = events(response)[uid("deadline", world.working.pk)].decoded("DTSTART")
    local = world.working.deadline.astimezone(ZoneInfo(NEW_YORK))
    assert start.tzinfo is not None and start.utcoffset() == local.utcoffset()
    assert (start.hour, start.minute) == (local.hour, local.minute)
    assert f"DTSTART;TZID={NEW_YORK}:{local:%Y%m%dT%H%M%S}" in body
    assert "X-PUBLISHED-TTL:PT1H" in body and "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in body


def test_the_sellers_feed_holds_their_deadlines_and_the_buyers_request_not_the_buyers_answers(client, world):
    _, token = calendar_feed_create(user=world.seller)
    found = events(read(client, feed_url(token)))
    assert set(found) == {
        uid("deadline", world.working.pk),
        uid("deadline", world.revising.pk),
        uid("auto-approval", world.reviewing.pk),
        f"proposal-{world.cancellation.pk}-answer@127.0.0.1",
    }
    assert "Deliver “Logo” by this time." in str(found[uid("deadline", world.working.pk)]["DESCRIPTION"])


def test_uids_stay_and_a_moved_deadline_replaces_its_event(client, world):
    _, token = calendar_feed_create(user=world.buyer)
    first = events(read(client, feed_url(token)))
    again = events(read(client, feed_url(token)))
    assert set(first) == set(again)
    key = uid("deadline", world.working.pk)
    assert again[key]["SEQUENCE"] == first[key]["SEQUENCE"]
    proposal_accept(proposal=world.extension, actor=world.buyer)
    world.working.refresh_from_db()
    moved = events(read(client, feed_url(token)))
    assert moved[key].decoded("DTSTART") == second(world.working.deadline) != first[key].decoded("DTSTART")
    assert moved[key]["SEQUENCE"] > first[key]["SEQUENCE"]
    assert f"proposal-{world.extension.pk}-answer@127.0.0.1" not in moved  # answered: gone


def test_closed_milestones_leave_the_feed(client, buyer, seller):
    from milestones.services.lifecycle import milestone_approve

    order = OrderFactory(buyer=buyer, seller=seller)
    reviewing = milestone_in(S.IN_REVIEW, order, title="Banner")
    _, token = calendar_feed_create(user=buyer)
    assert uid("auto-approval", reviewing.pk) in events(read(client, feed_url(token)))
    milestone_approve(milestone=reviewing, actor=buyer)
    assert events(read(client, feed_url(token))) == {}


def test_a_revoked_token_and_an_unknown_one_are_refused_alike(client, buyer):
    _, token = calendar_feed_create(user=buyer)
    assert client.get(path_of(feed_url(token))).status_code == 200
    CalendarFeed.objects.filter(user=buyer).update(revoked_at=timezone.now())
    revoked = client.get(path_of(feed_url(token)))
    unknown = client.get(reverse("calendar_feed_ics", kwargs={"token": "x" * 43}))
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.content == unknown.content


def test_only_a_hash_of_the_token_is_stored(buyer):
    feed, token = calendar_feed_create(user=buyer)
    assert len(token) >= 43
    assert token not in feed.token_hash and len(feed.token_hash) == 64


def _section(html: str) -> str:
    match = re.search(r'<section[^>]*id="calendar-feed".*?</section>', html, re.S)
    assert match, "no Calendar feed section"
    return match.group(0)


def _shown_url(html: str) -> str | None:
    match = re.search(r'id="calendar-feed-url" value="([^"]+)"', _section(html))
    return match.group(1) if match else None


@pytest.mark.parametrize("role", ["buyer", "seller"])
def test_the_dashboard_makes_shows_once_resets_and_revokes_the_feed(client, buyer, seller, role):
    user = buyer if role == "buyer" else seller
    dashboard = reverse(f"{role}_dashboard")
    client.force_login(user)
    section = _section(client.get(dashboard).content.decode())
    assert "Calendar feed" in section and "Create calendar feed" in section

    made = client.post(reverse("calendar_feed_create"), {"role": role})
    assert made.status_code == 302 and made["Location"] == dashboard + "#calendar-feed"
    url = _shown_url(client.get(dashboard).content.decode())
    assert url and url.startswith("http://127.0.0.1:8000/calendar/") and url.endswith(".ics")
    assert Client().get(path_of(url)).status_code == 200
    later = _section(client.get(dashboard).content.decode())
    assert _shown_url(later) is None and "Reset link" in later and "Revoke" in later  # shown once
    assert "Google Calendar" in later and "Apple Calendar" in later and "Outlook" in later

    client.post(reverse("calendar_feed_create"), {"role": role})
    new_url = _shown_url(client.get(dashboard).content.decode())
    assert new_url and new_url != url
    assert Client().get(path_of(new_url)).status_code == 200
    assert Client().get(path_of(url)).status_code == 404  # the reset killed the old one

    revoked = client.post(reverse("calendar_feed_revoke"), {"role": role}, follow=True)
    assert "Create calendar feed" in _section(revoked.content.decode())
    assert Client().get(path_of(new_url)).status_code == 404
    assert CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).count() == 0


def test_revoking_without_a_feed_changes_nothing(client, buyer):
    client.force_login(buyer)
    response = client.post(reverse("calendar_feed_revoke"), {"role": "buyer"}, follow=True)
    assert "You have no calendar feed to revoke." in response.content.decode()
    assert not CalendarFeed.objects.exists()


def _add_working(buyer, seller, count: int) -> None:
    for i in range(count):
        order = OrderFactory(buyer=buyer, seller=seller)
        working = milestone_in(S.IN_PROGRESS, order, title=f"Phase {i}")
        extension_request(
            milestone=working, actor=seller, new_deadline=working.deadline + timedelta(days=1), reason="More time."
        )


@pytest.mark.parametrize("count", [1, 20])
def test_the_feed_reads_in_a_fixed_number_of_queries(buyer, seller, count, django_assert_num_queries):
    _add_working(buyer, seller, count)
    feed, token = calendar_feed_create(user=buyer)
    CalendarFeed.objects.filter(pk=feed.pk).update(last_read_at=timezone.now())  # no throttled write now
    client = Client()
    with django_assert_num_queries(3):  # the feed and its user, the milestones, the proposals
        response = client.get(path_of(feed_url(token)))
    assert len(events(response)) == 2 * count  # each deadline, and the extension the buyer answers


def test_a_read_is_noted_at_most_once_an_hour(client, buyer):
    feed, token = calendar_feed_create(user=buyer)
    read(client, feed_url(token))
    feed.refresh_from_db()
    first = feed.last_read_at
    assert first is not None
    read(client, feed_url(token))
    feed.refresh_from_db()
    assert feed.last_read_at == first


def test_account_deletion_deletes_the_feed_and_the_export_never_holds_the_token(client):
    from privacy.services import account_delete

    dora = UserFactory(username="dora")
    _, token = calendar_feed_create(user=dora)
    with zipfile.ZipFile(io.BytesIO(user_data_zip(dora).read())) as archive:
        profile = json.loads(archive.read("profile.json"))
        everything = b"".join(archive.read(name) for name in archive.namelist())
    assert len(profile["calendar_feeds"]) == 1 and profile["calendar_feeds"][0]["revoked_at"] is None
    assert token.encode() not in everything
    assert CalendarFeed.objects.get(user=dora).token_hash.encode() not in everything
    account_delete(user=dora, password="correct-horse-battery")
    assert not CalendarFeed.objects.filter(user=dora).exists()
    assert client.get(path_of(feed_url(token))).status_code == 404


def test_the_dashboard_showing_a_new_address_is_valid_html(client, buyer, tmp_path):
    """The other states of the section are in the main pages' check (tests/pages.py)."""
    from tests.quality.test_html_valid import _errors, _java

    java = _java()
    client.force_login(buyer)
    client.post(reverse("calendar_feed_create"), {"role": "buyer"})
    response = client.get(reverse("buyer_dashboard"))
    assert _shown_url(response.content.decode())
    page = tmp_path / "dashboard-new-feed.html"
    page.write_bytes(response.content)
    errors = _errors(java, [str(page)])
    assert not errors, "\n".join(errors)


def test_the_feed_reads_the_dashboards_partial_indexes_not_the_users_history(buyer):
    """On PostgreSQL's plan, not by timing: every arm of the query reads a partial index of the
    dashboards (which one, on an empty table, is the planner's coin toss), never the whole table, and
    each milestone's changes are read on the activity log's milestone index."""
    from django.db import connection

    from calendar_feed.selectors import feed_milestones

    sql, params = feed_milestones(buyer).query.sql_with_params()
    with connection.cursor() as cursor:
        # Neither a sequential scan nor a whole-index walk of the primary key (which the planner may
        # pick on a table whose statistics earlier tests left behind): what is left must be the
        # partial indexes, or the query could not use them.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        try:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_indexscan")
    assert "Seq Scan" not in plan and "milestones_milestone_pkey" not in plan, plan
    assert "BitmapOr" in plan and "Bitmap Index Scan on ms_" in plan, plan
