"""Each signed-in user sees times in their own zone (``User.time_zone``); staff work behind two factors."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.db.models import Subquery
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from accounts import two_factor
from accounts.models import User

SESSION_TIME_ZONE = "time_zone"
SESSION_LANGUAGE = "language"


class LanguageMiddleware(LocaleMiddleware):
    """The reader's language, for the pages and the words of the request: a signed-in user's
    profile (``User.language``, kept in the session as the zone is, so a poll loads no user), else
    the footer's choice (``LANGUAGE_COOKIE_NAME``), else the browser's ``Accept-Language``, else
    English. URLs carry no language prefix: the same page is at the same address in every language
    (``Vary: Accept-Language, Cookie`` on the response, from ``LocaleMiddleware``)."""

    def process_request(self, request: HttpRequest) -> None:
        language = ""
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            language = session.get(SESSION_LANGUAGE, "")
            if not language:
                user = getattr(request, "user", None)
                language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
                if language:
                    session[SESSION_LANGUAGE] = language
        if language:
            try:
                language = translation.get_supported_language_variant(language)
            except LookupError:
                language = ""
        if not language:
            language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


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
    """Staff work behind two factors.

    * The admin moves money in disputes: it opens only for staff who have enrolled a TOTP
      authenticator (a staff member without one is sent to enrol first) and whose session passed it
      (one who logged in before enrolling is asked for a code).
    * Reads of other people's orders, messages and files (the support permission) count only in a
      session that passed the second factor (``accounts.two_factor``): this sets it for the request.
      Refused, such a read shows how to set it up or enter a code (``SecondFactorRequired``), and the
      attempt is in the staff-read log (``orders.selectors.staff_read_refused``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        passed = two_factor.session_passed_two_factor(request)
        user = getattr(request, "user", None)
        if request.path.startswith("/admin/") and user is not None and user.is_authenticated and user.is_staff:
            if not has_totp(user):
                messages.warning(
                    request,
                    _("Set up two-factor authentication (an authenticator app) before you open the admin."),
                )
                return redirect("mfa_activate_totp")
            if not passed:
                messages.warning(request, _("Enter a code from your authenticator app to open the admin."))
                return redirect(f"{reverse('mfa_reauthenticate')}?next={request.get_full_path()}")
        token = two_factor.activate(passed)
        try:
            return self.get_response(request)
        finally:
            two_factor.deactivate(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, two_factor.SecondFactorRequired):
            return None
        enrolled = has_totp(request.user)
        context = {"enrolled": enrolled, "next": request.get_full_path()}
        return render(request, "accounts/second_factor_required.html", context, status=403)


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
    """At log-in the session learns the user's zone (``TimeZoneMiddleware``) and language
    (``LanguageMiddleware``)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_TIME_ZONE] = getattr(user, "time_zone", "") or "UTC"
        session[SESSION_LANGUAGE] = getattr(user, "language", "") or settings.LANGUAGE_CODE


def shorten_staff_session(sender, request, user, **kwargs) -> None:
    """Staff sessions end sooner (``STAFF_SESSION_AGE``, default 8 hours) than members' (two weeks):
    a staff session left open reads everyone's orders."""
    session = getattr(request, "session", None)
    if session is not None and getattr(user, "is_staff", False):
        session.set_expiry(settings.STAFF_SESSION_AGE)
