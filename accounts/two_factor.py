"""Staff reads of other people's orders, messages and files need a session that passed two-factor.

The support permission (``orders.support_read``) opens every order, conversation and private file.
A password alone must not: a stolen or guessed staff password would read everyone's work. So a
staff read counts only in a session whose log-in (or a later re-authentication) passed the second
factor, which allauth writes down in the session's authentication records (``method: "mfa"``);
enrolling an authenticator, which asks for a valid code, counts too (``on_authenticator_added``).

Which session passed is request state, like the active time zone: ``StaffTwoFactorMiddleware``
sets it for the request (``passed_two_factor``), and the one check of the support permission
(``orders.selectors.may_read_any_order``) reads it. Outside a request (a task, a shell) it is
False: nothing there reads on staff's behalf.
"""

from __future__ import annotations

from contextvars import ContextVar

from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.login import record_authentication
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

_passed: ContextVar[bool] = ContextVar("passed_two_factor", default=False)


class SecondFactorRequired(PermissionDenied):
    """A staff read asked for in a session that has not passed two-factor: the page says how."""


def session_passed_two_factor(request: HttpRequest) -> bool:
    session = getattr(request, "session", None)
    if session is None:
        return False
    return any(record.get("method") == "mfa" for record in get_authentication_records(request))


def passed_two_factor() -> bool:
    """Whether the current request's session passed the second factor (False outside a request)."""
    return _passed.get()


def activate(passed: bool):
    """Set for the request; returns the token ``deactivate`` takes."""
    return _passed.set(passed)


def deactivate(token) -> None:
    _passed.reset(token)


def on_authenticator_added(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    """Enrolling an authenticator app asks for one of its codes: the session has passed it."""
    if request is not None and user is not None and authenticator is not None:
        record_authentication(request, user, "mfa", type=authenticator.type, id=authenticator.pk, enrolled=True)
