from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """The project package and shared kernel. It owns no models now; it stays
    installed for its operator commands, its template filters and the
    migration history of the first layout (users, gigs and notices were
    created here and moved out with their tables)."""

    name = "marketplace"
    verbose_name = "Marketplace"
