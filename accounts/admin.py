"""Users in the admin: Django's user admin plus how they are paid."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import SecurityEvent
from marketplace.admin import ReadOnlyAdmin

LEVEL_FIELDS = ("seller_level", "seller_level_since", "seller_evaluated_at", "response_seconds", "response_rate")


class UserAdmin(BaseUserAdmin):
    """Registered in ``privacy/admin.py``, which adds what the apps above this one know about the
    user (balances, orders, disputes) and closes accounts through the deletion service."""

    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Withdrawals and profile"), {"fields": ("withdrawal_method", "payout_account", "payout_token", "bio")}),
        (
            _("Seller level"),
            {"fields": LEVEL_FIELDS},
        ),
    )
    # Payout details change only through the profile, which checks and tokenizes a new account and keeps
    # its mask ("•••• 4242"): a number typed here would be stored whole and never reach the provider.
    # The level is the nightly sweep's judgement (``accounts.services.seller_level_update``), not staff's.
    readonly_fields: tuple[str, ...] = (
        "payout_account",
        "payout_token",
        *LEVEL_FIELDS,
    )
    list_display = ("username", "email", "withdrawal_method", "seller_level", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "withdrawal_method", "seller_level")


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    """The security log: payout details, e-mail addresses and passwords changed, data exported,
    accounts deleted. Read-only, for everyone."""

    list_display = ("created_at", "user", "kind", "detail", "ip")
    list_select_related = ("user",)
    list_filter = ("kind", "created_at")
    search_fields = ("user__username", "detail", "ip")
    date_hierarchy = "created_at"
