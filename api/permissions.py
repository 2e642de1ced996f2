"""What a token may do: a read token reads only. Staff get nothing more through the API than any
member (it has no staff endpoints, and every query is limited to the caller's own records)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from api.models import ApiToken

READ_ONLY_WORDS = _("This token can only read. Create a token with read and write on your profile to make changes.")


class TokenScope(permissions.BasePermission):
    message = READ_ONLY_WORDS

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        token = request.auth
        return not isinstance(token, ApiToken) or token.can_write
