from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API (``/api/v1/``) and the personal access tokens that open it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "API"
