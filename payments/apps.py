from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from accounts.payouts import register_payout_tokenizer
        from marketplace.sweeps import Sweep, register_sweep
        from payments import sweeps
        from payments.connect import payout_tokenize

        # The profile (accounts, below) keeps a payout account as the provider's token for it.
        register_payout_tokenizer(payout_tokenize)

        register_sweep(Sweep("clearance", sweeps.sweep_clearance, sweeps.clearance_due))
        register_sweep(Sweep("outbox", sweeps.sweep_outbox, sweeps.outbox_due))
