"""Admin for users, gigs and notifications, and the read-only base every
record-keeping admin of the project uses.

Staff run the marketplace from here, but money and states still change only
through the services: the admins of records that the services write (orders,
milestones, the ledger, earnings, the activity log ...) are view-only, and the
one thing staff decide, a dispute, has its own buttons (``milestones/admin.py``).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from marketplace.models import Gig, Notification, User

admin.site.site_header = "Milestone Marketplace administration"
admin.site.site_title = "Milestone Marketplace admin"
admin.site.index_title = "Run the marketplace"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only: no add, change or delete for anyone, superusers included.

    For records that only services may write. Refusing the permissions (not
    just hiding the buttons) makes Django answer 403 to the add, change and
    delete URLs and drops the bulk "delete selected" action.
    """

    actions = None

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Withdrawals and profile", {"fields": ("withdrawal_method", "payout_account", "bio")}),
    )
    list_display = ("username", "email", "withdrawal_method", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "withdrawal_method")


@admin.register(Gig)
class GigAdmin(admin.ModelAdmin):
    list_display = ("title", "seller", "starting_price", "delivery_days", "is_active", "created_at")
    list_select_related = ("seller",)
    list_filter = ("is_active", "created_at")
    search_fields = ("title", "seller__username")
    raw_id_fields = ("seller",)
    readonly_fields = ("created_at",)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("recipient", "event", "message", "created_at", "read_at", "emailed_at")
    list_select_related = ("recipient",)
    list_filter = ("event", "created_at")
    search_fields = ("recipient__username", "message")
    date_hierarchy = "created_at"
