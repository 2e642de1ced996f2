"""Agreeing on terms where money moves: the seller's offers (on an order, or
a custom offer from a gig page that opens one), "Accept and pay", and
"Accept changes". Each page that charges is a confirmation that says what
is charged and where it goes, with a "Confirm" button; paying by card sends
the buyer to the provider's page after the service's transaction commits."""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe
from djmoney.money import Money

from accounts.http import AuthedRequest
from accounts.models import User
from accounts.services import email_verified
from gigs.selectors import gig_for_viewer
from marketplace.errors import DomainError, DuplicateRequest
from marketplace.forms import add_domain_error
from milestones import views
from milestones.actions import changes_consequence, offer_consequence
from milestones.forms import CustomOfferForm, OfferForm, PayWithForm
from milestones.models import Milestone, MilestoneState, ProposalKind
from milestones.selectors import buyers_in_touch, can_offer_milestone
from milestones.services import offers
from milestones.services.changes import changes_accept, changes_money, changes_words
from milestones.views import (
    _buyer_balance,
    _milestone_for,
    _proposal_for,
    _to_checkout,
    funded_words,
    send_to_provider,
)
from orders.models import Order
from orders.selectors import order_for_user
from payments.checkout import checkout_sync
from payments.providers import ProviderUnavailable
from payments.services import FundingSource


def _terms(form) -> dict:
    data = form.cleaned_data
    return {
        "title": data["title"],
        "description": data["description"],
        "deadline": data["deadline"],
        "amount": Money(data["amount"], form.order.currency),
        "idempotency_key": data.get("token") or "",
    }


