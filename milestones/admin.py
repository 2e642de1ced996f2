"""Milestones, their work and their disputes in the admin.

Everything here is view-only except one thing staff decide: how a dispute
ends. That happens through the buttons on the dispute's page
(``admin_views.resolve_view``), which call ``milestones.services.disputes.dispute_resolve``;
no state, amount or fee is ever edited as a field.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from marketplace.admin import ReadOnlyAdmin, ReadOnlyInline
from marketplace.money import format_money, zero
from milestones.admin_views import (
    BUTTON_LABELS,
    DisputeMessageForm,
    can_resolve,
    dispute_story,
    message_view,
    resolve_view,
    settlement_for,
)
from milestones.models import (
    Delivery,
    DeliveryFile,
    Dispute,
    DisputeOutcome,
    DisputeState,
    DisputeStatement,
    Milestone,
    MilestoneReminder,
    Proposal,
    RevisionRequest,
)
from orders.admin import OrderAdmin, OrderMessageInline
from orders.models import Order


class MilestoneInline(ReadOnlyInline):
    model = Milestone
    fields = ("position", "title", "state", "amount", "buyer_fee", "seller_fee", "deadline", "closed_at")
    readonly_fields = fields
    ordering = ("position",)


@admin.register(Order)
class OrderWithMilestonesAdmin(OrderAdmin):
    """The order's page: its milestones, then its messages. Registered here,
    above orders, because it shows milestones."""

    inlines = (MilestoneInline, OrderMessageInline)


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = ("id", "title", "order", "buyer", "seller", "state", "amount", "deadline", "created_at")
    list_display_links = ("id", "title")
    # The parties are the milestone's own copy of its order's (``Milestone.buyer`` and ``seller``).
    list_select_related = ("order", "buyer", "seller")
    list_filter = ("state", "created_at", "deadline")
    search_fields = ("title", "order__title", "buyer__username", "seller__username")
    readonly_fields = ("dispute_link",)

    @admin.display(description=gettext_lazy("dispute"))
    def dispute_link(self, obj: Milestone) -> str:
        dispute = Dispute.objects.filter(milestone=obj).only("pk", "state").first()
        if dispute is None:
            return "–"
        url = reverse("admin:milestones_dispute_change", args=[dispute.pk])
        label = _("Resolve the dispute") if dispute.state == DisputeState.OPEN else _("See the resolved dispute")
        return format_html('<a href="{}">{}</a>', url, label)


class DeliveryFileInline(ReadOnlyInline):
    model = DeliveryFile
    fields = ("original_name", "size", "content_type")
    readonly_fields = fields
    show_change_link = False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "milestone", "number", "author", "created_at")
    list_select_related = ("milestone", "author")
    search_fields = ("milestone__title", "author__username", "message")
    list_filter = ("created_at",)
    inlines = (DeliveryFileInline,)


@admin.register(DeliveryFile)
class DeliveryFileAdmin(ReadOnlyAdmin):
    list_display = ("id", "original_name", "delivery", "size", "content_type")
    list_select_related = ("delivery__milestone",)
    search_fields = ("original_name",)


@admin.register(RevisionRequest)
class RevisionRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "milestone", "author", "created_at", "feedback")
    list_select_related = ("milestone", "author")
    search_fields = ("milestone__title", "author__username", "feedback")
    list_filter = ("created_at",)


class ProposalInline(ReadOnlyInline):
    model = Proposal
    fields = ("kind", "state", "proposer", "new_deadline", "new_amount", "refund_amount", "respond_by", "decided_at")
    readonly_fields = fields
    show_change_link = True


MilestoneAdmin.inlines = (ProposalInline,)


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    """Changes of terms asked and answered: read-only, like the rest of the work's history."""

    list_display = ("id", "milestone", "kind", "state", "proposer", "created_at", "respond_by", "decided_at")
    list_select_related = ("milestone", "proposer")
    list_filter = ("kind", "state", "created_at")
    search_fields = ("milestone__title", "proposer__username", "reason")


@admin.register(MilestoneReminder)
class MilestoneReminderAdmin(ReadOnlyAdmin):
    list_display = ("id", "milestone", "kind", "sent_at")
    list_select_related = ("milestone",)
    list_filter = ("kind",)


@admin.register(DisputeStatement)
class DisputeStatementAdmin(ReadOnlyAdmin):
    list_display = ("id", "dispute", "author", "created_at", "body")
    list_select_related = ("dispute__milestone", "author")
    search_fields = ("body", "author__username")


