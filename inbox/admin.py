"""Staff see every conversation about a gig, and the messages flagged for
contact details off the platform (orders' and inquiries'), read-only."""

from __future__ import annotations

from django.contrib import admin

from inbox.models import Inquiry, InquiryMessage
from marketplace.admin import ReadOnlyAdmin
from orders.admin import FlaggedFilter


@admin.register(Inquiry)
class InquiryAdmin(ReadOnlyAdmin):
    list_display = ("id", "gig", "buyer", "seller", "created_at", "last_message_at")
    search_fields = ("gig__title", "buyer__username", "seller__username")
    list_select_related = ("gig", "buyer", "seller")


@admin.register(InquiryMessage)
class InquiryMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "inquiry", "author", "contact_flag", "created_at")
    list_filter = (FlaggedFilter,)
    search_fields = ("body", "author__username")
    list_select_related = ("inquiry__gig", "author")
