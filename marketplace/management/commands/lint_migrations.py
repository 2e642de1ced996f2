"""`python manage.py lint_migrations`: refuse migrations that would lock a big table (``make lint``)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from marketplace.migration_lint import lint


class Command(BaseCommand):
    help = "Refuse migrations of our apps that build indexes, validate constraints or rewrite tables under a lock."

    def handle(self, *args, **options):
        ours = {
            config.label
            for config in apps.get_app_configs()
            if str(config.path).startswith(str(settings.BASE_DIR)) and ".venv" not in str(config.path)
        }
        problems = lint(ours)
        for problem in problems:
            self.stderr.write(str(problem))
        if problems:
            raise CommandError(
                f"{len(problems)} migration operation(s) would lock a table; see marketplace/migration_lint.py"
            )
        self.stdout.write(f"Migrations of {len(ours)} apps: nothing locks a table.")
