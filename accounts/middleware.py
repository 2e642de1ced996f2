"""Each signed-in user sees times in their own zone (``User.time_zone``)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.db.models import Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User

SESSION_TIME_ZONE = "time_zone"


class TimeZoneMiddleware:
    """Activate the viewer's zone for the request: templates show times in it
    and forms read typed datetimes in it (stored in UTC). Anonymous visitors
    get ``TIME_ZONE``. The zone is kept in the session (``SESSION_TIME_ZONE``,
    refreshed when the profile changes it), so a request that needs nothing
    else of the user (the live pages' polls) does not load them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = ""
        session = getattr(request, "session", None)
        if session is not None:
            zone = session.get(SESSION_TIME_ZONE, "")
            if not zone and SESSION_KEY in session:
                user = getattr(request, "user", None)
                zone = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
                if zone:
                    session[SESSION_TIME_ZONE] = zone
        try:
            if zone:
                timezone.activate(zoneinfo.ZoneInfo(zone))
            else:
                timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class StaffTwoFactorMiddleware:
    """The admin moves money in disputes: it opens only for staff who have
    enrolled a TOTP authenticator. Everyone logs in through allauth (the
    admin's own login page sends them there, ``marketplace/urls.py``), which
    asks an enrolled user for the code, so enrolled means the session passed
    it. A staff member without one is sent to enrol first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            request.path.startswith("/admin/")
            and user is not None
            and user.is_authenticated
            and user.is_staff
            and not has_totp(user)
        ):
            messages.warning(
                request,
                "Set up two-factor authentication (an authenticator app) before you open the admin.",
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)


def has_totp(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def session_user_id(request: HttpRequest, password_hash: str | None) -> int | None:
    """The signed-in user's id read from the session alone, checked as Django
    checks it (the session's hash of the user's password, so a password
    change ends old sessions), given the user's ``password_hash`` read by the
    caller's own query; None if not signed in or no longer valid. For polls
    that must not load the user (``order_live``)."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session or not password_hash:
        return None
    expected = salted_hmac(
        "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash", password_hash, algorithm="sha256"
    ).hexdigest()
    if not constant_time_compare(session.get(HASH_SESSION_KEY, ""), expected):
        return None
    return int(session[SESSION_KEY])


def viewer_columns(viewer: int) -> dict:
    """Annotations that read, in the caller's one query, what ``session_user_id``
    and a staff check need of the viewer: ``viewer_password`` and ``viewer_staff``."""

    return {
        "viewer_password": Subquery(User.objects.filter(pk=viewer, is_active=True).values("password")[:1]),
        "viewer_staff": Subquery(User.objects.filter(pk=viewer).values("is_staff")[:1]),
    }


def session_user_pk(request: HttpRequest) -> int | None:
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return None
    return int(session[SESSION_KEY])


def remember_time_zone(sender, request, user, **kwargs) -> None:
    """At log-in the session learns the user's zone (``TimeZoneMiddleware``)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_TIME_ZONE] = getattr(user, "time_zone", "") or "UTC"
