"""The ledger and the records hanging off it, for reading only.

Entries are immutable (PostgreSQL refuses UPDATE and DELETE) and every
movement is a service's balanced transaction, so no one, superusers included,
may add, change or delete any of these rows from the admin: a correction is a
new, reversing transaction posted by a service.
"""

from __future__ import annotations

from django.contrib import admin

from marketplace.admin import ReadOnlyAdmin, ReadOnlyInline
from payments.models import Account, Earning, Entry, GatewayOperation, Transaction, Withdrawal


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
    list_display = ("id", "created_at", "kind", "idempotency_key", "milestone", "actor", "memo")
    list_select_related = ("milestone", "actor")
    list_filter = ("kind", "created_at")
    search_fields = ("idempotency_key", "memo", "actor__username", "milestone__title")
    date_hierarchy = "created_at"
    inlines = (EntryInline,)


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "transaction", "account", "amount")
    list_select_related = ("transaction", "account__user")
    list_filter = ("account__kind", "amount_currency")
    search_fields = ("transaction__idempotency_key", "account__user__username")


@admin.register(Earning)
class EarningAdmin(ReadOnlyAdmin):
    list_display = ("id", "seller", "milestone", "gross", "fee", "net", "status", "clears_at", "cleared_at")
    list_select_related = ("seller", "milestone")
    list_filter = ("status", "clears_at")
    search_fields = ("seller__username", "milestone__title")


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ("id", "seller", "amount", "method", "status", "created_at", "processed_at", "failure_reason")
    list_select_related = ("seller",)
    list_filter = ("status", "method", "created_at")
    search_fields = ("seller__username", "idempotency_key", "gateway_reference")


@admin.register(GatewayOperation)
class GatewayOperationAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "kind", "amount", "succeeded", "reference", "failure_code")
    list_filter = ("kind", "succeeded", "created_at")
    search_fields = ("idempotency_key", "reference")
