"""Each signed-in user sees times in their own zone (``User.time_zone``)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class TimeZoneMiddleware:
    """Activate the viewer's zone for the request: templates show times in it
    and forms read typed datetimes in it (stored in UTC). Anonymous visitors
    get ``TIME_ZONE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
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
            from django.contrib import messages
            from django.shortcuts import redirect

            messages.warning(
                request,
                "Set up two-factor authentication (an authenticator app) before you open the admin.",
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)


def has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
