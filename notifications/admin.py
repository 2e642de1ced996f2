"""Notices, view-only: the services write them."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace.admin import ReadOnlyAdmin
from notifications.models import Notification, OutgoingEmail
from notifications.services import notifications_email_retry, outgoing_emails_retry
from notifications.times import notice_text


class EmailFailingFilter(admin.SimpleListFilter):
    title = gettext_lazy("e-mail")
    parameter_name = "email"

    def lookups(self, request, model_admin):
        return [("retrying", _("Failing, retrying")), ("given_up", _("Failed, given up"))]

    def queryset(self, request, queryset):
        failing = queryset.filter(emailed_at__isnull=True, email_attempts__gt=0)
        if self.value() == "retrying":
            return failing.filter(email_attempts__lt=settings.EMAIL_MAX_ATTEMPTS)
        if self.value() == "given_up":
            return failing.filter(email_attempts__gte=settings.EMAIL_MAX_ATTEMPTS)
        return queryset


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("recipient", "event", "words", "created_at", "read_at", "emailed_at", "email_attempts")
    list_select_related = ("recipient",)
    list_filter = ("event", EmailFailingFilter, "created_at")
    readonly_fields = ("email_last_error", "email_retry_at")
    actions = ("retry_email_now",)

    @admin.action(description=gettext_lazy("Retry the e-mail now"), permissions=["retry"])
    def retry_email_now(self, request, queryset):
        count = notifications_email_retry(notification_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request, _("{count} e-mail(s) will be sent on the e-mail sweep's next tick.").format(count=count)
        )

    @admin.display(description=gettext_lazy("message"), ordering="message")
    def words(self, obj: Notification) -> str:
        """The words as the recipient reads them, times in the staff member's zone."""
        return notice_text(obj.message)

    def has_retry_permission(self, request) -> bool:
        # The notice itself stays read-only; staff who may change notices may retry their e-mail.
        return request.user.has_perm("notifications.change_notification")

    search_fields = ("recipient__username", "message")
    date_hierarchy = "created_at"


class OutgoingFailingFilter(admin.SimpleListFilter):
    title = gettext_lazy("sending")
    parameter_name = "sending"

    def lookups(self, request, model_admin):
        return [
            ("waiting", _("Not sent yet")),
            ("retrying", _("Failing, retrying")),
            ("given_up", _("Failed, given up")),
        ]

    def queryset(self, request, queryset):
        unsent = queryset.filter(sent_at__isnull=True)
        if self.value() == "waiting":
            return unsent
        if self.value() == "retrying":
            return unsent.filter(attempts__gt=0, attempts__lt=settings.EMAIL_MAX_ATTEMPTS)
        if self.value() == "given_up":
            return unsent.filter(attempts__gte=settings.EMAIL_MAX_ATTEMPTS)
        return queryset


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ReadOnlyAdmin):
    """Account e-mails (confirmation, reset, security): who, what, when sent, how many tries.
    The body is never shown: until it is sent it may hold a reset link (and then it is emptied)."""

    list_display = ("to", "subject", "kind", "created_at", "sent_at", "attempts")
    list_filter = ("kind", OutgoingFailingFilter, "created_at")
    fields = ("to", "from_email", "subject", "kind", "created_at", "sent_at", "attempts", "last_error", "retry_at")
    readonly_fields = fields
    search_fields = ("to", "subject")
    date_hierarchy = "created_at"
    actions = ("retry_now",)

    @admin.action(description=gettext_lazy("Retry the e-mail now"), permissions=["retry"])
    def retry_now(self, request, queryset):
        count = outgoing_emails_retry(email_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request, _("{count} e-mail(s) will be sent on the e-mail sweep's next tick.").format(count=count)
        )

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("notifications.change_outgoingemail")
