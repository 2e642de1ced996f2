from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's e-mail addresses app is "Accounts" too: two admin sections of one name.
    verbose_name = _("Users and security")

    def ready(self) -> None:
        # Imported here, not at the top: apps.py is loaded before the models are (the app registry),
        # and both modules import them.
        from allauth.mfa.signals import authenticator_added

        from accounts import receivers, two_factor
        from accounts.middleware import remember_time_zone, shorten_staff_session

        user_logged_in.connect(remember_time_zone, dispatch_uid="accounts.remember_time_zone")
        user_logged_in.connect(shorten_staff_session, dispatch_uid="accounts.shorten_staff_session")
        authenticator_added.connect(two_factor.on_authenticator_added, dispatch_uid="accounts.two_factor.enrolled")
        receivers.connect()
