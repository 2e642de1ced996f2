"""Pages of the marketplace: accounts, gigs, dashboards and notifications.

Thin: parse a form, call a service, redirect; a ``DomainError`` becomes an
error next to its field, or a message at the top of the page.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from marketplace import selectors
from marketplace.errors import DomainError
from marketplace.forms import GigForm, OrderStartForm, ProfileForm, SignupForm
from marketplace.models import Gig, User
from marketplace.services import gig_create, notifications_mark_read, user_create, user_update_profile
from orders.services import order_create
from payments.selectors import balances_for


class AuthedRequest(HttpRequest):
    """What ``login_required`` guarantees: a signed-in marketplace user."""

    user: User


GIGS_PER_PAGE = 12
NOTIFICATIONS_PER_PAGE = 25
DASHBOARD_SUMMARY_LIMIT = 5
DASHBOARD_LIST_LIMIT = 10
GIGS_ON_DASHBOARD = 10


def show_domain_error(request: HttpRequest, form: forms.Form, error: DomainError) -> None:
    """Put the service's refusal next to its field, or at the top of the page."""
    if error.field and error.field in form.fields:
        form.add_error(error.field, error.message)
    else:
        messages.error(request, error.message)


def paginate(request: HttpRequest, items, per_page: int):
    return Paginator(items, per_page).get_page(request.GET.get("page"))


# --- accounts ------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        messages.info(request, "You are logged out.")
        return super().post(request, *args, **kwargs)


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("profile")
    success_message = "Your password is changed."


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.method == "POST" and form.is_valid():
        user = user_create(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}. Your account is ready.")
        return redirect(next_url or "dashboard")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


@login_required
def profile(request: AuthedRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user_update_profile(user=request.user, **form.cleaned_data)
        messages.success(request, "Your profile is saved.")
        return redirect("profile")
    return render(request, "registration/profile.html", {"form": form})


# --- gigs and orders -------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    page = paginate(request, selectors.gigs_active(search=search), GIGS_PER_PAGE)
    return render(request, "marketplace/home.html", {"page": page, "gigs": page.object_list, "search": search})


def _gig_or_404(pk: int) -> Gig:
    gig = selectors.gig_for_display(pk)
    if gig is None:
        raise Http404("No such gig")
    return gig


def gig_detail(request: HttpRequest, pk: int) -> HttpResponse:
    gig = _gig_or_404(pk)
    if not gig.is_active and gig.seller_id != request.user.pk:
        raise Http404("No such gig")
    is_own = request.user.is_authenticated and gig.seller_id == request.user.pk
    return render(request, "marketplace/gig_detail.html", {"gig": gig, "is_own": is_own})


@login_required
def gig_create_view(request: AuthedRequest) -> HttpResponse:
    form = GigForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            gig = gig_create(seller=request.user, **form.service_kwargs())
        except DomainError as error:
            show_domain_error(request, form, error)
        else:
            messages.success(request, "Your gig is live.")
            return redirect("gig_detail", pk=gig.pk)
    return render(request, "marketplace/gig_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def order_start(request: AuthedRequest, pk: int) -> HttpResponse:
    gig = _gig_or_404(pk)
    if not gig.is_active and gig.seller_id != request.user.pk:
        raise Http404("No such gig")
    if gig.seller_id == request.user.pk:
        messages.error(request, "You cannot order your own gig.")
        return redirect("gig_detail", pk=gig.pk)
    form = OrderStartForm(request.POST or None, initial={"title": gig.title})
    if request.method == "POST" and form.is_valid():
        try:
            order = order_create(
                buyer=request.user, gig=gig, title=form.cleaned_data["title"], brief=form.cleaned_data["brief"]
            )
        except DomainError as error:
            show_domain_error(request, form, error)
        else:
            messages.success(request, f"Order opened with {gig.seller.username}. Add the first milestone to start.")
            return redirect(order.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(request, "marketplace/order_start.html", {"gig": gig, "form": form}, status=status)


# --- dashboards -------------------------------------------------------------------


@login_required
def dashboard(request: AuthedRequest) -> HttpResponse:
    context = {
        "buyer": selectors.dashboard_for(request.user, "buyer", limit=DASHBOARD_SUMMARY_LIMIT, sections=("to_review",)),
        "seller": selectors.dashboard_for(
            request.user, "seller", limit=DASHBOARD_SUMMARY_LIMIT, sections=("to_accept", "revision_requested")
        ),
        "balances": balances_for(request.user, pending_limit=0),
    }
    return render(request, "marketplace/dashboard.html", context)


def _role_dashboard(request: AuthedRequest, role: str) -> HttpResponse:
    board = selectors.dashboard_for(request.user, role, limit=DASHBOARD_LIST_LIMIT, pages=request.GET)
    last_orders_page = max(1, -(-board.orders_without_milestone // DASHBOARD_LIST_LIMIT))
    orders_page = selectors.page_number(request.GET.get("orders_page"), last=last_orders_page)
    context = {
        "board": board,
        "waiting_orders": selectors.orders_without_milestone(
            request.user, role, limit=DASHBOARD_LIST_LIMIT, page=orders_page
        ),
        "orders_page": orders_page,
        "orders_pages": last_orders_page,
        "role": role,
    }
    if role == "seller":
        gigs = selectors.gigs_of(request.user, limit=GIGS_ON_DASHBOARD + 1)
        context.update(gigs=gigs[:GIGS_ON_DASHBOARD], more_gigs=len(gigs) > GIGS_ON_DASHBOARD)
    return render(request, f"marketplace/dashboard_{role}.html", context)


@login_required
def buyer_dashboard(request: AuthedRequest) -> HttpResponse:
    return _role_dashboard(request, "buyer")


@login_required
def seller_dashboard(request: AuthedRequest) -> HttpResponse:
    return _role_dashboard(request, "seller")


# --- notifications ----------------------------------------------------------------


@login_required
def notifications(request: AuthedRequest) -> HttpResponse:
    unread_only = request.GET.get("show") == "unread"
    page = paginate(request, selectors.notifications_for(request.user, unread_only=unread_only), NOTIFICATIONS_PER_PAGE)
    context = {"page": page, "notifications": page.object_list, "unread_only": unread_only}
    return render(request, "marketplace/notifications.html", context)


@login_required
@require_POST
def notifications_read(request: AuthedRequest) -> HttpResponse:
    count = notifications_mark_read(user=request.user)
    if count:
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
    else:
        messages.info(request, "Nothing new to mark as read.")
    return redirect("notifications")
