"""Buyer requests in the admin, read-only as every record the services write."""

from django.contrib import admin

from marketplace.admin import ReadOnlyAdmin, ReadOnlyInline
from requests_board.models import BuyerRequest, ProposalStep, RequestAttachment, RequestProposal


class RequestAttachmentInline(ReadOnlyInline):
    """The files posted with the request: their names, types and sizes. No link: a file is sent
    only by ``requests_board.views.request_file`` to those who may see the request, never from
    ``MEDIA_URL``."""

    model = RequestAttachment
    show_change_link = False
    fields = ("original_name", "content_type", "size")
    readonly_fields = fields


@admin.register(BuyerRequest)
class BuyerRequestAdmin(ReadOnlyAdmin):
    list_display = ("title", "buyer", "category", "budget", "state", "created_at", "expires_at")
    list_filter = ("state", "category")
    search_fields = ("title", "buyer__username")
    inlines = [RequestAttachmentInline]


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
