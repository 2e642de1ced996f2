"""The earnings page (a seller's earnings, a buyer's balance) and its forms: withdraw, and
refund the balance to card."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.forms import WithdrawalMethodForm
from accounts.http import AuthedRequest
from accounts.services import email_verified, user_choose_withdrawal_method
from marketplace.csv import csv_response
from marketplace.errors import DomainError, DuplicateRequest, InsufficientFunds
from marketplace.forms import describe_period, show_domain_error
from marketplace.http import client_ip
from marketplace.money import format_money
from marketplace.pages import CSRF_STAND_IN, cached_parts
from payments import selectors
from payments.forms import RefundToCardForm, WithdrawForm
from payments.providers import provider_name
from payments.receipts import LEDGER_CSV_HEADER, attach_receipt_links, ledger_rows, receipt_for
from payments.services import balance_refund_to_card, withdrawal_request

LEDGER_PER_PAGE = 25
WITHDRAWALS_SHOWN = 20


def _earnings_page(
    request: AuthedRequest,
    form: WithdrawForm | None = None,
    status: int = 200,
    to_card_form: RefundToCardForm | None = None,
    method_form: WithdrawalMethodForm | None = None,
) -> HttpResponse:
    """The balances and the history (withdrawals, one ledger page) are rendered once per change of
    the user's ledger (``selectors.ledger_state``) and reused (``marketplace.pages``); the withdraw
    form, the payout settings and the header are made on every view."""
    user = request.user
    state = selectors.ledger_state(user)
    withdrawable = [money.currency.code for money in state.available]
    if form is None:
        form = WithdrawForm(currencies=withdrawable or None)
    elif withdrawable:
        # A refused withdrawal shows the form again with the same choices and what is available.
        form.fields["currency"].choices = [(code, code) for code in withdrawable]  # type: ignore[attr-defined]
    if withdrawable:
        available = _("Available: {amounts}").format(
            amounts=", ".join(format_money(money) for money in state.available)
        )
        # The bound field of a form already validated keeps the help it was made with: set both.
        form.fields["amount"].help_text = available
        form["amount"].help_text = available
    to_card = selectors.card_refundable(user, state)
    if to_card_form is None:
        to_card_form = RefundToCardForm(currencies=[money.currency.code for money in to_card] or None)
    elif to_card:
        to_card_form.fields["currency"].choices = [(m.currency.code, m.currency.code) for m in to_card]  # type: ignore[attr-defined]
    if to_card:
        up_to = _("Up to {amounts}").format(amounts=", ".join(format_money(money) for money in to_card))
        to_card_form.fields["amount"].help_text = up_to
        to_card_form["amount"].help_text = up_to

    def render_parts() -> tuple[str, str]:
        balances = selectors.balances_for(user, accounts=state.accounts)
        withdrawals = list(selectors.withdrawals_for(user)[: WITHDRAWALS_SHOWN + 1])
        ledger, entries = selectors.ledger_page_for(balances, request.GET.get("page"), per_page=LEDGER_PER_PAGE)
        attach_receipt_links(
            withdrawals=withdrawals[:WITHDRAWALS_SHOWN],
            earnings=[e for row in balances for e in row.pending_earnings],
            entries=entries,
        )
        # Where an earning waits by another method than today's, the page says the change applies only
        # to earnings released after it (an earning's ``clears_at`` is fixed at its release).
        method_changed_in = {
            row.currency
            for row in balances
            if any(e.method and e.method != user.withdrawal_method for e in row.pending_earnings)
        }
        context = {
            "method_changed_in": method_changed_in,
            "current_method": user.withdrawal_method,
            "current_clearance": describe_period(user.clearance_period),
            "balances": balances,
            "withdrawals": withdrawals[:WITHDRAWALS_SHOWN],
            "more_withdrawals": len(withdrawals) > WITHDRAWALS_SHOWN,
            "page": ledger,
            "entries": entries,
            "request": request,
            "csrf_token": CSRF_STAND_IN,
        }
        return (
            render_to_string("payments/earnings_balances.html", context),
            render_to_string("payments/earnings_history.html", context),
        )

    # The parts say which method the user is paid by now: a change of it renders them again.
    # And in which language: the parts hold words, dates and amounts as the reader's language writes them.
    key = ("earnings", state.version, user.withdrawal_method, get_language())
    balances_html, history_html = cached_parts(request, key, render_parts)
    context = {
        "balances_html": balances_html,
        "history_html": history_html,
        "form": form,
        "can_withdraw": bool(withdrawable),
        "to_card": to_card,
        "to_card_form": to_card_form,
        "clearance_words": describe_period(user.clearance_period),
        # Asked before the first withdrawal, while the user is on the default without having chosen it.
        "method_form": None if user.has_chosen_withdrawal_method else (method_form or WithdrawalMethodForm()),
        "payment_provider": provider_name(),
        "email_verified": email_verified(user) if withdrawable else True,
    }
    return render(request, "payments/earnings.html", context, status=status)


@login_required
def earnings(request: AuthedRequest) -> HttpResponse:
    return _earnings_page(request)


@login_required
@require_POST
def withdraw(request: AuthedRequest) -> HttpResponse:
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _earnings_page(request, form, status=400)
    try:
        withdrawal = withdrawal_request(seller=request.user, amount=form.money(), key=form.cleaned_data["key"])
    except DuplicateRequest:
        messages.info(request, _("This withdrawal was already requested; nothing more was taken."))
        return redirect("earnings")
    except InsufficientFunds:
        form.add_error("amount", _("That is more than your available balance."))
        return _earnings_page(request, form, status=400)
    except DomainError as error:
        if error.field and error.field in form.fields:
            form.add_error(error.field, error.message)
        else:
            messages.error(request, error.message)
        return _earnings_page(request, form, status=400)
    messages.success(
        request,
        _("Withdrawal of {amount} requested to your {method}.").format(
            amount=format_money(withdrawal.amount), method=request.user.get_withdrawal_method_display()
        ),
    )
    return redirect("earnings")


@login_required
@require_POST
def withdrawal_method_choose(request: AuthedRequest) -> HttpResponse:
    """The first choice of how one is paid, from the earnings page's withdraw card."""
    form = WithdrawalMethodForm(request.POST)
    if not form.is_valid():
        return _earnings_page(request, method_form=form, status=400)
    try:
        user = user_choose_withdrawal_method(
            user=request.user, withdrawal_method=form.cleaned_data["withdrawal_method"], ip=client_ip(request)
        )
    except DomainError as error:
        if request.user.has_chosen_withdrawal_method:
            # Chosen already (another tab): the profile changes it.
            messages.error(request, error.message)
            return redirect("earnings")
        show_domain_error(request, form, error)
        return _earnings_page(request, method_form=form, status=400)
    messages.success(
        request,
        _("You are paid by {method}: earnings released from now on are {clearance}.").format(
            method=user.get_withdrawal_method_display(), clearance=describe_period(user.clearance_period)
        ),
    )
    return redirect(reverse("earnings") + "#withdraw")


