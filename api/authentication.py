"""Who is calling: a personal access token (``Authorization: Bearer <token>``), or the signed-in
session of the browsable docs (with Django's CSRF check on every unsafe method)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from api.services import api_token_find, api_token_touch


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``request.auth`` is the ``ApiToken``. A token that is unknown, revoked or whose user is
    inactive gets 401, with the same words whichever it is."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the token as “Authorization: Bearer <token>”."))
        try:
            raw = header[1].decode()
        except UnicodeError:
            raw = ""
        token = api_token_find(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(
                _("This token is not valid: it may have been revoked. Create a new one on your profile.")
            )
        api_token_touch(token=token)
        return (token.user, token)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request with no credentials.
        return 'Bearer realm="api"'


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """The session of a signed-in member, for the docs page's "Try it out"; DRF's own class checks CSRF."""


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal access token from the API tokens page."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.CsrfSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
