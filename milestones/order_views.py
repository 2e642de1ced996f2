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
from marketplace.errors import DomainError, DuplicateRequest
from marketplace.forms import add_domain_error
from milestones.order_page import order_page
from milestones.services import order_complete as order_complete_service
from orders.forms import MessageForm
from orders.models import Order
from orders.selectors import order_for_user
from orders.services import order_message_send


def _render(request: AuthedRequest, order: Order, *, message_form: MessageForm | None = None) -> HttpResponse:
    page = order_page(order, request.user, full_history=request.GET.get("history") == "all")
    context = {"order": order, "page": page, "message_form": message_form or MessageForm()}
    return render(request, "orders/order_detail.html", context)


@login_required
def order_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    return _render(request, order_for_user(request.user, pk))


@require_POST
@login_required
def order_message(request: AuthedRequest, pk: int) -> HttpResponse:
    order = order_for_user(request.user, pk)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            order_message_send(
                order=order,
                author=request.user,
                body=form.cleaned_data["body"],
                idempotency_key=form.cleaned_data.get("token") or None,
            )
        except DuplicateRequest as error:
            messages.info(request, error.message)
            return redirect(f"{order.get_absolute_url()}#messages")
        except DomainError as error:
            if not add_domain_error(form, error):
                messages.error(request, error.message)
                return redirect(order)
        else:
            return redirect(f"{order.get_absolute_url()}#messages")
    return _render(request, order, message_form=form)


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
