"""The dashboards: what waits on the user as a buyer and as a seller, and the seller's gigs. Reads only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from accounts.http import AuthedRequest
from calendar_feed.views import dashboard_section
from dashboards import selectors
from gigs.selectors import gigs_of, saves_of_seller
from marketplace.pages import cached_parts
from payments.selectors import balances_for

DASHBOARD_SUMMARY_LIMIT = 5
DASHBOARD_LIST_LIMIT = 10
GIGS_ON_DASHBOARD = 10


@login_required
def dashboard(request: AuthedRequest) -> HttpResponse:
    context = {
        "buyer": selectors.dashboard_for(request.user, "buyer", limit=DASHBOARD_SUMMARY_LIMIT, sections=("to_review",)),
        "seller": selectors.dashboard_for(
            request.user, "seller", limit=DASHBOARD_SUMMARY_LIMIT, sections=("to_accept", "revision_requested")
        ),
        "balances": balances_for(request.user, pending_limit=0),
    }
    return render(request, "dashboards/dashboard.html", context)


def _role_dashboard(request: AuthedRequest, role: str) -> HttpResponse:
    """The role's sections and its orders without a milestone, and the seller's gigs, rendered once
    per change of what they show (``selectors.dashboard_version``: the user's orders in that role,
    and the seller's gigs) and page, and reused (``marketplace.pages``)."""
    user = request.user

    def render_board() -> tuple[str, ...]:
        board = selectors.dashboard_for(user, role, limit=DASHBOARD_LIST_LIMIT, pages=request.GET)
        last_orders_page = max(1, -(-board.orders_without_milestone // DASHBOARD_LIST_LIMIT))
        orders_page = selectors.page_number(request.GET.get("orders_page"), last=last_orders_page)
        context = {
            "board": board,
            "waiting_orders": selectors.orders_without_milestone(
                user, role, limit=DASHBOARD_LIST_LIMIT, page=orders_page
            ),
            "orders_page": orders_page,
            "orders_pages": last_orders_page,
            "role": role,
            "request": request,
        }
        board_html = render_to_string("dashboards/board.html", context)
        if role != "seller":
            return (board_html,)
        gigs = gigs_of(user, limit=GIGS_ON_DASHBOARD + 1)
        gigs_context = {
            "gigs": gigs[:GIGS_ON_DASHBOARD],
            "more_gigs": len(gigs) > GIGS_ON_DASHBOARD,
            "saves_total": saves_of_seller(user),
        }
        return (board_html, render_to_string("dashboards/seller_gigs.html", gigs_context))

    version = selectors.dashboard_version(user, role)
    parts = cached_parts(request, ("dashboard", role, *version), render_board)
    # Outside the reused parts: the feed's address is shown once, right after it was made.
    context: dict[str, object] = {"board_html": parts[0], "role": role, **dashboard_section(request)}
    if role == "seller":
        context["gigs_html"] = parts[1]
    return render(request, f"dashboards/dashboard_{role}.html", context)


@login_required
def buyer_dashboard(request: AuthedRequest) -> HttpResponse:
    return _role_dashboard(request, "buyer")


@login_required
def seller_dashboard(request: AuthedRequest) -> HttpResponse:
    return _role_dashboard(request, "seller")
