"""Notices, view-only: the services write them."""

from __future__ import annotations

from django.contrib import admin

from marketplace.admin import ReadOnlyAdmin
from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("recipient", "event", "message", "created_at", "read_at", "emailed_at")
    list_select_related = ("recipient",)
    list_filter = ("event", "created_at")
    search_fields = ("recipient__username", "message")
    date_hierarchy = "created_at"
