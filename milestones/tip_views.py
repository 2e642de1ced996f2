""" "Leave a tip" on an approved milestone: the amount and how to pay, then
the balance pays at once or the buyer goes to the provider's page."""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe
from djmoney.money import Money

from accounts.http import AuthedRequest
from accounts.services import email_verified
from marketplace.errors import DomainError, InsufficientFunds
from marketplace.forms import add_domain_error
from marketplace.money import format_money
from milestones.forms import TipForm
from milestones.services.tips import open_tip_checkout, tip_closes_at, tip_leave, tip_refusal, tipped
from milestones.views import _buyer_balance, _milestone_for, send_to_provider
from payments.checkout import checkout_sync
from payments.models import Checkout, Tip
from payments.providers import ProviderUnavailable


@require_http_methods(["GET", "POST"])
@login_required
def milestone_tip(request: AuthedRequest, pk: int) -> HttpResponse:
    milestone = _milestone_for(request.user, pk)
    refusal = tip_refusal(milestone, request.user, already_tipped=tipped(milestone))
    if refusal is not None:
        messages.error(request, refusal.message)
        return redirect(milestone.get_absolute_url())
    balance = _buyer_balance(milestone.order, request.user)
    form = TipForm(request.POST or None, most=milestone.amount, balance=balance)
    if request.method == "POST" and form.is_valid():
        amount = Money(form.cleaned_data["amount"], milestone.order.currency)
        try:
            result = tip_leave(
                milestone=milestone, actor=request.user, amount=amount, method=form.cleaned_data["method"]
            )
        except InsufficientFunds:
            form.add_error(
                "method",
                _("Your balance ({balance}) does not cover this tip; pay by card.").format(
                    balance=format_money(balance)
                ),
            )
        except DomainError as error:
            if not add_domain_error(form, error):
                messages.error(request, error.message)
                return redirect(milestone.get_absolute_url())
        else:
            if isinstance(result, Checkout):
                return send_to_provider(
                    request,
                    result,
                    return_path=reverse("tip_checkout_return", args=[milestone.pk]),
                    back=milestone.get_absolute_url(),
                    retry=_(
                        "The payment page could not be opened just now. Nothing was charged; use “Leave a tip” to "
                        "try again."
                    ),
                )
            messages.success(
                request,
                _("You tipped {seller} {amount} for “{title}”. Thank you!").format(
                    seller=milestone.order.seller.username, amount=format_money(result.amount), title=milestone.title
                ),
            )
            return redirect(milestone.get_absolute_url())
    context = {
        "milestone": milestone,
        "order": milestone.order,
        "form": form,
        "balance": balance,
        "closes_at": tip_closes_at(milestone),
        "email_verified": email_verified(request.user),
    }
    return render(request, "milestones/tip_form.html", context, status=400 if form.errors else 200)


@require_safe
@login_required
def tip_checkout_return(request: AuthedRequest, pk: int) -> HttpResponse:
    """Back from paying a tip by card: ask the provider in case the webhook is late."""
    milestone = _milestone_for(request.user, pk)
    if request.GET.get("cancelled"):
        messages.info(request, _("You left the payment page; nothing was charged."))
        return redirect(milestone.get_absolute_url())
    checkout = open_tip_checkout(milestone)
    if checkout is not None and milestone.order.role_of(request.user) == "buyer":
        with contextlib.suppress(ProviderUnavailable):
            checkout_sync(checkout=checkout)
    tip = Tip.objects.filter(milestone=milestone).first()
    if tip is not None:
        messages.success(
            request,
            _("You tipped {amount} for “{title}”. Thank you!").format(
                amount=format_money(tip.amount), title=milestone.title
            ),
        )
    else:
        messages.info(request, _("Your payment is being confirmed; the tip is sent when it is."))
    return redirect(milestone.get_absolute_url())
