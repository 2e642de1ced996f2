"""The feed itself (no login: the token is the credential) and the dashboards' buttons."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from accounts.http import AuthedRequest
from calendar_feed import selectors, services
from calendar_feed.ical import feed_calendar

# The session key of the address just made, shown once on the next dashboard view and forgotten.
NEW_FEED_SESSION_KEY = "calendar_feed_new"
ROLE_DASHBOARDS = {"buyer": "buyer_dashboard", "seller": "seller_dashboard"}


@require_safe
def calendar_feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    feed = selectors.live_feed_by_token(token)
    if feed is None:
        raise Http404("No such calendar feed.")
    now = timezone.now()
    # A calendar fetches the feed with no session: its words are in the owner's language.
    with translation.override(feed.user.language or settings.LANGUAGE_CODE):
        body = feed_calendar(selectors.feed_events(feed.user), zone_name=feed.user.time_zone, now=now)
    services.calendar_feed_mark_read(feed=feed, now=now)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="marketplace.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


def _back(request: HttpRequest) -> HttpResponseRedirect:
    name = ROLE_DASHBOARDS.get(request.POST.get("role", ""), "buyer_dashboard")
    return HttpResponseRedirect(reverse(name) + "#calendar-feed")


@login_required
@require_POST
def calendar_feed_create(request: AuthedRequest) -> HttpResponse:
    """ "Create calendar feed" and "Reset link": a new address, the old one (if any) revoked."""
    feed, token = services.calendar_feed_create(user=request.user)
    request.session[NEW_FEED_SESSION_KEY] = {"id": feed.pk, "url": services.feed_url(token)}
    messages.success(request, _("Your calendar feed is ready. Copy its address now: it is shown only once."))
    return _back(request)


@login_required
@require_POST
def calendar_feed_revoke(request: AuthedRequest) -> HttpResponse:
    request.session.pop(NEW_FEED_SESSION_KEY, None)
    if services.calendar_feed_revoke(user=request.user):
        messages.success(request, _("Calendar feed revoked: its address no longer works."))
    else:
        messages.info(request, _("You have no calendar feed to revoke."))
    return _back(request)


def dashboard_section(request: AuthedRequest) -> dict[str, object]:
    """The dashboards' "Calendar feed" section: the live feed, and its address if it was just made
    (once: taken out of the session)."""
    feed = selectors.live_feed_of(request.user)
    new = request.session.pop(NEW_FEED_SESSION_KEY, None) if NEW_FEED_SESSION_KEY in request.session else None
    url = new["url"] if new and feed is not None and new.get("id") == feed.pk else None
    return {"calendar_feed": feed, "calendar_feed_url": url}
