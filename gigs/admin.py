"""Gigs in the admin: staff may correct or retire a listing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gigs.models import Gig, GigExtra, GigImage, GigPackage, RequirementQuestion, SavedGig
from marketplace.admin import MoneyColumnsMixin, ReadOnlyAdmin, ReadOnlyInline
from marketplace.money import format_money


class SellersWordsInline(ReadOnlyInline):
    """What the seller wrote, shown to staff: the seller edits it in "Edit gig" (where the rules
    and the gig's starting price follow it), staff read it here. No page of its own to link to."""

    show_change_link = False


class PackageInline(SellersWordsInline):
    model = GigPackage
    fields = ("position", "name", "description", "workflow")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description=_("workflow"))
    def workflow(self, package: GigPackage) -> str:
        words = gettext("{position}. {title} ({price}, {days} d, {revisions} rev.)")
        return " → ".join(
            words.format(
                position=step.position,
                title=step.title,
                price=format_money(step.price),
                days=step.days,
                revisions=step.revisions_included,
            )
            for step in package.steps.all()
        )


class ExtraInline(SellersWordsInline):
    model = GigExtra
    fields = ("position", "title", "price", "days", "attach_to_step")
    readonly_fields = fields


class QuestionInline(SellersWordsInline):
    model = RequirementQuestion
    fields = ("position", "question", "answer_type", "required", "choices")
    readonly_fields = fields


class GigImageInline(ReadOnlyInline):
    """The gig's images as the seller arranged them (``gigs.images`` writes them): staff see each
    thumbnail and its description; retiring the gig hides them with it."""

    model = GigImage
    show_change_link = False
    fields = ("position", "preview", "alt_text", "width", "height", "created_at")
    readonly_fields = fields

    @admin.display(description=_("Thumbnail"))
    def preview(self, obj: GigImage) -> str:
        url = reverse("gig_image_file", args=[obj.gig_id, obj.pk, "thumbnail"])
        return format_html(
            '<img src="{}" width="{}" height="{}" alt="{}" style="max-width: 160px; height: auto">',
            url,
            obj.thumbnail_width,
            obj.thumbnail_height,
            obj.alt_text,
        )


@admin.register(Gig)
class GigAdmin(MoneyColumnsMixin, admin.ModelAdmin):
    list_display = ("title", "seller", "category", "starting_price", "delivery_days", "is_active", "paused_at")
    list_select_related = ("seller",)
    list_filter = ("is_active", "category", "created_at")
    search_fields = ("title", "seller__username")
    raw_id_fields = ("seller",)
    # Pausing is the seller's; staff retire a gig by unticking "is active".
    readonly_fields = ("created_at", "paused_at")
    inlines = (PackageInline, ExtraInline, QuestionInline, GigImageInline)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "category":
            return forms.ChoiceField(label=_("Category"), choices=settings.GIG_CATEGORIES)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Gig, form: Any, change: bool) -> None:
        # Staff listing a paused gig again resume it for the seller.
        if obj.is_active:
            obj.paused_at = None
        super().save_model(request, obj, form, change)


@admin.register(SavedGig)
class SavedGigAdmin(ReadOnlyAdmin):
    """Who saved which gig, and when: people write these themselves ("Save" and "Saved"); staff read."""

    list_display = ("gig", "user", "created_at")
    list_select_related = ("gig", "user")
    search_fields = ("gig__title", "user__username")
    date_hierarchy = "created_at"
