"""The sandbox provider's side, for reading only: what a provider's dashboard shows."""

from __future__ import annotations

from django.contrib import admin

from marketplace.admin import ReadOnlyAdmin
from sandbox.models import SandboxEvent, SandboxOperation, SandboxPayoutDestination, SandboxSession


@admin.register(SandboxSession)
class SandboxSessionAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "session_id", "amount", "status", "payment_status", "payment_reference")
    list_filter = ("status", "payment_status")
    search_fields = ("session_id", "payment_reference", "reference")


@admin.register(SandboxOperation)
class SandboxOperationAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "kind", "amount", "succeeded", "reference", "failure_code")
    list_filter = ("kind", "succeeded", "created_at")
    search_fields = ("idempotency_key", "reference", "target")


@admin.register(SandboxEvent)
class SandboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "type", "event_id", "attempts", "last_status", "delivered_at")
    list_filter = ("type",)
    search_fields = ("event_id",)


@admin.register(SandboxPayoutDestination)
class SandboxPayoutDestinationAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "token", "method", "last4", "fails")
    list_filter = ("method", "fails")
    search_fields = ("token",)
