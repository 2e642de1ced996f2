from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.middleware import remember_time_zone

        user_logged_in.connect(remember_time_zone, dispatch_uid="accounts.remember_time_zone")

        from accounts import receivers

        receivers.connect()
