"""Orders, their messages and activity log: view-only records for staff.

An order's status follows its milestones (``orders.services``), so nothing
here edits it; staff read the whole engagement on one page.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace.admin import ReadOnlyAdmin, ReadOnlyInline
from orders.models import Activity, OrderMessage, StaffFileRead


class OrderMessageInline(ReadOnlyInline):
    model = OrderMessage
    fields = ("created_at", "author", "body")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class OrderAdmin(ReadOnlyAdmin):
    """Registered by ``milestones/admin.py``, which adds the order's milestones
    to the page (orders knows nothing of milestones)."""

    list_display = ("id", "title", "buyer", "seller", "currency", "status", "created_at", "updated_at")
    list_display_links = ("id", "title")
    list_select_related = ("buyer", "seller")
    list_filter = ("status", "currency", "created_at")
    search_fields = ("title", "buyer__username", "seller__username")
    date_hierarchy = "created_at"
    inlines: tuple[type[ReadOnlyInline], ...] = (OrderMessageInline,)


class FlaggedFilter(admin.SimpleListFilter):
    """Messages that carry contact details off the platform (kept as written)."""

    title = gettext_lazy("contact details off the platform")
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", _("Flagged")), ("no", _("Not flagged"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(contact_flag="")
        if self.value() == "no":
            return queryset.filter(contact_flag="")
        return queryset


@admin.register(OrderMessage)
class OrderMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "order", "author", "created_at", "contact_flag", "body")
    list_select_related = ("order", "author")
    search_fields = ("body", "author__username", "order__title")
    list_filter = (FlaggedFilter, "created_at")


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "order", "milestone", "actor_name", "verb", "from_state", "to_state", "note")
    list_select_related = ("order", "milestone", "actor")
    list_filter = ("verb", "created_at")
    search_fields = ("order__title", "actor__username", "note")
    date_hierarchy = "created_at"

    @admin.display(description=gettext_lazy("actor"), ordering="actor__username")
    def actor_name(self, obj: Activity) -> str:
        return obj.actor_name


@admin.register(StaffFileRead)
class StaffFileReadAdmin(ReadOnlyAdmin):
    """The staff-read log: every order page, conversation and private file opened by someone not
    party to it, and every such read refused for want of two-factor."""

    list_display = ("read_at", "reader", "kind", "file_name", "order", "where")
    list_select_related = ("reader", "order")
    list_filter = ("kind", "read_at")
    search_fields = ("reader__username", "file_name", "order__title")
    date_hierarchy = "read_at"
