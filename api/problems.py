"""Every error of the API as ``application/problem+json`` (RFC 9457): ``type``, ``title``,
``status``, ``detail``, and ``errors`` (field: messages) for bad input.

The words are the pages' own: a service's refusal (``marketplace.errors``) is passed on as it
is. What the caller may not see is 404, never 403 (an outsider must not learn it exists);
a rule refusing a party is 403 (wrong role) or 409 (wrong state).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from marketplace.errors import (
    DomainError,
    DuplicateRequest,
    InsufficientFunds,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    PaymentDeclined,
)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/api/docs/#problem-"

# The kind of refusal, its status and its title; the most specific class first.
DOMAIN_STATUS: tuple[tuple[type[DomainError], int, Any], ...] = (
    (DuplicateRequest, status.HTTP_409_CONFLICT, gettext_lazy("Already done")),
    (InvalidTransition, status.HTTP_409_CONFLICT, gettext_lazy("Not possible in this state")),
    (NotAllowed, status.HTTP_403_FORBIDDEN, gettext_lazy("Not yours to do")),
    (InsufficientFunds, status.HTTP_402_PAYMENT_REQUIRED, gettext_lazy("Not enough balance")),
    (PaymentDeclined, status.HTTP_402_PAYMENT_REQUIRED, gettext_lazy("Payment declined")),
    (InvalidInput, status.HTTP_400_BAD_REQUEST, gettext_lazy("Invalid input")),
    (DomainError, status.HTTP_400_BAD_REQUEST, gettext_lazy("Refused")),
)

TITLES = {
    400: gettext_lazy("Invalid input"),
    401: gettext_lazy("Not authenticated"),
    403: gettext_lazy("Forbidden"),
    404: gettext_lazy("Not found"),
    405: gettext_lazy("Method not allowed"),
    406: gettext_lazy("Not acceptable"),
    409: gettext_lazy("Conflict"),
    413: gettext_lazy("Too large"),
    415: gettext_lazy("Unsupported media type"),
    429: gettext_lazy("Too many requests"),
}


def problem(
    status_code: int,
    detail: str,
    *,
    title: Any = "",
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    title = title or TITLES.get(status_code, gettext_lazy("Error"))
    # The title in the reader's language (the request's); its ``type`` is the same in every one.
    with translation.override(None):
        english = str(title)
    body: dict[str, Any] = {
        "type": TYPE_BASE + english.lower().replace(" ", "-"),
        "title": str(title),
        "status": status_code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_JSON)


def domain_problem(error: DomainError) -> Response:
    for kind, code, title in DOMAIN_STATUS:
        if isinstance(error, kind):
            errors = {error.field: [error.message]} if error.field else None
            return problem(code, error.message, title=title, errors=errors)
    raise AssertionError("DomainError is the last row")  # pragma: no cover


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation detail as ``{"field": [messages]}`` (``non_field_errors`` as ``""``)."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            name = f"{prefix}.{name}" if prefix and name else (prefix or name)
            for field, messages in _flatten(value, name).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict):
                for field, messages in _flatten(value, f"{prefix}.{index}" if prefix else str(index)).items():
                    out.setdefault(field, []).extend(messages)
            else:
                out.setdefault(prefix, []).append(str(value))
    else:
        out.setdefault(prefix, []).append(str(detail))
    return out


def validation_problem(errors: dict[str, list[str]]) -> Response:
    first = next((messages[0] for messages in errors.values() if messages), _("The request is not valid."))
    more = len(errors) - 1
    detail = (
        first
        if len(errors) == 1
        else ngettext("{first} (and {more} more: see errors)", "{first} (and {more} more: see errors)", more).format(
            first=first, more=more
        )
    )
    return problem(status.HTTP_400_BAD_REQUEST, detail, errors=errors)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return domain_problem(exc)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound(str(exc) if isinstance(exc, Http404) and str(exc) else _("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500, logged
    headers = {name: value for name, value in response.items() if name in ("Retry-After", "WWW-Authenticate", "Allow")}
    if isinstance(exc, exceptions.ValidationError):
        return validation_problem(_flatten(exc.detail))
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        seconds = int(exc.wait) + 1
        detail = ngettext(
            "Too many requests with this token; try again in {seconds} seconds.",
            "Too many requests with this token; try again in {seconds} seconds.",
            seconds,
        ).format(seconds=seconds)
    return problem(response.status_code, str(detail), headers=headers)
