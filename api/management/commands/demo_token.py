"""Print an API token of the demo buyer (``make demo-token``), made on the first run and the same after."""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from api.models import ApiScope
from api.services import TOKEN_PREFIX, api_token_ensure
from marketplace.errors import DomainError

DEMO_BUYER = "buyer"


def demo_secret(generation: int = 0) -> str:
    """Derived from ``SECRET_KEY``: the same on every run of one installation, unknown to anyone else."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"demo-api-token:{generation}".encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Command(BaseCommand):
    help = "Print a read-and-write API token of the demo buyer (debug installations only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("The demo token is for the demo (DEBUG=true) only; create tokens on the profile.")
        buyer = User.objects.filter(username=DEMO_BUYER).first()
        if buyer is None:
            raise CommandError("No demo buyer: run `make run` (it seeds the demo) first.")
        # A revoked demo token stays revoked: the next generation is another token.
        for generation in range(100):
            secret = demo_secret(generation)
            try:
                api_token_ensure(user=buyer, name="Demo", scope=ApiScope.READ_WRITE, secret=secret)
            except DomainError:
                continue
            break
        else:  # pragma: no cover
            raise CommandError("Every demo token is revoked; create one on the profile.")
        site = settings.SITE_URL
        self.stdout.write(
            f"{secret}\n"
            f"(the demo buyer's token, read and write) e.g.: curl -H 'Authorization: Bearer {secret}' "
            f"{site}/api/v1/orders/\nAPI docs: {site}/api/docs/"
        )
