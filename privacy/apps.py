from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """A user's rights over their data: a copy of it (a zip), the deletion of their account (personal
    data erased, the ledger and the other party's records kept), and the pruning of what the site no
    longer needs (expired sessions, old login attempts, read notices)."""

    name = "privacy"
    verbose_name = _("Privacy")
