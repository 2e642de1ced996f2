from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # Imported here, not at the top: apps.py is loaded before the models are (the app registry),
        # and both modules import them.
        from accounts import receivers
        from accounts.middleware import remember_time_zone

        user_logged_in.connect(remember_time_zone, dispatch_uid="accounts.remember_time_zone")
        receivers.connect()
