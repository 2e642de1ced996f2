"""The ledger and the records hanging off it, for reading only.

Entries are immutable (PostgreSQL refuses UPDATE and DELETE) and every
movement is a service's balanced transaction, so no one, superusers included,
may add, change or delete any of these rows from the admin: a correction is a
new, reversing transaction posted by a service.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from marketplace.admin import ReadOnlyAdmin, ReadOnlyInline
from payments.models import (
    Account,
    Checkout,
    CommandStatus,
    Earning,
    Entry,
    ProviderCommand,
    Transaction,
    WebhookEvent,
    Withdrawal,
)
from payments.outbox import command_give_up, command_retry
from payments.receipts import SIDES, receipt_number


class EntryInline(ReadOnlyInline):
    model = Entry
    fields = ("account", "amount")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__user")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "currency", "user", "milestone", "balance", "created_at")
    list_select_related = ("user", "milestone")
    list_filter = ("kind", "currency")
    search_fields = ("user__username", "milestone__title")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "kind", "idempotency_key", "milestone", "actor", "memo", "receipt")
    list_select_related = ("milestone", "actor")
    list_filter = ("kind", "created_at")
    search_fields = ("idempotency_key", "memo", "actor__username", "milestone__title")
    date_hierarchy = "created_at"
    inlines = (EntryInline,)

    @admin.display(description=_("Receipt"))
    def receipt(self, obj: Transaction) -> str:
        sides = SIDES.get(obj.kind, ())
        if not sides:
            return "—"
        url = reverse("receipt", args=[obj.pk])
        if len(sides) == 1:
            return format_html('<a href="{}">{}</a>', url, receipt_number(obj.pk))
        return format_html_join(
            " · ", '<a href="{}?side={}">{} ({})</a>', ((url, s, receipt_number(obj.pk), s) for s in sides)
        )


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "transaction", "account", "amount")
    list_select_related = ("transaction", "account__user")
    list_filter = ("account__kind", "amount_currency")
    search_fields = ("transaction__idempotency_key", "account__user__username")


@admin.register(Earning)
class EarningAdmin(ReadOnlyAdmin):
    list_display = ("id", "seller", "milestone", "gross", "fee", "net", "status", "method", "clears_at", "cleared_at")
    list_select_related = ("seller", "milestone")
    list_filter = ("status", "method", "clears_at")
    search_fields = ("seller__username", "milestone__title")


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ("id", "seller", "amount", "method", "status", "created_at", "processed_at", "failure_reason")
    list_select_related = ("seller",)
    list_filter = ("status", "method", "created_at")
    search_fields = ("seller__username", "idempotency_key", "gateway_reference")


@admin.register(Checkout)
class CheckoutAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "buyer", "milestone", "amount", "provider", "status", "expires_at", "paid_at")
    list_select_related = ("buyer", "milestone")
    list_filter = ("status", "provider", "created_at")
    search_fields = ("buyer__username", "session_id", "payment_reference", "milestone__title")
    date_hierarchy = "created_at"


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """Every event the provider sent, as received: for reading only."""

    list_display = ("id", "received_at", "provider", "type", "event_id", "outcome")
    list_filter = ("provider", "type", "received_at")
    search_fields = ("event_id", "outcome")
    date_hierarchy = "received_at"


@admin.register(ProviderCommand)
class ProviderCommandAdmin(ReadOnlyAdmin):
    """Payouts and refunds to card. A command the provider kept refusing to
    answer waits here (``stuck``): retry it, or give up and return the money
    to the user after checking the provider's dashboard."""

    list_display = (
        "id",
        "created_at",
        "kind",
        "user",
        "amount",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    list_select_related = ("user",)
    list_filter = ("status", "kind", "created_at")
    search_fields = ("user__username", "idempotency_key", "provider_reference", "payment_reference")
    date_hierarchy = "created_at"
    actions = ("retry", "give_up")  # type: ignore[assignment]  # ReadOnlyAdmin has none

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm("payments.operate_providercommand")

    @admin.action(description=_("Retry the selected stuck commands now"), permissions=["operate"])
    def retry(self, request, queryset) -> None:
        done = sum(command_retry(command_id=pk, actor=request.user) for pk in queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            gettext("{n} command(s) sent again.").format(n=done),
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Give up the selected stuck commands (the money returns to the user)"), permissions=["operate"]
    )
    def give_up(self, request, queryset) -> None:
        stuck = queryset.filter(status=CommandStatus.STUCK).values_list("pk", flat=True)
        done = sum(command_give_up(command_id=pk, actor=request.user, reason="staff decision") for pk in stuck)
        self.message_user(
            request,
            gettext("{n} command(s) closed; the money is back with the users.").format(n=done),
            messages.WARNING,
        )
