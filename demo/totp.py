"""The demo admin's two-factor secret, and the code an authenticator app
would show for it now. Demo data only: a real operator enrols their own."""

from __future__ import annotations

import time

from allauth.mfa import app_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

# Base32, as an authenticator app takes it ("Enter a setup key").
DEMO_ADMIN_TOTP_SECRET = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"  # noqa: S105 (demo data, printed in the README)


def current_code(secret: str = DEMO_ADMIN_TOTP_SECRET, *, at: float | None = None) -> str:
    counter = int(at if at is not None else time.time()) // app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))
