"""allauth's account signals written to the security log (``SecurityEvent``): e-mail addresses
added, changed and removed, passwords changed and reset."""

from __future__ import annotations

from allauth.account import signals

from accounts.models import SecurityEventKind
from accounts.services import security_event_record
from marketplace.http import client_ip


def _ip(request) -> str | None:
    return client_ip(request) if request is not None else None


def on_email_added(sender, request=None, user=None, email_address=None, **kwargs):
    security_event_record(user=user, kind=SecurityEventKind.EMAIL_ADDED, detail=email_address.email, ip=_ip(request))


def on_email_changed(sender, request=None, user=None, from_email_address=None, to_email_address=None, **kwargs):
    before = from_email_address.email if from_email_address else "(none)"
    detail = f"{before} → {to_email_address.email}"
    security_event_record(user=user, kind=SecurityEventKind.EMAIL_CHANGED, detail=detail, ip=_ip(request))


def on_email_removed(sender, request=None, user=None, email_address=None, **kwargs):
    security_event_record(user=user, kind=SecurityEventKind.EMAIL_REMOVED, detail=email_address.email, ip=_ip(request))


def on_password_changed(sender, request=None, user=None, **kwargs):
    security_event_record(user=user, kind=SecurityEventKind.PASSWORD_CHANGED, ip=_ip(request))


def on_password_reset(sender, request=None, user=None, **kwargs):
    security_event_record(user=user, kind=SecurityEventKind.PASSWORD_RESET, ip=_ip(request))


def connect() -> None:
    signals.email_added.connect(on_email_added, dispatch_uid="accounts.security.email_added")
    signals.email_changed.connect(on_email_changed, dispatch_uid="accounts.security.email_changed")
    signals.email_removed.connect(on_email_removed, dispatch_uid="accounts.security.email_removed")
    signals.password_changed.connect(on_password_changed, dispatch_uid="accounts.security.password_changed")
    signals.password_reset.connect(on_password_reset, dispatch_uid="accounts.security.password_reset")
