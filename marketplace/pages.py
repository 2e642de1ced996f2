"""Rendered parts of a page, kept per viewer and reused while what they show is unchanged.

A page whose parts are costly to build and render (the order page's milestones
and thread, a dashboard's sections) names what they show by a version read in
one cheap query, and asks ``cached_parts`` for them. The parts live in each web
process's memory (the ``pages`` LocMemCache): no page waits on Redis, and a
restart (a deploy) starts empty.

The key holds the page's version, the query string (it picks pages and
histories, and the parts' links keep it), the viewer (and their staff flag),
their time zone, their language (the footer's choice moves no version) and a window of
``PAGE_CACHE_SECONDS``: what changes without moving the version, the relative times ("in 3
days") included, shows within the window.

A CSRF token belongs to the browser, not to the viewer: a part holds a random
stand-in, replaced by the request's own token each time it is served.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

# Random per process, so no one can write it into a message to have it replaced.
CSRF_STAND_IN = f"csrf-{secrets.token_urlsafe(24)}"

# Parts longer than this together are rendered every time: with the cache's MAX_ENTRIES (200), a
# process keeps at most some 50 MB of them. A 50-milestone order page is about 125,000 characters.
LARGEST_KEPT = 256 * 1024


def cached_parts(
    request: HttpRequest, key: Iterable[object], render: Callable[[], tuple[str, ...]]
) -> list[SafeString]:
    """``render()``'s parts for ``key`` (the page's name and version), from the cache when this
    viewer had them in the current window. ``render`` must give ``CSRF_STAND_IN`` as the templates'
    ``csrf_token``."""
    ttl = settings.PAGE_CACHE_SECONDS
    user = request.user
    full_key = ":".join(
        str(part)
        for part in (
            *key,
            hashlib.blake2b(request.GET.urlencode().encode(), digest_size=12).hexdigest(),
            user.pk,
            int(user.is_staff),
            timezone.get_current_timezone_name(),
            translation.get_language(),
            int(time.time() // ttl) if ttl > 0 else 0,
        )
    )
    cache = caches["pages"]
    parts = cache.get(full_key) if ttl > 0 else None
    if parts is None:
        parts = render()
        if ttl > 0 and sum(len(part) for part in parts) <= LARGEST_KEPT:
            cache.set(full_key, parts, ttl)
    token = get_token(request)
    # Rendered by our templates, escaped there; only the token is put in.
    return [mark_safe(part.replace(CSRF_STAND_IN, token)) for part in parts]  # noqa: S308
