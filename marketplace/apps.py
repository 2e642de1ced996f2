from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """The project package and shared kernel: operator commands, template
    filters, the processes' heartbeats, and the migration history of the
    first layout (users, gigs and notices were created here and moved out
    with their tables)."""

    name = "marketplace"
    verbose_name = "Marketplace"
