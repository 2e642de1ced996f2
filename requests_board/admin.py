"""Buyer requests in the admin, read-only as every record the services write."""

from django.contrib import admin

from marketplace.admin import ReadOnlyAdmin
from requests_board.models import BuyerRequest, ProposalStep, RequestProposal


@admin.register(BuyerRequest)
class BuyerRequestAdmin(ReadOnlyAdmin):
    list_display = ("title", "buyer", "category", "budget", "state", "created_at", "expires_at")
    list_filter = ("state", "category")
    search_fields = ("title", "buyer__username")


class ProposalStepInline(admin.TabularInline):
    model = ProposalStep
    extra = 0
    can_delete = False
    readonly_fields = ("position", "title", "deliverables", "days", "price")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RequestProposal)
class RequestProposalAdmin(ReadOnlyAdmin):
    list_display = ("request", "seller", "state", "created_at", "updated_at")
    list_filter = ("state",)
    inlines = [ProposalStepInline]
