"""Milestone pages and actions. Thin: find the milestone the viewer may see
(``order_for_user``: party or staff, else 404), parse a form, call a service,
redirect with a message. A refused action (second click, stale tab, wrong
role) shows the service's message and changes nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_safe
from djmoney.money import Money

from accounts.http import AuthedRequest
from marketplace.errors import DomainError, DuplicateRequest
from marketplace.forms import add_domain_error
from marketplace.money import format_money
from milestones import services
from milestones.actions import BY_NAME
from milestones.forms import CardForm, MilestoneTermsForm
from milestones.models import DeliveryFile, DisputeStatement, Milestone, MilestoneState
from milestones.selectors import can_create_milestone, milestone_actions
from orders.models import Order
from orders.selectors import order_for_user
from payments.fees import buyer_service_fee
from payments.models import Account, AccountKind
from payments.services import FundingSource

DRAFTS = "milestone_drafts"
MAX_DRAFTS = 10


def _milestone_for(user, pk: int) -> Milestone:
    """The milestone, if the user may see its order; else 404."""
    order_id = Milestone.objects.filter(pk=pk).values_list("order_id", flat=True).first()
    if order_id is None:
        raise Http404("No such milestone")
    order = order_for_user(user, order_id)
    milestone = Milestone.objects.select_related("dispute").get(pk=pk)
    milestone.order = order
    return milestone


def _back_to(milestone: Milestone) -> HttpResponseRedirect:
    return redirect(milestone.get_absolute_url())


def _refusal(milestone: Milestone, user, verb: str) -> str:
    """Why the form of an action is not offered to this viewer now."""
    if milestone.order.role_of(user) is None:
        return "Staff can view this order but not act on its milestones; disputes are resolved in the admin."
    return (
        f"“{milestone.title}” is {milestone.get_state_display().lower()}; you cannot {verb} it now. "
        "Nothing was changed."
    )


# --- create and fund ----------------------------------------------------------


@login_required
def milestone_new(request: AuthedRequest, pk: int) -> HttpResponse:
    order = order_for_user(request.user, pk)
    if not can_create_milestone(order, request.user):
        messages.error(request, "Only the buyer of an open order can create milestones.")
        return redirect(order)
    form = MilestoneTermsForm(request.POST or None, order=order)
    if request.method == "POST" and form.is_valid():
        key = uuid.uuid4().hex
        drafts = request.session.get(DRAFTS, {})
        drafts[key] = {
            "order": order.pk,
            "title": form.cleaned_data["title"],
            "description": form.cleaned_data["description"],
            "deadline": form.cleaned_data["deadline"].isoformat(),
            "amount": str(form.cleaned_data["amount"]),
        }
        # Keep the session small: only the newest few unpaid drafts.
        request.session[DRAFTS] = dict(list(drafts.items())[-MAX_DRAFTS:])
        return redirect("milestone_pay", pk=order.pk, key=key)
    return render(request, "milestones/milestone_form.html", {"order": order, "form": form})


def _buyer_balance(order: Order, user) -> Money:
    account = Account.objects.filter(kind=AccountKind.BUYER_BALANCE, user=user, currency=order.currency).first()
    return account.cached_balance if account else Money(0, order.currency)


@login_required
def milestone_pay(request: AuthedRequest, pk: int, key: str) -> HttpResponse:
    order = order_for_user(request.user, pk)
    already = Milestone.objects.filter(order=order, funding_key=key).first()
    if already is not None:
        messages.info(request, "This milestone was already created and paid for.")
        return redirect(already.get_absolute_url())
    draft = request.session.get(DRAFTS, {}).get(key)
    if draft is None or draft.get("order") != order.pk:
        messages.error(request, "This payment form has expired; please fill in the milestone again.")
        return redirect("milestone_new", pk=order.pk)

    amount = Money(Decimal(draft["amount"]), order.currency)
    deadline = parse_datetime(draft["deadline"])
    assert deadline is not None  # written by milestone_new from a cleaned datetime
    fee = buyer_service_fee(amount)
    total = amount + fee
    balance = _buyer_balance(order, request.user)
    card_form = CardForm(request.POST if request.POST.get("method") == "card" else None)

    if request.method == "POST":
        method = request.POST.get("method")
        source = None
        if method == "balance":
            source = FundingSource(method="balance")
        elif method == "card" and card_form.is_valid():
            source = FundingSource(method="card", card_number=card_form.cleaned_data["card_number"])
        elif method not in ("balance", "card"):
            messages.error(request, "Choose how to pay.")
        if source is not None:
            try:
                milestone = services.milestone_create(
                    order=order,
                    actor=request.user,
                    title=draft["title"],
                    description=draft["description"],
                    deadline=deadline,
                    amount=amount,
                    source=source,
                    idempotency_key=key,
                )
            except DuplicateRequest as error:
                messages.info(request, error.message)
                return redirect(order)
            except DomainError as error:
                if not add_domain_error(card_form, error) or method != "card":
                    messages.error(request, error.message)
            else:
                drafts = request.session.get(DRAFTS, {})
                drafts.pop(key, None)
                request.session[DRAFTS] = drafts
                messages.success(
                    request,
                    f"“{milestone.title}” is funded: {format_money(milestone.amount)} is held in escrow "
                    "until you approve the work.",
                )
                return redirect(milestone.get_absolute_url())

    context = {
        "order": order,
        "draft": draft,
        "deadline": deadline,
        "amount": amount,
        "fee": fee,
        "total": total,
        "balance": balance,
        "balance_covers": balance >= total,
        "card_form": card_form,
        "key": key,
    }
    return render(request, "milestones/milestone_pay.html", context)


# --- the actions of milestones.actions ---------------------------------------------


def milestone_action(request: AuthedRequest, pk: int, *, name: str) -> HttpResponse:
    """Every action of the table: a one-click action acts on POST only (405
    otherwise, before anything else, as ``require_POST``); an action with a
    form shows it on GET (never acting) and acts on its POST."""
    if BY_NAME[name].one_click and request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return _milestone_action(request, pk, name=name)


@login_required
def _milestone_action(request: AuthedRequest, pk: int, *, name: str) -> HttpResponse:
    action = BY_NAME[name]
    milestone = _milestone_for(request.user, pk)
    if action.one_click:
        try:
            action.perform(milestone, request.user, {})
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, action.success.format(title=milestone.title))
        return _back_to(milestone)

    assert action.form is not None
    if request.method == "POST":
        form = action.form(request.POST, request.FILES)
        if form.is_valid():
            try:
                action.perform(milestone, request.user, form.cleaned_data)
            except DuplicateRequest as error:
                messages.info(request, error.message)
                return _back_to(milestone)
            except DomainError as error:
                if not add_domain_error(form, error, aliases=action.aliases):
                    messages.error(request, error.message)
                    return _back_to(milestone)
            else:
                messages.success(request, action.success.format(title=milestone.title))
                return _back_to(milestone)
    else:
        if action.name not in milestone_actions(milestone, request.user, milestone.order):
            messages.error(request, _refusal(milestone, request.user, action.verb))
            return _back_to(milestone)
        form = action.form()
    context = {
        "order": milestone.order,
        "milestone": milestone,
        "form": form,
        "title": action.heading or action.label,
        "button": action.label,
        "button_class": action.style,
        "multipart": any(f.widget.needs_multipart_form for f in form.fields.values()),
        "feedback": milestone.revision_requests.order_by("-created_at", "-id").first()
        if action.name == "submit" and milestone.state == MilestoneState.REVISION_REQUESTED
        else None,
    }
    return render(request, "milestones/milestone_action.html", context)


# --- downloads ----------------------------------------------------------------------


def _attachment(stored, filename: str, content_type: str = "application/octet-stream") -> FileResponse:
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404("The file is gone") from None
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
@login_required
def deliverable_download(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """Only the order's parties and staff; everyone else gets 404, as for the order."""
    item = DeliveryFile.objects.select_related("delivery__milestone").filter(pk=pk).first()
    if item is None:
        raise Http404("No such file")
    order_for_user(request.user, item.delivery.milestone.order_id)
    return _attachment(item.file, item.original_name, item.content_type or "application/octet-stream")


@require_safe
@login_required
def dispute_attachment(request: AuthedRequest, pk: int) -> HttpResponseBase:
    statement = (
        DisputeStatement.objects.select_related("dispute__milestone").filter(pk=pk).filter(~Q(attachment="")).first()
    )
    if statement is None:
        raise Http404("No such file")
    order_for_user(request.user, statement.dispute.milestone.order_id)
    return _attachment(statement.attachment, statement.attachment_name or "attachment")
