"""The admin site's titles, and the read-only base every record-keeping
admin of the project uses.

Staff run the marketplace from here, but money and states still change only
through the services: the admins of records that the services write (orders,
milestones, the ledger, earnings, the activity log ...) are view-only, and the
one thing staff decide, a dispute, has its own buttons (``milestones/admin.py``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy
from djmoney.models.fields import MoneyField

from marketplace.money import format_money

admin.site.site_header = gettext_lazy("Milestone Marketplace administration")
admin.site.site_title = gettext_lazy("Milestone Marketplace admin")
admin.site.index_title = gettext_lazy("Run the marketplace")


def _money_column(name: str, label: str) -> Any:
    def column(obj: Any) -> str:
        value = getattr(obj, name)
        return format_money(value) if value is not None else "—"

    column.short_description = label  # type: ignore[attr-defined]
    column.admin_order_field = name  # type: ignore[attr-defined]
    column.__name__ = name
    return column


class MoneyColumnsMixin:
    """Money in the lists as everywhere else (``1,234.50 USD``, ``format_money``),
    not django-money's ``US$1,234.50``: every ``MoneyField`` named in
    ``list_display`` is shown through the shared format."""

    model: Any

    def get_list_display(self, request: Any) -> Any:
        columns = []
        for item in super().get_list_display(request):  # type: ignore[misc]
            field = None
            if isinstance(item, str):
                try:
                    field = self.model._meta.get_field(item)
                except FieldDoesNotExist:
                    field = None
            if isinstance(field, MoneyField):
                columns.append(_money_column(item, str(field.verbose_name)))
            else:
                columns.append(item)
        return columns


class MoneyFieldsMixin:
    """The same on the record's own page and in its inlines: each ``MoneyField`` of a view-only
    page is shown through ``format_money`` (a read-only callable in its place), never as
    django-money's ``US$1,234.50``."""

    model: Any

    def _money_display(self, name: str) -> Any:
        displays = self.__dict__.setdefault("_money_displays", {})
        if name not in displays:
            field = self.model._meta.get_field(name)
            displays[name] = _money_column(name, str(field.verbose_name))
        return displays[name]

    def _is_money(self, item: Any) -> bool:
        if not isinstance(item, str):
            return False
        try:
            return isinstance(self.model._meta.get_field(item), MoneyField)
        except FieldDoesNotExist:
            return False

    def _swap(self, items: Any) -> list:
        swapped: list = []
        for item in items:
            if isinstance(item, (list, tuple)):
                swapped.append(tuple(self._swap(item)))
            else:
                swapped.append(self._money_display(item) if self._is_money(item) else item)
        return swapped

    def get_fieldsets(self, request: Any, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        return [(title, {**options, "fields": self._swap(options["fields"])}) for title, options in fieldsets]

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        money = [self._money_display(f.name) for f in self.model._meta.fields if isinstance(f, MoneyField)]
        return [*self._swap(readonly), *(m for m in money if m not in readonly)]


class ReadOnlyAdmin(MoneyFieldsMixin, MoneyColumnsMixin, admin.ModelAdmin):
    """Viewing only: no add, change or delete for anyone, superusers included.

    For records that only services may write. Refusing the permissions (not
    just hiding the buttons) makes Django answer 403 to the add, change and
    delete URLs and drops the bulk "delete selected" action.
    """

    actions: Any = None

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(MoneyFieldsMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
