"""Staff resolve a dispute from its admin page: the form, the confirmation
step, and the page that tells the whole story.

The buttons never edit fields: they call ``milestones.services.disputes.dispute_resolve``,
which locks the order and the milestone, refuses a second resolution, moves
the escrow and writes the activity log and the notifications. This module
adds what the admin needs around it: a preview of the money before staff
confirm, and a ``LogEntry`` after.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.formats import get_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from accounts.models import User
from marketplace.errors import DomainError
from marketplace.forms import OneUseForm
from marketplace.money import format_money, has_sub_minor_digits, zero
from milestones.models import Delivery, DeliveryFile, Dispute, DisputeOutcome, DisputeState, DisputeStatement
from milestones.services.disputes import RESOLVE_PERMISSION, dispute_add_statement, dispute_resolve, split_share
from orders.models import Activity
from payments.fees import seller_commission
from payments.ledger import escrow_balance
from payments.services import settlement_figures

SPLIT_AMOUNT_REQUIRED = gettext_lazy("Enter the amount for the seller, such as 40.00, or a percentage, such as 40%.")

BUTTON_LABELS = {
    DisputeOutcome.RELEASE: gettext_lazy("Release to seller"),
    DisputeOutcome.REFUND: gettext_lazy("Refund buyer"),
    DisputeOutcome.SPLIT: gettext_lazy("Split"),
}


def can_resolve(user) -> bool:
    """Staff with the dispute change permission (every superuser) may resolve."""
    return bool(user.is_active and user.is_staff and user.has_perm(RESOLVE_PERMISSION))


def _url_or_none(name: str, pk: int) -> str | None:
    # The download views belong to the order pages; until they exist the
    # admin page still renders, just without links.
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return None


@dataclass(frozen=True)
class Settlement:
    """Where the escrow goes: what staff see before they confirm (``settlement_figures``, the
    figures ``escrow_settle`` posts: the buyer's part comes back with its share of the service fee)."""

    held: Money
    seller_gross: Money
    seller_fee: Money
    seller_net: Money
    buyer_part: Money
    fee_back: Money
    refunded: Money


def settlement_for(*, held: Money, seller_gross: Money, buyer_fee: Money) -> Settlement:
    figures = settlement_figures(buyer_fee=buyer_fee, held=held, seller_gross=seller_gross)
    return Settlement(
        held=held,
        seller_gross=seller_gross,
        seller_fee=figures.commission,
        seller_net=figures.seller_net,
        buyer_part=figures.buyer_part,
        fee_back=figures.fee_back,
        refunded=figures.refunded,
    )


class DisputeResolutionForm(forms.Form):
    """The note for both parties and, for a split, the seller's amount.

    The amount checks repeat the service's rules only so the preview can
    show the figures before confirming; the service checks again under its
    locks and has the last word.
    """

    # Text, not a number field: "40%" is a share of the escrow, "40.00" an amount.
    seller_amount = forms.CharField(
        label=gettext_lazy("Amount to seller"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    note = forms.CharField(
        label=gettext_lazy("Note to both parties"),
        max_length=10000,
        error_messages={"required": gettext_lazy("Write a note to both parties: why you decided this way.")},
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=gettext_lazy("Why you decided this way. It goes into the order's activity log."),
    )

    def __init__(self, *args, dispute: Dispute, outcome: str, held: Money, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outcome = outcome
        self.held = held
        self.buyer_fee = dispute.milestone.buyer_fee
        self.currency = dispute.milestone.order.currency
        self.settlement: Settlement | None = None
        # A split typed as a percentage: the share of the escrow, which the service works out again
        # under its lock (``split_share``), so the figures shown are the figures posted.
        self.percent: Decimal | None = None
        if outcome == DisputeOutcome.SPLIT:
            self.fields["seller_amount"].required = True
            self.fields["seller_amount"].error_messages["required"] = SPLIT_AMOUNT_REQUIRED
            self.fields["seller_amount"].label = _("Amount to seller ({currency} or %)").format(currency=self.currency)
            self.fields["seller_amount"].help_text = _(
                "An amount such as 40.00, or a percentage of the {held} in escrow such as 40%; the rest goes back "
                "to the buyer with the same share of their service fee. The platform fee is taken from the "
                "seller's part only."
            ).format(held=format_money(held))
        else:
            del self.fields["seller_amount"]

    def clean_seller_amount(self) -> Money | None:
        typed = (self.cleaned_data.get("seller_amount") or "").strip()
        if "," in typed and get_format("DECIMAL_SEPARATOR") == ",":
            # "1.234,50" where the reader's language writes a comma before the decimals ("40.00" still reads
            # as forty, and "1.234" is refused below for its decimals, never taken as a thousand).
            typed = typed.replace(".", "").replace(",", ".")
        else:
            typed = typed.replace(",", "")
        if not typed:
            return None
        percent = typed.endswith("%")
        try:
            value = Decimal(typed.removesuffix("%").strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            raise forms.ValidationError(_("Enter a number, such as 40.00, or a percentage, such as 40%."))
        if percent:
            if not 0 < value < 100:
                raise forms.ValidationError(
                    _(
                        "A split gives the seller more than 0% and less than 100%; use “Release to seller” or "
                        "“Refund buyer” for all of it."
                    )
                )
            self.percent = value
            amount = split_share(self.held, value)
        else:
            amount = Money(value, self.currency)
        if has_sub_minor_digits(amount):
            raise forms.ValidationError(
                _("{currency} amounts have at most two decimal places.").format(currency=self.currency)
            )
        if not zero(self.currency) < amount < self.held:
            raise forms.ValidationError(
                _(
                    "A split gives the seller more than {low} and less than the {held} in escrow; use “Release to "
                    "seller” or “Refund buyer” for all of it."
                ).format(low=format_money(zero(self.currency)), held=format_money(self.held))
            )
        return amount

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        if self.outcome == DisputeOutcome.RELEASE:
            self.settlement = settlement_for(held=self.held, seller_gross=self.held, buyer_fee=self.buyer_fee)
        elif self.outcome == DisputeOutcome.REFUND:
            self.settlement = settlement_for(held=self.held, seller_gross=zero(self.currency), buyer_fee=self.buyer_fee)
        elif cleaned.get("seller_amount") is not None:
            self.settlement = settlement_for(
                held=self.held, seller_gross=cleaned["seller_amount"], buyer_fee=self.buyer_fee
            )
        return cleaned


def _change_url(dispute: Dispute) -> str:
    return reverse("admin:milestones_dispute_change", args=[dispute.pk])


def resolve_view(model_admin: ModelAdmin[Dispute], request: HttpRequest, object_id: str, outcome: str) -> HttpResponse:
    """POST only. Without ``confirm``: show the figures and ask for the note.
    With ``confirm``: call the service, log the admin action, go back."""
    if outcome not in DisputeOutcome.values:
        raise Http404("No such outcome.")
    staff = request.user
    if not isinstance(staff, User) or not can_resolve(staff):
        raise PermissionDenied
    dispute = get_object_or_404(
        Dispute.objects.select_related("milestone__order__buyer", "milestone__order__seller", "opened_by"),
        pk=object_id,
    )
    if dispute.state != DisputeState.OPEN:
        messages.error(request, _("This dispute was already resolved; nothing was changed."))
        return HttpResponseRedirect(_change_url(dispute))

    confirming = "confirm" in request.POST
    form = DisputeResolutionForm(
        request.POST,
        dispute=dispute,
        outcome=outcome,
        held=escrow_balance(dispute.milestone),
    )
    valid = form.is_valid()
    if confirming and valid:
        try:
            dispute = dispute_resolve(
                dispute=dispute,
                actor=staff,
                outcome=outcome,
                seller_amount=None if form.percent is not None else form.cleaned_data.get("seller_amount"),
                seller_percent=form.percent,
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            if error.field in form.fields:
                form.add_error(error.field, error.message)
                form.settlement = None
            else:
                messages.error(request, error.message)
                return HttpResponseRedirect(_change_url(dispute))
        else:
            summary = resolution_summary(dispute)
            model_admin.log_change(request, dispute, summary)
            messages.success(request, _("Dispute resolved. {summary}").format(summary=summary))
            return HttpResponseRedirect(_change_url(dispute))
    elif not confirming:
        # The first click (the button on the dispute page) only previews:
        # the note is asked for here, so its absence is not an error yet.
        form.errors.pop("note", None)

    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("{action}: confirm").format(action=BUTTON_LABELS[DisputeOutcome(outcome)]),
        "dispute": dispute,
        "milestone": dispute.milestone,
        "order": dispute.milestone.order,
        "outcome": outcome,
        "outcome_label": BUTTON_LABELS[DisputeOutcome(outcome)],
        "form": form,
        "settlement": form.settlement,
        "percent": form.percent,
        "change_url": _change_url(dispute),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/milestones/dispute/resolve_confirm.html", context)


class DisputeMessageForm(OneUseForm):
    """Staff write in the dispute's thread, which both parties read on the order page."""

    body = forms.CharField(
        label=gettext_lazy("Message to both parties"),
        max_length=10000,
        error_messages={"required": gettext_lazy("Write your message.")},
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("Both parties see it on the order page and are told; ask for what you need to decide."),
    )


def message_view(model_admin: ModelAdmin[Dispute], request: HttpRequest, object_id: str) -> HttpResponse:
    """POST only: staff add a message to the dispute's thread (``dispute_add_statement``), then
    go back to the dispute's page, which shows it with the parties' messages."""
    staff = request.user
    if not isinstance(staff, User) or not can_resolve(staff):
        raise PermissionDenied
    dispute = get_object_or_404(Dispute, pk=object_id)
    form = DisputeMessageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write your message; nothing was sent."))
        return HttpResponseRedirect(_change_url(dispute))
    try:
        dispute_add_statement(
            dispute=dispute, actor=staff, body=form.cleaned_data["body"], idempotency_key=form.cleaned_data["token"]
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Message sent; both parties have been told."))
    return HttpResponseRedirect(_change_url(dispute) + "#dispute-statements")


def resolution_summary(dispute: Dispute) -> str:
    outcome = DisputeOutcome(dispute.outcome)
    seller_gross = dispute.seller_amount
    fee = seller_commission(seller_gross) if seller_gross is not None else None
    text = f"{outcome.label}: {format_money(seller_gross)} to the seller" if seller_gross is not None else outcome.label
    if fee is not None and seller_gross is not None and seller_gross.amount > 0:
        text += f" (fee {format_money(fee)}, net {format_money(seller_gross - fee)})"
    if dispute.buyer_amount is not None:
        back = dispute.buyer_amount
        if seller_gross is not None and dispute.buyer_amount.amount > 0:
            # What the buyer received: their part with its share of the service fee.
            back = settlement_figures(
                buyer_fee=dispute.milestone.buyer_fee,
                held=seller_gross + dispute.buyer_amount,
                seller_gross=seller_gross,
            ).refunded
        text += f", {format_money(back)} to the buyer"
        if back != dispute.buyer_amount:
            fee_back = back - dispute.buyer_amount
            text += f" ({format_money(dispute.buyer_amount)} and {format_money(fee_back)} of the service fee)"
    text += "."
    if dispute.resolution_note:
        text += f" Note: {dispute.resolution_note}"
    return text


@dataclass(frozen=True)
class DeliveryShown:
    delivery: Delivery
    files: list[tuple[DeliveryFile, str | None]]  # with the download URL


@dataclass(frozen=True)
class StatementShown:
    statement: DisputeStatement
    attachment_url: str | None


def dispute_story(dispute: Dispute) -> dict:
    """Everything staff read before deciding, in a fixed number of queries."""
    milestone = dispute.milestone
    order = milestone.order
    deliveries = [
        DeliveryShown(
            delivery=delivery,
            files=[(file, _url_or_none("deliverable_download", file.pk)) for file in delivery.files.all()],
        )
        for delivery in milestone.deliveries.select_related("author").prefetch_related("files").order_by("number")
    ]
    statements = [
        StatementShown(
            statement=statement,
            attachment_url=_url_or_none("dispute_attachment", statement.pk) if statement.attachment else None,
        )
        for statement in dispute.statements.select_related("author")
    ]
    try:
        order_url: str | None = order.get_absolute_url()
    except NoReverseMatch:
        order_url = None
    return {
        "milestone": milestone,
        "order": order,
        "order_url": order_url,
        "escrow": escrow_balance(milestone),
        "deliveries": deliveries,
        "revision_requests": list(milestone.revision_requests.select_related("author")),
        "statements": statements,
        "order_messages": list(order.messages.select_related("author")),
        "activities": list(Activity.objects.filter(order=order).select_related("actor", "milestone")),
        "other_milestones": list(order.milestones.exclude(pk=milestone.pk).order_by("position")),
        "admin_log": list(
            LogEntry.objects.filter(
                content_type__app_label="milestones", content_type__model="dispute", object_id=str(dispute.pk)
            ).select_related("user")
        ),
    }
