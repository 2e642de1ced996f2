"""Users in the admin, registered here, at the top of the layers, because the page shows what
every app knows about the person: their balances (``payments``), orders (``orders``) and disputes
(``milestones``). Closing an account goes through ``account_delete_by_staff``, with its blockers;
Django's "Delete selected users" would delete the rows the books keep, so it is gone."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from djmoney.money import Money

from accounts.admin import UserAdmin
from accounts.models import User
from marketplace.errors import DomainError
from marketplace.money import format_money
from milestones.models import Dispute
from orders.models import Order
from payments.models import USER_KINDS, Account, AccountKind
from privacy.services import account_delete_by_staff, account_deletion_blockers

# The newest few on the page; the linked changelists have them all.
SHOWN = 10


@admin.register(User)
class UserWithRecordsAdmin(UserAdmin):
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        (
            gettext_lazy("Money, orders and disputes"),
            {"fields": ("balances", "orders", "disputes", "deletion_blockers")},
        ),
    )
    readonly_fields: tuple[str, ...] = (
        *UserAdmin.readonly_fields,
        "balances",
        "orders",
        "disputes",
        "deletion_blockers",
    )
    actions = ("close_accounts",)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # The delete page would remove the row every order and ledger line points to.
        return False

    @admin.display(description=gettext_lazy("balances"))
    def balances(self, user: User) -> str:
        rows = Account.objects.filter(user=user, kind__in=sorted(USER_KINDS)).order_by("currency", "kind")
        lines = [(AccountKind(a.kind).label, format_money(Money(a.balance, a.currency))) for a in rows]
        if not lines:
            return _("No balance.")
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", lines))

    @admin.display(description=gettext_lazy("orders"))
    def orders(self, user: User) -> str:
        theirs = Order.objects.filter(Q(buyer=user) | Q(seller=user)).select_related("buyer", "seller")
        count = theirs.count()
        if not count:
            return _("No orders.")
        items = format_html_join(
            "",
            '<li><a href="{}">#{} {}</a> ({}, {})</li>',
            (
                (
                    reverse("admin:orders_order_change", args=[o.pk]),
                    o.pk,
                    o.title,
                    _("buyer") if o.buyer_id == user.pk else _("seller"),
                    o.get_status_display(),
                )
                for o in theirs.order_by("-created_at")[:SHOWN]
            ),
        )
        every = reverse("admin:orders_order_changelist") + f"?q={user.username}"
        every_label = ngettext("All {n} order(s)", "All {n} order(s)", count).format(n=count)
        return format_html('<ul>{}</ul><a href="{}">{}</a>', items, every, every_label)

    @admin.display(description=gettext_lazy("disputes"))
    def disputes(self, user: User) -> str:
        theirs = Dispute.objects.filter(
            Q(milestone__order__buyer=user) | Q(milestone__order__seller=user)
        ).select_related("milestone__order")
        rows = list(theirs.order_by("-opened_at")[:SHOWN])
        if not rows:
            return _("No disputes.")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                _('<li><a href="{}">{}</a> on #{} ({}, {})</li>'),
                (
                    (
                        reverse("admin:milestones_dispute_change", args=[d.pk]),
                        d.milestone.title,
                        d.milestone.order_id,
                        d.get_state_display(),
                        format_money(d.milestone.amount),
                    )
                    for d in rows
                ),
            ),
        )

    @admin.display(description=gettext_lazy("before the account can be closed"))
    def deletion_blockers(self, user: User) -> str:
        if not user.is_active:
            return _("The account is closed.")
        blockers = account_deletion_blockers(user)
        if not blockers:
            return _("Nothing: “Close the selected accounts” in the list erases the person and keeps the records.")
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((str(b),) for b in blockers)))

    @admin.action(
        description=gettext_lazy("Close the selected accounts (erase the person, keep the records)"),
        permissions=["change"],
    )
    def close_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        staff = request.user
        assert isinstance(staff, User)
        for user in queryset.order_by("pk"):
            name = user.username
            try:
                account_delete_by_staff(user=user, staff=staff, ip=request.META.get("REMOTE_ADDR"))
            except DomainError as error:
                messages.error(request, _("{name}: not closed. {error}").format(name=name, error=error.message))
            else:
                self.log_change(request, user, f"Account closed by staff (was {name}).")
                messages.success(
                    request,
                    _("{name}: account closed; their orders and ledger stay, as deleted-{pk}.").format(
                        name=name, pk=user.pk
                    ),
                )
