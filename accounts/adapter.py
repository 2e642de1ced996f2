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
from allauth.account.models import EmailAddress
from allauth.core import context as allauth_context
from confusable_homoglyphs import confusables
from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import is_time_zone
from accounts.zones import canonical_zone
from marketplace.http import client_ip, site_url
from notifications.services import outgoing_email_queue

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    def get_password_change_redirect_url(self, request: HttpRequest) -> str:
        return reverse("profile")

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Every e-mail allauth sends (confirmation, password reset, "your password was changed",
        "someone tried to sign up with your address") is rendered here and queued
        (``notifications.services.outgoing_email_queue``): a worker sends it after the request's
        commit, so a mail server that refuses or hangs never slows or breaks sign-up or reset.

        Every link in it (confirm, reset, sign up) and the site named at its foot are on
        ``SITE_URL``, as in the notices' e-mails: allauth builds them from the host the request came
        in on, which behind a proxy or on another port is not the address people reach the site at."""
        ctx = {
            "request": allauth_context.request,
            "email": email,
            **context,
            **{
                key: _on_site(value)
                for key, value in context.items()
                if key.endswith("_url") and isinstance(value, str) and value.startswith(("http://", "https://"))
            },
            "current_site": _SiteAddress(urlsplit(settings.SITE_URL).netloc),
        }
        with translation.override(mail_language(allauth_context.request, email)):
            message = self.render_mail(template_prefix, email, ctx)
        outgoing_email_queue(message, kind=template_prefix)

    def send_confirmation_mail(self, request, emailconfirmation, signup) -> None:
        """No enumeration: sign-up and "Add e-mail" answer the same whether or not the address is
        taken (``ACCOUNT_PREVENT_ENUMERATION = "strict"``). When it is another member's, the
        confirmation link is not sent (it would let the newcomer take the address): its owner is told
        instead that someone tried to use it, with the way to log in or reset the password. The
        newcomer's address stays unconfirmed, so they can neither pay nor withdraw with it."""
        address = emailconfirmation.email_address
        taken = EmailAddress.objects.filter(email__iexact=address.email).exclude(user_id=address.user_id).exists()
        if taken or User.objects.filter(email__iexact=address.email).exclude(pk=address.user_id).exists():
            logger.info("address of another member given by user %s; its owner is told", address.user_id)
            self.send_account_already_exists_mail(address.email)
            return
        super().send_confirmation_mail(request, emailconfirmation, signup)

    def add_message(self, request, level, message_template=None, message_context=None, extra_tags="", message=None):
        """Right after sign-up the log-in's "Welcome back" is wrong: a new member is welcomed."""
        match = getattr(request, "resolver_match", None)
        if message_template == "account/messages/logged_in.txt" and match is not None and match.url_name == "signup":
            message_template = "account/messages/signed_up.txt"
        super().add_message(request, level, message_template, message_context, extra_tags, message)

    def clean_username(self, username: str, shallow: bool = False) -> str:
        """NFKC-normalised, and refused when it would pass for someone else:
        letters of two alphabets that look alike ("аdmin" with a Cyrillic а),
        or one that reads as an existing name once such letters are taken
        for the Latin ones they imitate."""
        username = unicodedata.normalize("NFKC", username)
        username = super().clean_username(username, shallow=shallow)
        if confusables.is_dangerous(username):
            raise forms.ValidationError(
                _("This username mixes letters of different alphabets that look alike; choose another."),
                code="username_confusable",
            )
        if not shallow:
            skeleton = username_skeleton(username)
            if skeleton != username.lower() and User.objects.filter(username__iexact=skeleton).exists():
                raise forms.ValidationError(
                    _("This username looks like that of another member; choose another."), code="username_confusable"
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
        # Under its canonical name: some browsers report an alias ("Asia/Calcutta", "Europe/Kiev").
        user.time_zone = canonical_zone(zone) if is_time_zone(zone) else "UTC"
        # The language the sign-up page was read in (the browser's, or the footer's choice).
        user.language = getattr(request, "LANGUAGE_CODE", "") or settings.LANGUAGE_CODE
        if user.language not in dict(settings.LANGUAGES):
            user.language = settings.LANGUAGE_CODE
        if commit:
            user.save()
        return user


def mail_language(request: HttpRequest | None, email: str) -> str:
    """The language of an e-mail of allauth's to ``email``: the language of the request when the
    signed-in user it comes from is the address's owner (or when the address is nobody's), else the
    owner's own (``User.language``): "someone tried to sign up with your address", a reset asked for
    by a visitor, are read by the member, who chose their language on their profile."""
    request_language = getattr(request, "LANGUAGE_CODE", "") or translation.get_language() or settings.LANGUAGE_CODE
    owner = _address_owner(email)
    if owner is None:
        return request_language
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.pk == owner.pk:
        return request_language
    return owner.language or settings.LANGUAGE_CODE


def _address_owner(email: str) -> User | None:
    """The member whose address ``email`` is: a confirmed one first, then a primary one, then the
    account's own ``email``."""
    address = (
        EmailAddress.objects.filter(email__iexact=email)
        .select_related("user")
        .order_by("-verified", "-primary", "pk")
        .first()
    )
    if address is not None:
        return address.user
    return User.objects.filter(email__iexact=email).order_by("pk").first()


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
