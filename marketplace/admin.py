"""The admin site's titles, and the read-only base every record-keeping
admin of the project uses.

Staff run the marketplace from here, but money and states still change only
through the services: the admins of records that the services write (orders,
milestones, the ledger, earnings, the activity log ...) are view-only, and the
one thing staff decide, a dispute, has its own buttons (``milestones/admin.py``).
"""

from __future__ import annotations

from django.contrib import admin

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
