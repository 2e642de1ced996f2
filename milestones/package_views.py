"""Ordering a gig package and going on with it (issue 35): the "Requirements" page
(``package_order``), "Continue to next milestone" (a confirmation that says what is charged, then
the balance or the provider's page) and the buyer's return from paying it, and the requirement
answers' files. Thin, as every view: the rules are ``milestones.services.packages``'."""

from __future__ import annotations

import contextlib
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe
from djmoney.money import Money

from accounts.http import AuthedRequest
from accounts.services import email_verified
from gigs.models import Gig, GigPackage
from marketplace.errors import DomainError, DuplicateRequest
from marketplace.forms import add_domain_error
from marketplace.storage import serve_file
from milestones.actions import continue_consequence, milestone_actions
from milestones.forms import PackageOrderForm, PayWithForm
from milestones.models import Milestone, MilestoneState
from milestones.services.packages import (
    continue_checkouts,
    milestone_continue,
    open_continue_checkout,
    package_order_errors,
    package_order_start,
    package_plan,
)
from milestones.views import _buyer_balance, _milestone_for, _to_checkout, funded_words, send_to_provider
from orders.models import Order, RequirementAnswer
from orders.selectors import order_for_user
from orders.services import staff_file_read_record
from payments.checkout import checkout_sync
from payments.models import Account, AccountKind
from payments.providers import ProviderUnavailable
from payments.services import FundingSource

S = MilestoneState


def _balance_in(user, currency: str) -> Money:
    account = Account.objects.filter(kind=AccountKind.BUYER_BALANCE, user=user, currency=currency).first()
    return account.cached_balance if account else Money(0, currency)


