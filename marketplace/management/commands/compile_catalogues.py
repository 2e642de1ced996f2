"""``manage.py compile_catalogues``: the translations compiled (``marketplace.i18n``), by Babel."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from marketplace.i18n import compile_catalogues


class Command(BaseCommand):
    help = "Compile the site's translation catalogues (locale/*/LC_MESSAGES/django.po) to .mo files."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Compile every catalogue, even one up to date.")

    def handle(self, *args, force: bool = False, **options) -> None:
        written = compile_catalogues(force=force)
        self.stdout.write(f"{len(written)} catalogue(s) compiled.")
