from django.core.management.base import BaseCommand, CommandError

from payments.audit import ledger_audit


class Command(BaseCommand):
    help = "Check every ledger invariant; exit 1 on any breach."

    def handle(self, *args, **options):
        report = ledger_audit()
        if not report.ok:
            self.stderr.write(report.summary())
            raise CommandError("the ledger audit found breaches", returncode=1)
        self.stdout.write(report.summary())
