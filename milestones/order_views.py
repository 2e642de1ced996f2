"""The order page and its order-level actions (messages, completion).

The page is the order's milestones (their states, money and actions), its
messages and its activity log, read in one place (``milestones.order_page``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from inbox.services import conversation_read
from marketplace.errors import DomainError, DuplicateRequest
from milestones.order_page import order_page
from milestones.services import order_complete as order_complete_service
from orders.forms import MessageForm
from orders.models import Order
from orders.selectors import order_for_user
from orders.services import order_message_send


def _draft_key(order: Order) -> str:
    return f"message_draft:{order.pk}"


def _render(request: AuthedRequest, order: Order) -> HttpResponse:
    page = order_page(order, request.user, full_history=request.GET.get("history") == "all")
    # A refused message comes back here (not to the POST's URL) with what was typed.
    draft = request.session.pop(_draft_key(order), None) if _draft_key(order) in request.session else None
    context = {"order": order, "page": page, "message_form": MessageForm(initial={"body": draft or ""})}
    response = render(request, "orders/order_detail.html", context)
    conversation_read(user=request.user, order=order)
    return response


@login_required
def order_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    return _render(request, order_for_user(request.user, pk))


@require_POST
@login_required
def order_message(request: AuthedRequest, pk: int) -> HttpResponse:
    """Send a message (with files); refused, back to the order page with every
    error said and the text kept."""
    order = order_for_user(request.user, pk)
    form = MessageForm(request.POST, request.FILES)
    back = redirect(f"{order.get_absolute_url()}#messages")
    if form.is_valid():
        try:
            order_message_send(
                order=order,
                author=request.user,
                body=form.cleaned_data["body"],
                idempotency_key=form.cleaned_data.get("token") or None,
                files=form.cleaned_data.get("attachment") or [],
            )
        except DuplicateRequest as error:
            messages.info(request, error.message)
        except DomainError as error:
            messages.error(request, f"Your message was not sent: {error.message}")
            request.session[_draft_key(order)] = request.POST.get("body", "")[:5000]
        return back
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"Your message was not sent: {label + ': ' if label else ''}{error}")
    request.session[_draft_key(order)] = request.POST.get("body", "")[:5000]
    return back


@require_POST
@login_required
def order_complete(request: AuthedRequest, pk: int) -> HttpResponse:
    order = order_for_user(request.user, pk)
    try:
        order_complete_service(order=order, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The order is complete. Thank you!")
    return redirect(order)
