"""Print the demo admin's current two-factor code (what an authenticator app shows)."""

from __future__ import annotations

import time

from allauth.mfa import app_settings
from django.core.management.base import BaseCommand

from demo.totp import DEMO_ADMIN_TOTP_SECRET, current_code


class Command(BaseCommand):
    help = "Print the demo admin's current authenticator code, and how long it stays valid."

    def handle(self, *args, **options):
        period = app_settings.TOTP_PERIOD
        left = period - int(time.time()) % period
        self.stdout.write(f"{current_code()}  (valid for {left} more seconds; secret {DEMO_ADMIN_TOTP_SECRET})")
