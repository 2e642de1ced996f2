"""Writes of the API's tokens: create, revoke, and the last-used time."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from api.models import ApiScope, ApiToken, key_hash
from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from marketplace.text import clean_text

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "mkt_"  # noqa: S105 - the prefix every token starts with, not a secret
# How many live tokens one person may hold: enough for every tool, few enough to review on one page.
MAX_ACTIVE_TOKENS = 20
# The last-used time is written at most once per this: not a write on every request.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def api_token_create(*, user: User, name: str, scope: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it and its secret, which is never stored and cannot be shown again."""
    name = clean_text(name or "").strip()
    errors: list[InvalidInput] = []
    if not name:
        errors.append(InvalidInput(_("Give the token a name, so you can tell it apart later."), field="name"))
    elif len(name) > 100:
        errors.append(InvalidInput(_("Keep the name to 100 characters or fewer."), field="name"))
    if scope not in ApiScope.values:
        errors.append(InvalidInput(_("Choose read, or read and write."), field="scope"))
    if errors:
        raise errors[0]
    with transaction.atomic():
        User.objects.select_for_update(of=("self",)).filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
            raise InvalidInput(
                _("You have {count} tokens already; revoke one you no longer use first.").format(
                    count=MAX_ACTIVE_TOKENS
                ),
                field="name",
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(
            user=user, name=name, scope=scope, prefix=secret[: len(TOKEN_PREFIX) + 6], key_hash=key_hash(secret)
        )
    logger.info("api token created", extra={"user": user.pk, "token": token.pk, "scope": scope})
    return token, secret


def api_token_ensure(*, user: User, name: str, scope: str, secret: str) -> ApiToken:
    """The token of a secret chosen by the caller (the demo's, derived from ``SECRET_KEY``), made once:
    run again, it is the same row. A revoked one stays revoked (``InvalidTransition``)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) < len(TOKEN_PREFIX) + 40:
        raise InvalidInput("A token is mkt_ and at least 40 random characters.", field="secret")
    with transaction.atomic():
        token, _created = ApiToken.objects.get_or_create(
            key_hash=key_hash(secret),
            defaults={"user": user, "name": name, "scope": scope, "prefix": secret[: len(TOKEN_PREFIX) + 6]},
        )
    if token.user_id != user.pk or token.revoked_at is not None:
        raise InvalidTransition(_("The token “{name}” was revoked; it stays revoked.").format(name=token.name))
    return token


def api_token_revoke(*, token: ApiToken, actor: User) -> ApiToken:
    """Revoke ``actor``'s own token: it opens nothing from the next request on."""
    if token.user_id != actor.pk:
        raise NotAllowed(_("Only the token's owner can revoke it."))
    with transaction.atomic():
        token = ApiToken.objects.select_for_update(of=("self",)).get(pk=token.pk)
        if token.revoked_at is not None:
            raise InvalidTransition(_("The token “{name}” is already revoked.").format(name=token.name))
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    logger.info("api token revoked", extra={"user": actor.pk, "token": token.pk})
    return token


def api_token_find(raw: str) -> ApiToken | None:
    """The live token of this secret, with its user, or None (unknown, revoked, or the user is inactive)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=key_hash(raw), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    return token


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was used, at most once a minute: one conditional UPDATE, no lock (a lost
    race between two requests writes the same minute)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_GRANULARITY:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_GRANULARITY)
    ).update(last_used_at=now)
    token.last_used_at = now
