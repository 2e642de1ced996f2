from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from payments.reconcile import payments_reconcile


class Command(BaseCommand):
    help = "Compare the payment provider's charges, refunds and payouts with the ledger; exit 1 on any mismatch."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90, help="How far back to look (default 90 days).")

    def handle(self, *args, days: int, **options):
        report = payments_reconcile(since=timezone.now() - timedelta(days=days))
        history = (
            f"{report.skipped_as_history} of the provider's records skipped as history"
            " (copied at the upgrade from the first layout, before our records began)."
        )
        if not report.ok:
            for line in report.mismatches:
                self.stderr.write(line)
            if report.skipped_as_history:
                self.stderr.write(history)
            raise CommandError(f"{len(report.mismatches)} mismatch(es) with the provider", returncode=1)
        self.stdout.write(f"OK: {report.checked} movements match the provider's records.")
        if report.skipped_as_history:
            self.stdout.write(history)