@login_required
@require_POST
def refund_to_card(request: AuthedRequest) -> HttpResponse:
    form = RefundToCardForm(request.POST)
    if not form.is_valid():
        return _earnings_page(request, to_card_form=form, status=400)
    try:
        commands = balance_refund_to_card(user=request.user, amount=form.money(), key=form.cleaned_data["key"])
    except DuplicateRequest:
        messages.info(request, _("This refund was already requested; nothing more was taken."))
        return redirect("earnings")
    except InsufficientFunds as error:
        form.add_error("amount", error.message)
        return _earnings_page(request, to_card_form=form, status=400)
    except DomainError as error:
        show_domain_error(request, form, error)
        return _earnings_page(request, to_card_form=form, status=400)
    amount = format_money(form.money())
    if len(commands) == 1:
        sent = _("{amount} is on its way back to your card; banks take 5–10 days to show it.").format(amount=amount)
    else:
        sent = ngettext(
            "{amount} is on its way back to the {n} card you paid with; banks take 5–10 days to show it.",
            "{amount} is on its way back to the {n} cards you paid with; banks take 5–10 days to show it.",
            len(commands),
        ).format(amount=amount, n=len(commands))
    messages.success(request, sent)
    return redirect("earnings")


@login_required
@require_GET
def receipt(request: AuthedRequest, pk: int) -> HttpResponse:
    """One printable receipt: the viewer's own (404 otherwise), or any for staff
    who may read the ledger (``?side=seller`` picks a split's other side)."""
    found = receipt_for(request.user, pk, side=request.GET.get("side"))
    return render(request, "payments/receipt.html", {"receipt": found})


@login_required
@require_GET
def earnings_export(request: AuthedRequest) -> HttpResponseBase:
    """Every entry on the user's own accounts, as a streamed CSV download."""
    return csv_response(stem="earnings", header=LEDGER_CSV_HEADER, rows=ledger_rows(request.user))
