from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from marketplace.sweeps import Sweep, register_sweep
        from payments import sweeps

        register_sweep(Sweep("clearance", sweeps.sweep_clearance, sweeps.clearance_due))
        register_sweep(Sweep("outbox", sweeps.sweep_outbox, sweeps.outbox_due))
