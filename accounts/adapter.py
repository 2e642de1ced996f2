"""How django-allauth fits this site: the new account's time zone, the
throttling key, and where people land."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse

from accounts.services import is_time_zone


class AccountAdapter(DefaultAccountAdapter):
    def get_password_change_redirect_url(self, request: HttpRequest) -> str:
        return reverse("profile")

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        """Sign-up: the fields allauth knows, plus the zone the browser guessed
        (``static/js/app.js``); one we do not know leaves UTC."""
        user = super().save_user(request, user, form, commit=False)
        zone = (form.cleaned_data.get("time_zone") or "").strip()
        user.time_zone = zone if is_time_zone(zone) else "UTC"
        if commit:
            user.save()
        return user


def axes_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The username django-axes counts failures against: allauth authenticates
    with ``username=``, its form posts ``login``."""
    if credentials and credentials.get("username"):
        return str(credentials["username"])
    data = getattr(request, "POST", {})
    return data.get("login") or data.get("username") or None
