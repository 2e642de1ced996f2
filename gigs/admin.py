"""Gigs in the admin: staff may correct or retire a listing."""

from __future__ import annotations

from django.contrib import admin

from gigs.models import Gig


@admin.register(Gig)
class GigAdmin(admin.ModelAdmin):
    list_display = ("title", "seller", "starting_price", "delivery_days", "is_active", "created_at")
    list_select_related = ("seller",)
    list_filter = ("is_active", "created_at")
    search_fields = ("title", "seller__username")
    raw_id_fields = ("seller",)
    readonly_fields = ("created_at",)
