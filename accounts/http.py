"""The typed request of a signed-in page."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User


class AuthedRequest(HttpRequest):
    """What ``login_required`` guarantees: a signed-in marketplace user."""

    user: User
