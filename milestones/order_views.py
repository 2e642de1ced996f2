"""The order page and its order-level actions (messages, completion), and the
order history (/orders/): every order of the user, buying and selling.

The page is the order's milestones (their states, money and actions), its
messages and its activity log, read in one place (``milestones.order_page``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from accounts.http import AuthedRequest
from accounts.middleware import session_user_id, session_user_pk, viewer_columns
from accounts.models import User
from inbox.services import conversation_read
from marketplace.errors import DomainError, DuplicateRequest
from marketplace.http import not_modified_or
from marketplace.pages import CSRF_STAND_IN, cached_parts
from marketplace.pagination import paginate
from milestones.order_page import order_page
from milestones.selectors import HISTORY_FILTERS, history_row, order_history
from milestones.services.completion import order_complete as order_complete_service
from notifications.context_processors import forget_unread_counts, unread_counts
from orders.forms import DRAFT_LIMIT, MessageForm
from orders.models import Order
from orders.selectors import may_read_any_order, order_for_page, order_for_user, order_version, version_columns
from orders.services import order_message_send, staff_file_read_record


def _draft_key(order: Order) -> str:
    return f"message_draft:{order.pk}"


def _page_parts(request: AuthedRequest, order: Order, version: tuple[int, int]) -> list[SafeString]:
    """The order page's two costly parts (the milestones and the thread), rendered once per change
    of the order for this viewer and reused (``marketplace.pages``).

    Every change a party makes to an order logs an activity or a message in the same transaction,
    so a new ``version`` means new parts at once. What changes without a log entry (an earning
    clearing, a review published by the sweep, the relative times) shows within the window,
    ``PAGE_CACHE_SECONDS``.
    """

    def render_parts() -> tuple[str, str]:
        # The parties' names, for the parts only: one query for both.
        parties = User.objects.in_bulk([order.buyer_id, order.seller_id])
        order.buyer, order.seller = parties[order.buyer_id], parties[order.seller_id]
        page = order_page(order, request.user, full_history=request.GET.get("history") == "all")
        context = {"order": order, "page": page, "user": request.user, "request": request, "csrf_token": CSRF_STAND_IN}
        return (
            render_to_string("orders/order_live.html", context),
            render_to_string("orders/order_thread.html", context),
        )

    # The parts are in the reader's language: one copy per language.
    return cached_parts(request, ("order-page", order.pk, *version, get_language()), render_parts)


def _render(request: AuthedRequest, order: Order, *, live: bool = False) -> HttpResponse:
    """The order page; ``order`` read by ``order_for_page``."""
    version = order_version(order)
    live_html, thread_html = _page_parts(request, order, version)
    # A refused message comes back here (not to the POST's URL) with what was typed.
    draft = None if live else request.session.pop(_draft_key(order), None)
    context = {
        "order": order,
        "role": order.role_of(request.user),
        "live_html": live_html,
        "thread_html": thread_html,
        "message_form": MessageForm(initial={"body": draft or ""}),
        "live_etag": order_version_etag(order.pk, version),
    }
    # Opening the order reads its message notices: the header then counts without them. A viewer
    # with no unread message anywhere (the header's count) has none here, and no write is made.
    if unread_counts(request).get("unread_messages") and conversation_read(user=request.user, order=order):
        forget_unread_counts(request)
    return render(request, "orders/order_detail.html", context)


@login_required
def order_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    order = order_for_page(request.user, pk)
    if request.user.pk not in (order.buyer_id, order.seller_id):
        # Support staff reading someone else's order: always in the staff-read log.
        staff_file_read_record(reader=request.user, kind="order page", file_name=order.title, order=order)
    return _render(request, order)


def order_version_etag(pk: int, version: tuple[int, int]) -> str:
    return f'"order-{pk}-{version[0]}-{version[1]}"'


@require_safe
def order_live(request: AuthedRequest, pk: int) -> HttpResponse:
    """The order page's poll (``static/js/app.js``): 304 from the ETag of the
    order's latest change (its log's counts, ``version_columns``) when nothing is new, in two queries (the session,
    then one that reads the change, the parties and the viewer's standing);
    else the page, whose live parts the script puts in place."""
    viewer = session_user_pk(request)
    if viewer is None:
        return HttpResponse(status=403)
    row = (
        Order.objects.filter(pk=pk)
        .annotate(**version_columns(), **viewer_columns(viewer))
        .values_list("buyer_id", "seller_id", "activity_count", "message_count", "viewer_password", "viewer_staff")
        .first()
    )
    if row is None:
        raise Http404("No such order")
    buyer_id, seller_id, activity, message, password, staff = row
    if session_user_id(request, password) is None:
        return HttpResponse(status=403)
    if viewer not in (buyer_id, seller_id) and not (staff and may_read_any_order(request.user)):
        raise Http404("No such order")
    etag = order_version_etag(pk, (activity, message))
    return not_modified_or(request, etag, lambda: _render(request, order_for_page(request.user, pk), live=True))


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
            messages.error(request, _("Your message was not sent: {error}").format(error=error.message))
            request.session[_draft_key(order)] = request.POST.get("body", "")[:DRAFT_LIMIT]
        return back
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            if label:
                text = _("Your message was not sent: {label}: {error}").format(label=label, error=error)
            else:
                text = _("Your message was not sent: {error}").format(error=error)
            messages.error(request, text)
    request.session[_draft_key(order)] = request.POST.get("body", "")[:DRAFT_LIMIT]
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
        messages.success(request, _("The order is complete. Thank you!"))
    return redirect(order)


ORDERS_PER_PAGE = 25


@require_safe
@login_required
def order_list(request: AuthedRequest) -> HttpResponse:
    """Every order of the user, buying and selling, with the filters of ``HISTORY_FILTERS`` and a
    search by title or other party: a completed order leaves the dashboards but stays here."""
    show = request.GET.get("show", "all")
    if show not in dict(HISTORY_FILTERS):
        show = "all"
    search = request.GET.get("q", "")[:100]
    page = paginate(request, order_history(request.user, show=show, search=search), ORDERS_PER_PAGE)
    orders = [history_row(order, request.user) for order in page.object_list]
    context = {"page": page, "orders": orders, "show": show, "search": search.strip(), "filters": HISTORY_FILTERS}
    return render(request, "orders/order_list.html", context)
