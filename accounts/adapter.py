"""How django-allauth fits this site: the new account's time zone, the
throttling key, where people land, and the address its e-mails link to."""

from __future__ import annotations

import ipaddress
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from confusable_homoglyphs import confusables
from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse

from accounts.models import User
from accounts.services import is_time_zone
from marketplace.http import client_ip, site_url

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    def get_password_change_redirect_url(self, request: HttpRequest) -> str:
        return reverse("profile")

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Every link in an account e-mail (confirm, reset, sign up) and the site named at its foot are
        on ``SITE_URL``, as in the notices' e-mails: allauth builds them from the host the request came
        in on, which behind a proxy or on another port is not the address people reach the site at."""
        context = {
            **context,
            **{
                key: _on_site(value)
                for key, value in context.items()
                if key.endswith("_url") and isinstance(value, str) and value.startswith(("http://", "https://"))
            },
            "current_site": _SiteAddress(urlsplit(settings.SITE_URL).netloc),
        }
        super().send_mail(template_prefix, email, context)

    def send_notification_mail(self, template_prefix, user, context=None, email=None):
        """ "Your password was changed", "an e-mail address was added": told by e-mail, best effort.
        The change is already made and in the security log; a mail server that is down must not turn
        it into an error page (the e-mail sweep does not carry these: allauth sends them itself)."""
        try:
            super().send_notification_mail(template_prefix, user, context=context, email=email)
        except Exception:  # noqa: BLE001 - logged; the change stands
            logger.warning("account notice %s not e-mailed to user %s", template_prefix, user.pk, exc_info=True)

    def clean_username(self, username: str, shallow: bool = False) -> str:
        """NFKC-normalised, and refused when it would pass for someone else:
        letters of two alphabets that look alike ("аdmin" with a Cyrillic а),
        or one that reads as an existing name once such letters are taken
        for the Latin ones they imitate."""
        username = unicodedata.normalize("NFKC", username)
        username = super().clean_username(username, shallow=shallow)
        if confusables.is_dangerous(username):
            raise forms.ValidationError(
                "This username mixes letters of different alphabets that look alike; choose another.",
                code="username_confusable",
            )
        if not shallow:
            skeleton = username_skeleton(username)
            if skeleton != username.lower() and User.objects.filter(username__iexact=skeleton).exists():
                raise forms.ValidationError(
                    "This username looks like that of another member; choose another.", code="username_confusable"
                )
        return username

    def get_client_ip(self, request: HttpRequest) -> str:
        """For allauth's rate limits: the address behind our trusted proxies,
        not the left-most ``X-Forwarded-For`` entry, which the client writes."""
        address = client_ip(request)
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            raise PermissionDenied(f"Invalid IP address: {address!r}") from None

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        """Sign-up: the fields allauth knows, plus the zone the browser guessed
        (``static/js/app.js``); one we do not know leaves UTC."""
        user = super().save_user(request, user, form, commit=False)
        zone = (form.cleaned_data.get("time_zone") or "").strip()
        user.time_zone = zone if is_time_zone(zone) else "UTC"
        if commit:
            user.save()
        return user


@dataclass(frozen=True)
class _SiteAddress:
    """What allauth's e-mail templates read of a site (``current_site.name``, ``.domain``)."""

    domain: str

    @property
    def name(self) -> str:
        return self.domain


def _on_site(url: str) -> str:
    """An absolute link moved onto ``SITE_URL``, its path and query kept."""
    parts = urlsplit(url)
    return site_url(parts.path + (f"?{parts.query}" if parts.query else ""))


def username_skeleton(username: str) -> str:
    """The name with each letter that imitates a Latin one replaced by it, lower-cased."""
    letters = []
    for char in username:
        found = confusables.is_confusable(char, preferred_aliases=["latin"])
        homoglyphs = found[0]["homoglyphs"] if found else []
        letters.append(homoglyphs[0]["c"] if homoglyphs else char)
    return "".join(letters).lower()


def axes_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The username django-axes counts failures against: allauth authenticates
    with ``username=``, its form posts ``login``."""
    if credentials and credentials.get("username"):
        return str(credentials["username"])
    data = getattr(request, "POST", {})
    return data.get("login") or data.get("username") or None
