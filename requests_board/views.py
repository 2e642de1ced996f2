"""The pages of buyer requests (issue 36, item 1): "Requests" (sellers: open requests to filter and
search; buyers: their own), "Post a request", a request's page (the buyer: the proposals side by
side with "Hire"; a seller: "Send a proposal", their own only), "Hire" (the funding choice, then
the provider's page for a card). Thin: the rules are ``requests_board.services``'."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.http import AuthedRequest
from marketplace.errors import DomainError, DuplicateRequest
from marketplace.forms import add_domain_error
from marketplace.pagination import paginate
from marketplace.storage import serve_file
from milestones.models import Milestone, MilestoneState
from milestones.package_views import _balance_in
from milestones.views import _to_checkout, funded_words
from orders.models import Order
from payments.services import FundingSource
from requests_board.forms import HireForm, ProposalForm, RequestFilterForm, RequestForm
from requests_board.models import ProposalState, RequestAttachment, RequestProposal, RequestState
from requests_board.selectors import (
    proposal_of_seller,
    proposals_for_buyer,
    request_for_user,
    requests_for_sellers,
    requests_of_buyer,
)
from requests_board.services import (
    RequestErrors,
    proposal_edit,
    proposal_plan,
    proposal_send,
    proposal_withdraw,
    request_hire,
    request_post,
    request_withdraw,
)
from reviews.selectors import buyer_reputation

REQUESTS_PER_PAGE = 20


def _report(form, error: DomainError, request: AuthedRequest) -> None:
    errors: list[DomainError] = list(error.errors) if isinstance(error, RequestErrors) else [error]
    for one in errors:
        if not add_domain_error(form, one):
            messages.error(request, one.message)


@require_http_methods(["GET"])
@login_required
def request_list(request: AuthedRequest) -> HttpResponse:
    """ "Requests": open requests for sellers (filters as GET parameters), and the viewer's own."""
    filters = RequestFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    page = paginate(
        request,
        requests_for_sellers(
            viewer=request.user,
            query=(data.get("q") or "").strip(),
            category=data.get("category") or "",
            min_budget=data.get("min_budget"),
            max_budget=data.get("max_budget"),
        ),
        REQUESTS_PER_PAGE,
    )
    mine = list(requests_of_buyer(request.user)[:50])
    return render(request, "requests_board/list.html", {"filters": filters, "page": page, "mine": mine})


@require_http_methods(["GET", "POST"])
@login_required
def request_new(request: AuthedRequest) -> HttpResponse:
    """ "Post a request", with optional files."""
    form = RequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            buyer_request = request_post(
                buyer=request.user, data=form.request_input(), files=form.cleaned_data["files"]
            )
        except DomainError as error:
            _report(form, error, request)
        else:
            messages.success(request, _("Your request is posted; sellers can send proposals now."))
            return redirect(buyer_request)
    return render(request, "requests_board/new.html", {"form": form})


@require_http_methods(["GET", "POST"])
@login_required
def request_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    buyer_request = request_for_user(pk, request.user)
    context: dict = {"buyer_request": buyer_request, "attachments": list(buyer_request.attachments.all())}
    if buyer_request.buyer_id == request.user.pk:
        if request.method == "POST":
            raise Http404(_("Buyers do not propose"))
        proposals = proposals_for_buyer(buyer_request)
        context["proposals"] = proposals
        context["pending_count"] = sum(1 for p in proposals if p.state == ProposalState.PENDING)
        return render(request, "requests_board/detail.html", context)
    own = proposal_of_seller(buyer_request, request.user)
    editable = buyer_request.state == RequestState.OPEN and (own is None or own.state == ProposalState.PENDING)
    pending = own if own is not None and own.state == ProposalState.PENDING else None
    form = None
    if editable:
        initial = {}
        steps = 1
        if pending is not None:
            initial["message"] = pending.message
            for step in pending.step_list:  # type: ignore[attr-defined]
                n = step.position
                initial.update(
                    {
                        f"step-{n}-title": step.title,
                        f"step-{n}-deliverables": step.deliverables,
                        f"step-{n}-days": step.days,
                        f"step-{n}-price": step.price.amount,
                    }
                )
            steps = len(pending.step_list) or 1  # type: ignore[attr-defined]
        currency = str(buyer_request.budget.currency)
        form = ProposalForm(request.POST or None, initial=initial, currency=currency, steps=steps)
        if request.method == "POST" and "add_step" not in request.POST and form.is_valid():
            try:
                if pending is None:
                    proposal_send(seller=request.user, buyer_request=buyer_request, data=form.proposal_input())
                    messages.success(request, _("Your proposal is sent."))
                else:
                    proposal_edit(seller=request.user, proposal=pending, data=form.proposal_input())
                    messages.success(request, _("Your proposal is updated."))
            except DomainError as error:
                _report(form, error, request)
            else:
                return redirect(buyer_request)
    elif request.method == "POST":
        messages.error(request, _("This request no longer takes proposals; nothing was sent."))
        return redirect(buyer_request)
    context.update(
        {
            "own": own,
            "form": form,
            "reputation": buyer_reputation(buyer_request.buyer),
        }
    )
    return render(request, "requests_board/detail.html", context)


