"""Per-token rate limits (``API_RATE_LIMIT``): one bucket per token, per signed-in session user, or
per client address. Over it: 429 with ``Retry-After``."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken
from marketplace.http import client_ip


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        # Read at each request, not at import, so that a test (or a settings change) applies at once.
        return settings.API_RATE_LIMIT

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{client_ip(request._request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
