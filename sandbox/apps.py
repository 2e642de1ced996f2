from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox payment provider"

    def ready(self) -> None:
        from marketplace.sweeps import Sweep, register_sweep
        from sandbox import sweeps

        register_sweep(Sweep("sandbox_webhooks", sweeps.sweep_webhooks, sweeps.webhooks_due))
