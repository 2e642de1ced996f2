"""Gigs in the admin: staff may correct or retire a listing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest

from gigs.models import Gig
from marketplace.admin import MoneyColumnsMixin


@admin.register(Gig)
class GigAdmin(MoneyColumnsMixin, admin.ModelAdmin):
    list_display = ("title", "seller", "category", "starting_price", "delivery_days", "is_active", "paused_at")
    list_select_related = ("seller",)
    list_filter = ("is_active", "category", "created_at")
    search_fields = ("title", "seller__username")
    raw_id_fields = ("seller",)
    # Pausing is the seller's; staff retire a gig by unticking "is active".
    readonly_fields = ("created_at", "paused_at")

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "category":
            return forms.ChoiceField(label="Category", choices=settings.GIG_CATEGORIES)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Gig, form: Any, change: bool) -> None:
        # Staff listing a paused gig again resume it for the seller.
        if obj.is_active:
            obj.paused_at = None
        super().save_model(request, obj, form, change)