@require_POST
@login_required
def request_withdraw_view(request: AuthedRequest, pk: int) -> HttpResponse:
    """ "Withdraw request": the buyer's, while it is open; anyone else 404. A second press says so
    and changes nothing."""
    buyer_request = request_for_user(pk, request.user)
    if buyer_request.buyer_id != request.user.pk:
        raise Http404(_("No such request"))
    try:
        request_withdraw(buyer=request.user, buyer_request=buyer_request)
    except DuplicateRequest as error:
        messages.info(request, error.message)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _(
                "Your request is withdrawn: sellers can no longer propose, and any pending proposal was declined"
                " with a notice to its seller."
            ),
        )
    return redirect(buyer_request)


@require_safe
@login_required
def request_file(request: AuthedRequest, pk: int, file_pk: int) -> HttpResponseBase:
    """A file posted with the request, to whoever may see the request (``request_for_user``: its
    buyer; sellers while it is open; afterwards the sellers who proposed); anyone else 404."""
    buyer_request = request_for_user(pk, request.user)
    item = RequestAttachment.objects.filter(pk=file_pk, request=buyer_request).first()
    if item is None:
        raise Http404(_("No such file"))
    return serve_file(item.file, item.original_name, item.content_type or "application/octet-stream")


def _own_proposal(request: AuthedRequest, pk: int, proposal_pk: int) -> RequestProposal:
    proposal = RequestProposal.objects.select_related("request").filter(pk=proposal_pk, request_id=pk).first()
    if proposal is None or proposal.seller_id != request.user.pk:
        raise Http404(_("No such proposal"))
    return proposal


@require_POST
@login_required
def proposal_withdraw_view(request: AuthedRequest, pk: int, proposal_pk: int) -> HttpResponse:
    proposal = _own_proposal(request, pk, proposal_pk)
    try:
        proposal_withdraw(seller=request.user, proposal=proposal)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your proposal is withdrawn."))
    return redirect(proposal.request)


@require_http_methods(["GET", "POST"])
@login_required
def proposal_hire(request: AuthedRequest, pk: int, proposal_pk: int) -> HttpResponse:
    """ "Hire": what is charged now (the first step and its fee), the funding choice, then the
    order opens; a card goes on to the provider's page."""
    proposal = RequestProposal.objects.select_related("request", "seller").filter(pk=proposal_pk, request_id=pk).first()
    if proposal is None or proposal.request.buyer_id != request.user.pk:
        raise Http404(_("No such proposal"))
    buyer_request = proposal.request
    plan = proposal_plan(proposal)
    if not plan.steps:
        raise Http404(_("No steps"))
    currency = str(plan.steps[0].amount.currency)
    balance = _balance_in(request.user, currency)
    form = HireForm(request.POST or None, balance_covers=balance >= plan.charged_now)
    if request.method == "POST" and form.is_valid():
        method = form.cleaned_data["method"]
        try:
            order = request_hire(
                buyer=request.user,
                proposal=proposal,
                key=form.cleaned_data["key"],
                source=FundingSource(method="balance" if method == "balance" else "checkout"),
            )
        except DuplicateRequest as error:
            messages.info(request, error.message)
            return redirect(error.obj if isinstance(error.obj, Order) else buyer_request)
        except DomainError as error:
            if not add_domain_error(form, error):
                messages.error(request, error.message)
        else:
            first = Milestone.objects.filter(order=order).order_by("position").first()
            assert first is not None
            if first.state == MilestoneState.AWAITING_PAYMENT:
                return _to_checkout(request, first)
            messages.success(request, " ".join((funded_words(first), _("The seller accepts the plan to start."))))
            return redirect(first.get_absolute_url())
    context = {"buyer_request": buyer_request, "proposal": proposal, "plan": plan, "form": form, "balance": balance}
    return render(request, "requests_board/hire.html", context)