@require_http_methods(["GET", "POST"])
@login_required
def package_order(request: AuthedRequest, gig_id: int, position: int) -> HttpResponse:
    """ "Order <package>": the "Requirements" page. The steps with their price, days and revisions,
    the extras to tick, the seller's questions, the total and what is charged now (the first
    step); "Start order" opens the order and pays the first step from the balance or on the
    provider's page, as creating a milestone does."""
    gig = get_object_or_404(Gig.objects.select_related("seller"), pk=gig_id)
    package = get_object_or_404(GigPackage, gig=gig, position=position)
    if not gig.is_active:
        messages.error(request, _("This gig is no longer available."))
        return redirect("gig_detail", pk=gig.pk)
    if gig.seller_id == request.user.pk:
        messages.error(request, _("You cannot order your own gig."))
        return redirect("gig_detail", pk=gig.pk)
    questions = list(gig.questions.order_by("position"))
    extras = list(gig.extras.order_by("position"))
    steps = list(package.steps.order_by("position"))
    if not steps:
        raise Http404("This package has no steps")
    currency = str(steps[0].price.currency)
    balance = _balance_in(request.user, currency)
    chosen = []
    if request.method == "POST":
        wanted = set(request.POST.getlist("extras"))
        chosen = [e for e in extras if str(e.pk) in wanted]
    plan = package_plan(package, chosen)
    form = PackageOrderForm(
        request.POST or None,
        request.FILES or None,
        questions=questions,
        extras=extras,
        balance_covers=balance >= plan.charged_now,
    )
    if request.method == "POST" and form.is_valid():
        answers, extra_ids = form.answers(), form.extra_ids()
        errors, _checked, _answers = package_order_errors(
            buyer=request.user, gig=gig, package=package, extra_ids=extra_ids, answers=answers
        )
        for error in errors:
            if not add_domain_error(form, error):
                messages.error(request, error.message)
        if not errors:
            method = form.cleaned_data["method"]
            try:
                order = package_order_start(
                    buyer=request.user,
                    gig=gig,
                    package=package,
                    extra_ids=extra_ids,
                    answers=answers,
                    key=form.cleaned_data["key"],
                    source=FundingSource(method="balance" if method == "balance" else "checkout"),
                )
            except DuplicateRequest as error:
                messages.info(request, error.message)
                return redirect(error.obj if isinstance(error.obj, Order) else gig)
            except DomainError as error:
                if not add_domain_error(form, error, aliases={"method": "method"}):
                    messages.error(request, error.message)
            else:
                first = Milestone.objects.filter(order=order).order_by("position").first()
                assert first is not None
                if first.state == S.AWAITING_PAYMENT:
                    return _to_checkout(request, first)
                messages.success(request, funded_words(first) + " " + _("The seller accepts the plan to start."))
                return redirect(first.get_absolute_url())
    context = {
        "gig": gig,
        "package": package,
        "steps": plan.steps,
        "plan": plan,
        "form": form,
        "balance": balance,
        "email_verified": email_verified(request.user),
    }
    return render(request, "milestones/package_order.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def continue_view(request: AuthedRequest, pk: int) -> HttpResponse:
    """ "Continue to next milestone": what is charged, how to pay; then the balance pays at once or the
    buyer goes to the provider's page."""
    milestone = _milestone_for(request.user, pk)
    order = milestone.order
    if "fund_planned" not in milestone_actions(milestone, request.user, order):
        open_one = open_continue_checkout(milestone) if milestone.state == S.PLANNED else None
        if open_one is None:
            messages.error(
                request,
                _("“{title}” is {state}; it cannot be continued now.").format(
                    title=milestone.title, state=milestone.get_state_display().lower()
                ),
            )
            return redirect(milestone.get_absolute_url())
    balance = _buyer_balance(order, request.user)
    form = PayWithForm(request.POST or None, balance_covers=balance >= milestone.total_charged)
    if request.method == "POST" and form.is_valid():
        method = form.cleaned_data["method"]
        try:
            checkout = milestone_continue(
                buyer=request.user,
                milestone=milestone,
                key=request.POST.get("key") or uuid.uuid4().hex,
                source=FundingSource(method="balance" if method == "balance" else "checkout"),
            )
        except DomainError as error:
            if not add_domain_error(form, error, aliases={"method": "method"}):
                messages.error(request, error.message)
                return redirect(milestone.get_absolute_url())
        else:
            if checkout is not None:
                return send_to_provider(
                    request,
                    checkout,
                    return_path=reverse("continue_checkout_return", args=[milestone.pk]),
                    back=milestone.get_absolute_url(),
                    retry=_(
                        "The payment page could not be opened just now. Nothing was charged; use “Continue to next "
                        "milestone” to try again."
                    ),
                )
            milestone.refresh_from_db()
            messages.success(request, funded_words(milestone) + " " + _("Work has started."))
            return redirect(milestone.get_absolute_url())
    context = {
        "order": order,
        "milestone": milestone,
        "form": form,
        "balance": balance,
        "key": uuid.uuid4().hex,
        "consequence": continue_consequence(milestone),
        "email_verified": email_verified(request.user),
    }
    return render(request, "milestones/continue_confirm.html", context, status=400 if form.errors else 200)


@require_safe
@login_required
def continue_checkout_return(request: AuthedRequest, pk: int) -> HttpResponse:
    """Back from paying the next step by card: ask the provider in case the webhook is late."""
    milestone = _milestone_for(request.user, pk)
    if request.GET.get("cancelled"):
        messages.info(
            request,
            _("You left the payment page; nothing was charged. “{title}” is still planned.").format(
                title=milestone.title
            ),
        )
        return redirect(milestone.get_absolute_url())
    if not continue_checkouts(milestone).exists():
        return redirect(milestone.get_absolute_url())  # nothing was paid for it here
    checkout = open_continue_checkout(milestone)
    if checkout is not None and milestone.order.role_of(request.user) == "buyer":
        with contextlib.suppress(ProviderUnavailable):
            checkout_sync(checkout=checkout)
    milestone.refresh_from_db()
    if milestone.state == S.PLANNED:
        messages.info(request, _("Your payment is being confirmed; the milestone starts when it is."))
    else:
        messages.success(request, funded_words(milestone) + " " + _("Work has started."))
    return redirect(milestone.get_absolute_url())


@require_safe
@login_required
def requirement_file(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """A file the buyer answered a requirement with: the order's parties and support staff only
    (404 for everyone else, as for the order)."""
    answer = RequirementAnswer.objects.filter(pk=pk).exclude(file="").first()
    if answer is None:
        raise Http404("No such file")
    order = order_for_user(request.user, answer.order_id)
    if not order.is_party(request.user):
        staff_file_read_record(
            reader=request.user, kind="requirement file", file_name=answer.file_name, order=order, where="the brief"
        )
    return serve_file(answer.file, answer.file_name, answer.content_type or "application/octet-stream")
