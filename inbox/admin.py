"""Staff see every conversation about a gig, and the messages flagged for
contact details off the platform (orders' and inquiries'), read-only."""

from __future__ import annotations

from django.contrib import admin

from inbox.models import Inquiry, InquiryMessage
from orders.admin import FlaggedFilter


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Inquiry)
class InquiryAdmin(ReadOnly):
    list_display = ("id", "gig", "buyer", "seller", "created_at", "last_message_at")
    search_fields = ("gig__title", "buyer__username", "seller__username")
    list_select_related = ("gig", "buyer", "seller")


@admin.register(InquiryMessage)
class InquiryMessageAdmin(ReadOnly):
    list_display = ("id", "inquiry", "author", "contact_flag", "created_at")
    list_filter = (FlaggedFilter,)
    search_fields = ("body", "author__username")
    list_select_related = ("inquiry__gig", "author")