@require_http_methods(["GET", "POST"])
@login_required
def offer_new(request: AuthedRequest, pk: int) -> HttpResponse:
    """ "Propose a milestone": the seller offers a new phase on an open order."""
    order = order_for_user(request.user, pk)
    if not can_offer_milestone(order, request.user):
        messages.error(request, _("Only the seller of an open order can offer a milestone."))
        return redirect(order)
    form = OfferForm(request.POST or None, order=order)
    if request.method == "POST" and form.is_valid():
        try:
            milestone = offers.offer_create(order=order, actor=request.user, **_terms(form))
        except DuplicateRequest as error:
            messages.info(request, error.message)
            return redirect(order)
        except DomainError as error:
            if not add_domain_error(form, error):
                messages.error(request, error.message)
                return redirect(order)
        else:
            messages.success(
                request,
                _("Your offer “{title}” is sent; {buyer} can accept and pay it until it expires.").format(
                    title=milestone.title, buyer=order.buyer.username
                ),
            )
            return redirect(milestone.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(request, "milestones/offer_form.html", {"order": order, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def custom_offer_new(request: AuthedRequest, pk: int) -> HttpResponse:
    """A custom offer from the seller's own gig page to a buyer who has been in
    touch: it opens an order on the gig with the offer as its first milestone."""
    gig = gig_for_viewer(request.user, pk)
    if gig.seller_id != request.user.pk:
        raise Http404("Only the gig's seller sends custom offers")
    buyers = buyers_in_touch(request.user)
    currency = str(gig.starting_price.currency)
    # The terms are checked against the order the offer will open (not saved yet).
    form = CustomOfferForm(request.POST or None, order=Order(currency=currency), buyers=[b.username for b in buyers])
    if request.method == "POST" and form.is_valid():
        buyer = User.objects.get(username=form.cleaned_data["buyer"])
        try:
            milestone = offers.custom_offer_create(
                gig=gig,
                seller=request.user,
                buyer=buyer,
                order_title=form.cleaned_data["order_title"],
                **_terms(form),
            )
        except DuplicateRequest as error:
            messages.info(request, error.message)
            return redirect("gig_detail", pk=gig.pk)
        except DomainError as error:
            if not add_domain_error(form, error):
                messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Your custom offer is sent to {buyer}; the order opens with it as its first milestone.").format(
                    buyer=buyer.username
                ),
            )
            return redirect(milestone.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    context = {"gig": gig, "form": form, "has_buyers": bool(buyers)}
    return render(request, "milestones/custom_offer_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def offer_accept(request: AuthedRequest, pk: int) -> HttpResponse:
    """ "Accept and pay": a confirmation that says what is charged, then
    "Confirm" pays from the balance or goes to the provider's page."""
    milestone = _milestone_for(request.user, pk)
    order = milestone.order
    if order.role_of(request.user) != "buyer" or milestone.state != MilestoneState.OFFERED:
        if milestone.state == MilestoneState.AWAITING_PAYMENT and order.role_of(request.user) == "buyer":
            return _to_checkout(request, milestone)
        messages.error(
            request,
            _("“{title}” is {state}; there is no offer for you to accept.").format(
                title=milestone.title, state=milestone.get_state_display().lower()
            ),
        )
        return redirect(milestone.get_absolute_url())
    balance = _buyer_balance(order, request.user)
    form = PayWithForm(request.POST or None, balance_covers=balance >= milestone.total_charged)
    if request.method == "POST" and form.is_valid():
        method = form.cleaned_data["method"]
        source = FundingSource(method="balance" if method == "balance" else "checkout")
        try:
            milestone = offers.offer_accept(milestone=milestone, actor=request.user, source=source)
        except DomainError as error:
            if not add_domain_error(form, error, aliases={"method": "method"}):
                messages.error(request, error.message)
                return redirect(milestone.get_absolute_url())
        else:
            if milestone.state == MilestoneState.AWAITING_PAYMENT:
                return _to_checkout(request, milestone)
            messages.success(request, funded_words(milestone))
            return redirect(milestone.get_absolute_url())
    context = {
        "order": order,
        "milestone": milestone,
        "form": form,
        "balance": balance,
        "consequence": offer_consequence(milestone),
        "email_verified": email_verified(request.user),
    }
    return render(request, "milestones/offer_confirm.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def proposal_accept(request: AuthedRequest, pk: int) -> HttpResponse:
    """Accepting changes has its own confirmation (it may charge); every other
    kind is answered by ``views.proposal_accept``."""
    proposal, milestone = _proposal_for(request.user, pk)
    if proposal.kind != ProposalKind.CHANGES:
        return views.proposal_accept(request, pk)
    if milestone.order.role_of(request.user) != "buyer" or not proposal.is_pending:
        messages.error(
            request,
            _("Only the buyer can accept changes the seller proposed.")
            if proposal.is_pending
            else _("These changes are {state}; nothing was changed.").format(
                state=proposal.get_state_display().lower()
            ),
        )
        return redirect(milestone.get_absolute_url())
    return changes_confirm(request, proposal, milestone)


def changes_confirm(request: AuthedRequest, proposal, milestone: Milestone) -> HttpResponse:
    """ "Accept changes": what they cost or refund; a higher amount is paid
    from the balance or by card before the new terms apply."""
    money = changes_money(milestone, proposal)
    balance = _buyer_balance(milestone.order, request.user)
    form = PayWithForm(request.POST or None, balance_covers=balance >= money.total) if money.charges else None
    if request.method == "POST" and (form is None or form.is_valid()):
        method = form.cleaned_data["method"] if form is not None else "balance"
        try:
            proposal = changes_accept(proposal=proposal, actor=request.user, method=method)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(milestone.get_absolute_url())
        if proposal.is_pending and proposal.checkout is not None:
            return _changes_to_checkout(request, proposal, milestone)
        messages.success(
            request,
            _("You accepted the changes to “{title}”; the seller has been told.").format(title=milestone.title),
        )
        return redirect(milestone.get_absolute_url())
    context = {
        "order": milestone.order,
        "milestone": milestone,
        "proposal": proposal,
        "form": form,
        "balance": balance,
        "words": changes_words(milestone, proposal),
        "consequence": changes_consequence(milestone, proposal),
    }
    return render(request, "milestones/changes_confirm.html", context)


def _changes_to_checkout(request: AuthedRequest, proposal, milestone: Milestone) -> HttpResponse:
    return send_to_provider(
        request,
        proposal.checkout,
        return_path=reverse("changes_checkout_return", args=[proposal.pk]),
        back=milestone.get_absolute_url(),
        retry=_(
            "The payment page could not be opened just now. Nothing was charged; use “Accept changes” to try again."
        ),
    )


@require_safe
@login_required
def changes_checkout_return(request: AuthedRequest, pk: int) -> HttpResponse:
    """Back from paying the difference: ask the provider in case the webhook is late."""
    proposal, milestone = _proposal_for(request.user, pk)
    if proposal.kind != ProposalKind.CHANGES or proposal.checkout is None:
        return redirect(milestone.get_absolute_url())
    if request.GET.get("cancelled"):
        messages.info(request, _("You left the payment page; nothing was charged and the terms stay as they were."))
        return redirect(milestone.get_absolute_url())
    if milestone.order.role_of(request.user) == "buyer":
        with contextlib.suppress(ProviderUnavailable):
            checkout_sync(checkout=proposal.checkout)
    proposal.refresh_from_db()
    if proposal.is_pending:
        messages.info(request, _("Your payment is being confirmed; the new terms apply when it is."))
    elif proposal.state == "accepted":
        messages.success(
            request,
            _("You accepted the changes to “{title}”; the seller has been told.").format(title=milestone.title),
        )
    return redirect(milestone.get_absolute_url())
