"""Users in the admin: Django's user admin plus how they are paid."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Withdrawals and profile", {"fields": ("withdrawal_method", "payout_account", "bio")}),
    )
    list_display = ("username", "email", "withdrawal_method", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "withdrawal_method")
