"""The client's address behind the proxies we trust, and the site's own address for links that leave a page."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified


def client_ip(request: HttpRequest) -> str:
    """The address that connected to the first of our ``TRUSTED_PROXY_COUNT``
    proxies. Each proxy appends the address it received the request from to
    ``X-Forwarded-For``, so the client is the n-th entry from the right; entries
    further left were written by the client itself and are never believed.
    With no trusted proxy, the socket's address (``REMOTE_ADDR``), whatever
    the headers say."""
    trusted = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "")
    if trusted <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < trusted:
        return remote
    return forwarded[-trusted]


def site_url(path: str) -> str:
    """``path`` on the site's public address (``SITE_URL``): for links read away from the request that
    made them (e-mails, a provider's webhooks), which must not depend on the host a request came in on."""
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def not_modified_or(request: HttpRequest, etag: str, render_page: Callable[[], HttpResponse]) -> HttpResponse:
    """A live page's poll: 304 when the client already has ``etag``, else the
    page ``render_page`` makes; either way tagged, and revalidated every time."""
    if etag in request.headers.get("If-None-Match", ""):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = render_page()
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


class RequestIdMiddleware:
    """After django-structlog's ``RequestMiddleware``: the client's address, as we trust it, on every
    line of the request, and the request's id on the response (``X-Request-ID``), so a user who
    reports an error can quote it and an operator finds every line of it, nginx's included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        structlog.contextvars.bind_contextvars(client=client_ip(request))
        session = getattr(request, "session", None)
        user_id = None
        if session is not None:
            accessed = session.accessed  # reading it must not add "Vary: Cookie" to a public page
            user_id = session.get("_auth_user_id")
            session.accessed = accessed
        if user_id:
            structlog.contextvars.bind_contextvars(user_id=user_id)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        response = self.get_response(request)
        if request_id:
            response["X-Request-ID"] = request_id
        return response