class DisputeStateFilter(admin.SimpleListFilter):
    """Open disputes first: the changelist is a queue of work by default."""

    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            (DisputeState.OPEN, _("Open")),
            (DisputeState.RESOLVED, _("Resolved")),
            (DisputeState.WITHDRAWN, _("Settled by the parties")),
            ("all", _("All")),
        ]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        value = self.value() or DisputeState.OPEN
        if value == "all":
            return queryset
        return queryset.filter(state=value)

    def choices(self, changelist):
        current = self.value() or DisputeState.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    # The queue: how long each has waited comes first, the oldest at the top (``ordering``).
    list_display = (
        "age",
        "id",
        "order_title",
        "milestone",
        "amount",
        "buyer",
        "seller",
        "opened_by",
        "state",
        "outcome",
    )
    list_display_links = ("id", "order_title")
    list_select_related = ("milestone__order__buyer", "milestone__order__seller", "opened_by")
    list_filter = (DisputeStateFilter, "outcome", "opened_at")
    search_fields = (
        "milestone__order__title",
        "milestone__title",
        "milestone__order__buyer__username",
        "milestone__order__seller__username",
        "opened_by__username",
        "reason",
    )
    ordering = ("opened_at", "id")
    fieldsets = (
        (gettext_lazy("Dispute"), {"fields": ("milestone", "opened_by", "opened_at", "state", "reason")}),
        (
            gettext_lazy("Resolution"),
            {"fields": ("outcome", "to_seller", "to_buyer", "resolved_by", "resolved_at", "resolution_note")},
        ),
    )
    readonly_fields = ("to_seller", "to_buyer")
    change_form_template = "admin/milestones/dispute/change_form.html"

    @admin.display(ordering="milestone__order__title", description=gettext_lazy("order"))
    def order_title(self, obj: Dispute) -> str:
        return obj.milestone.order.title

    @admin.display(ordering="milestone__amount")
    def amount(self, obj: Dispute) -> str:
        return format_money(obj.milestone.amount)

    # The resolution's amounts as every page writes them (``format_money``), not django-money's ``US$30.00``.
    @admin.display(description=gettext_lazy("to the seller"))
    def to_seller(self, obj: Dispute) -> str:
        return format_money(obj.seller_amount) if obj.seller_amount is not None else "—"

    @admin.display(description=gettext_lazy("to the buyer"))
    def to_buyer(self, obj: Dispute) -> str:
        return format_money(obj.buyer_amount) if obj.buyer_amount is not None else "—"

    @admin.display(ordering="milestone__order__buyer__username")
    def buyer(self, obj: Dispute) -> str:
        return obj.milestone.order.buyer.username

    @admin.display(ordering="milestone__order__seller__username")
    def seller(self, obj: Dispute) -> str:
        return obj.milestone.order.seller.username

    @admin.display(ordering="opened_at", description=gettext_lazy("open for"))
    def age(self, obj: Dispute) -> str:
        return timesince(obj.opened_at)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("milestone__order__buyer", "milestone__order__seller", "opened_by", "resolved_by")
        )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name

        def resolve(request, object_id, outcome):
            return resolve_view(self, request, object_id, outcome)

        def message(request, object_id):
            return message_view(self, request, object_id)

        return [
            path(
                "<int:object_id>/message/",
                self.admin_site.admin_view(require_POST(message)),
                name="{}_{}_message".format(*info),
            ),
            path(
                "<int:object_id>/resolve/<str:outcome>/",
                self.admin_site.admin_view(require_POST(resolve)),
                name="{}_{}_resolve".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dispute = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if dispute is not None:
            context.update(dispute_story(dispute))
            context["can_resolve"] = dispute.state == DisputeState.OPEN and can_resolve(request.user)
            context["can_write"] = context["can_resolve"] and not dispute.milestone.order.is_party(request.user)
            context["message_form"] = DisputeMessageForm()
            context["message_url"] = reverse("admin:milestones_dispute_message", args=[dispute.pk])
            context["resolve_urls"] = {
                outcome.value: reverse("admin:milestones_dispute_resolve", args=[dispute.pk, outcome.value])
                for outcome in DisputeOutcome
            }
            held = context["escrow"]
            buyer_fee = dispute.milestone.buyer_fee
            context["release_preview"] = settlement_for(held=held, seller_gross=held, buyer_fee=buyer_fee)
            context["refund_preview"] = settlement_for(held=held, seller_gross=zero(held.currency), buyer_fee=buyer_fee)
            context["button_labels"] = {outcome.value: label for outcome, label in BUTTON_LABELS.items()}
        return super().change_view(request, object_id, form_url, extra_context=context)
