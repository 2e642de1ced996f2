from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from marketplace.sweeps import Sweep, register_sweep
        from notifications import sweeps

        register_sweep(Sweep("emails", sweeps.sweep_emails, sweeps.emails_due))
