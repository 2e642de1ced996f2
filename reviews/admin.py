"""Reviews in the admin: read-only, except that staff may hide one with a reason (logged)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace.admin import ReadOnlyAdmin
from marketplace.errors import DomainError
from reviews.models import Review
from reviews.services import review_hide


class HideForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("id", "order", "author", "subject", "role", "rating", "published_at", "hidden_at")
    list_select_related = ("order", "author", "subject")
    list_filter = ("role", "published_at", "hidden_at")
    search_fields = ("text", "author__username", "subject__username", "order__title")
    actions = ("hide_reviews",)  # type: ignore[assignment]  # the one thing staff may do here

    @admin.action(description=gettext_lazy("Hide the selected reviews (with a reason)"))
    def hide_reviews(self, request, queryset):
        form = HideForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            hidden = 0
            for review in queryset:
                try:
                    review_hide(review=review, actor=request.user, reason=form.cleaned_data["reason"])
                except DomainError as error:
                    self.message_user(
                        request, _("Review {pk}: {error}").format(pk=review.pk, error=error.message), messages.WARNING
                    )
                else:
                    self.log_change(request, review, f"Hidden: {form.cleaned_data['reason']}")
                    hidden += 1
            self.message_user(request, _("{count} review(s) hidden.").format(count=hidden), messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Hide reviews"),
            "reviews": queryset,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return render(request, "admin/reviews/hide.html", context)
