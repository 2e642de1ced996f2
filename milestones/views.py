"""Milestone pages and actions. Thin: find the milestone the viewer may see
(``order_for_user``: party or staff, else 404), parse a form, call a service,
redirect with a message. A refused action (second click, stale tab, wrong
role) shows the service's message and changes nothing."""

from __future__ import annotations

import contextlib
import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from djmoney.money import Money

from accounts.http import AuthedRequest
from accounts.services import email_verified
from marketplace.errors import DomainError, DuplicateRequest
from marketplace.forms import add_domain_error
from marketplace.money import format_money
from marketplace.storage import serve_file
from milestones.actions import BY_NAME, cancellation_consequence, cancellation_preview, milestone_actions
from milestones.forms import MilestoneTermsForm
from milestones.models import DeliveryFile, DisputeStatement, Milestone, MilestoneState, Proposal, ProposalKind
from milestones.selectors import can_create_milestone
from milestones.services import proposals
from milestones.services.creation import milestone_create
from milestones.services.lifecycle import portfolio_consent
from orders.models import Order
from orders.selectors import order_for_user
from orders.services import staff_file_read_record
from payments.checkout import checkout_open, checkout_sync
from payments.fees import buyer_service_fee
from payments.models import Account, AccountKind, Checkout
from payments.providers import ProviderUnavailable
from payments.services import FundingSource

DRAFTS = "milestone_drafts"
MAX_DRAFTS = 10


def _milestone_for(user, pk: int) -> Milestone:
    """The milestone, if the user may see its order; else 404."""
    order_id = Milestone.objects.filter(pk=pk).values_list("order_id", flat=True).first()
    if order_id is None:
        raise Http404("No such milestone")
    order = order_for_user(user, order_id)
    milestone = Milestone.objects.select_related("dispute").get(pk=pk)
    milestone.order = order
    return milestone


def _back_to(milestone: Milestone) -> HttpResponseRedirect:
    return redirect(milestone.get_absolute_url())


def _refusal(milestone: Milestone, user, refusal) -> str:
    """Why the form of an action is not offered to this viewer now (``refusal``: the action's sentence)."""
    if milestone.order.role_of(user) is None:
        return _("Staff can view this order but not act on its milestones; disputes are resolved in the admin.")
    return str(refusal).format(title=milestone.title, state=milestone.get_state_display().lower())


# --- create and fund ----------------------------------------------------------


@login_required
def milestone_new(request: AuthedRequest, pk: int) -> HttpResponse:
    order = order_for_user(request.user, pk)
    if not can_create_milestone(order, request.user):
        messages.error(request, _("Only the buyer of an open order can create milestones."))
        return redirect(order)
    form = MilestoneTermsForm(request.POST or None, order=order)
    if request.method == "POST" and form.is_valid():
        key = uuid.uuid4().hex
        drafts = request.session.get(DRAFTS, {})
        drafts[key] = {
            "order": order.pk,
            "title": form.cleaned_data["title"],
            "description": form.cleaned_data["description"],
            "deadline": form.cleaned_data["deadline"].isoformat(),
            "amount": str(form.cleaned_data["amount"]),
        }
        # Keep the session small: only the newest few unpaid drafts.
        request.session[DRAFTS] = dict(list(drafts.items())[-MAX_DRAFTS:])
        return redirect("milestone_pay", pk=order.pk, key=key)
    return render(request, "milestones/milestone_form.html", {"order": order, "form": form})


def _buyer_balance(order: Order, user) -> Money:
    account = Account.objects.filter(kind=AccountKind.BUYER_BALANCE, user=user, currency=order.currency).first()
    return account.cached_balance if account else Money(0, order.currency)


@login_required
def milestone_pay(request: AuthedRequest, pk: int, key: str) -> HttpResponse:
    """Choose how to pay: from the balance (instant) or by card on the
    provider's hosted page. No card number is ever typed on this site."""
    order = order_for_user(request.user, pk)
    already = Milestone.objects.filter(order=order, funding_key=key).first()
    if already is not None:
        if already.state == MilestoneState.AWAITING_PAYMENT:
            return _to_checkout(request, already)
        messages.info(request, _("This milestone was already created and paid for."))
        return redirect(already.get_absolute_url())
    draft = request.session.get(DRAFTS, {}).get(key)
    if draft is None or draft.get("order") != order.pk:
        messages.error(request, _("This payment form has expired; please fill in the milestone again."))
        return redirect("milestone_new", pk=order.pk)

    amount = Money(Decimal(draft["amount"]), order.currency)
    deadline = parse_datetime(draft["deadline"])
    assert deadline is not None  # written by milestone_new from a cleaned datetime
    fee = buyer_service_fee(amount)
    total = amount + fee
    balance = _buyer_balance(order, request.user)

    if request.method == "POST":
        method = request.POST.get("method")
        if method not in ("balance", "card"):
            messages.error(request, _("Choose how to pay."))
        else:
            source = FundingSource(method="balance" if method == "balance" else "checkout")
            try:
                milestone = milestone_create(
                    order=order,
                    actor=request.user,
                    title=draft["title"],
                    description=draft["description"],
                    deadline=deadline,
                    amount=amount,
                    source=source,
                    idempotency_key=key,
                )
            except DuplicateRequest as error:
                messages.info(request, error.message)
                return redirect(order)
            except DomainError as error:
                messages.error(request, error.message)
            else:
                drafts = request.session.get(DRAFTS, {})
                drafts.pop(key, None)
                request.session[DRAFTS] = drafts
                if milestone.state == MilestoneState.AWAITING_PAYMENT:
                    return _to_checkout(request, milestone)
                messages.success(
                    request,
                    _("“{title}” is funded: {amount} is held in escrow until you approve the work.").format(
                        title=milestone.title, amount=format_money(milestone.amount)
                    ),
                )
                return redirect(milestone.get_absolute_url())

    context = {
        "order": order,
        "draft": draft,
        "deadline": deadline,
        "amount": amount,
        "fee": fee,
        "total": total,
        "balance": balance,
        "balance_covers": balance >= total,
        "key": key,
        "email_verified": email_verified(request.user),
    }
    return render(request, "milestones/milestone_pay.html", context)


def _absolute(request: AuthedRequest, path: str) -> str:
    # The address the buyer is using (a validated host), so they come back to it.
    return request.build_absolute_uri(path)


def _to_checkout(request: AuthedRequest, milestone: Milestone) -> HttpResponse:
    """Send the buyer to the provider's page for this unpaid milestone (after
    its row committed: the provider is called with no transaction open)."""
    checkout = Checkout.objects.select_related("buyer", "milestone__order").filter(milestone=milestone).first()
    if checkout is None or not checkout.is_open:
        messages.error(request, _("“{title}” can no longer be paid; add it again.").format(title=milestone.title))
        return redirect(milestone.get_absolute_url())
    return send_to_provider(
        request,
        checkout,
        return_path=reverse("milestone_checkout_return", args=[milestone.pk]),
        back=milestone.get_absolute_url(),
        retry=_(
            "The payment page could not be opened just now. Nothing was charged; use “Pay now” on the milestone to "
            "try again."
        ),
    )


def send_to_provider(request: AuthedRequest, checkout: Checkout, *, return_path: str, back: str, retry: str):
    """Open the provider's page for a checkout whose row has committed (no
    transaction open) and send the buyer there; if the provider does not
    answer, back to ``back`` with ``retry``: the whole message, "The payment page could not be opened
    just now. Nothing was charged; …" and how to try again."""
    return_url = _absolute(request, return_path)
    try:
        checkout = checkout_open(
            checkout=checkout,
            success_url=return_url + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=return_url + "?cancelled=1",
        )
    except ProviderUnavailable:
        messages.error(request, retry)
        return redirect(back)
    return redirect(checkout.url)


@require_POST
@login_required
def milestone_checkout(request: AuthedRequest, pk: int) -> HttpResponse:
    """“Pay now” on an unpaid milestone: back to the provider's page."""
    milestone = _milestone_for(request.user, pk)
    if milestone.order.role_of(request.user) != "buyer":
        messages.error(request, _("Only the buyer pays for a milestone."))
        return _back_to(milestone)
    if milestone.state != MilestoneState.AWAITING_PAYMENT:
        messages.info(
            request,
            _("“{title}” is {state}; nothing to pay.").format(
                title=milestone.title, state=milestone.get_state_display().lower()
            ),
        )
        return _back_to(milestone)
    return _to_checkout(request, milestone)


@require_safe
@login_required
def milestone_checkout_return(request: AuthedRequest, pk: int) -> HttpResponse:
    """Where the provider sends the buyer back. The webhook funds the milestone;
    this asks the provider too, in case the webhook is late. It only records
    what the provider says happened, so answering a GET is safe."""
    milestone = _milestone_for(request.user, pk)
    checkout = Checkout.objects.filter(milestone=milestone).first()
    if checkout is None or milestone.order.role_of(request.user) != "buyer":
        return _back_to(milestone)
    if request.GET.get("cancelled"):
        if milestone.state == MilestoneState.AWAITING_PAYMENT:
            messages.info(
                request,
                _(
                    "You left the payment page; nothing was charged. “{title}” waits for payment until its checkout "
                    "expires."
                ).format(title=milestone.title),
            )
        return _back_to(milestone)
    with contextlib.suppress(ProviderUnavailable):  # the webhook will tell us
        checkout_sync(checkout=checkout)
    milestone.refresh_from_db()
    if milestone.state == MilestoneState.AWAITING_PAYMENT:
        messages.info(request, _("Your payment is being confirmed; this page updates when it is."))
    elif milestone.is_open:
        # Paid: a buyer's milestone awaits the seller's acceptance, a seller's offer has started
        # or queued. Both are confirmed (issue 34: the offer paid by card was not).
        messages.success(request, funded_words(milestone))
    return _back_to(milestone)


def funded_words(milestone: Milestone) -> str:
    """The confirmation once a milestone is paid, by card or from the balance: the same words
    whichever way it was paid."""
    values = {"title": milestone.title, "amount": format_money(milestone.amount)}
    if milestone.is_offer:
        if milestone.state == MilestoneState.ACCEPTED:
            return _(
                "You accepted “{title}”: {amount} is held in escrow until you approve the work. It starts when the "
                "milestones before it close."
            ).format(**values)
        return _("You accepted “{title}”: {amount} is held in escrow until you approve the work.").format(**values)
    return _("“{title}” is funded: {amount} is held in escrow until you approve the work.").format(**values)


# --- the actions of milestones.actions ---------------------------------------------


def milestone_action(request: AuthedRequest, pk: int, *, name: str) -> HttpResponse:
    """Every action of the table: a one-click action acts on POST only (405
    otherwise, before anything else, as ``require_POST``); an action with a
    form shows it on GET (never acting) and acts on its POST."""
    if BY_NAME[name].one_click and request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return _milestone_action(request, pk, name=name)


@login_required
def _milestone_action(request: AuthedRequest, pk: int, *, name: str) -> HttpResponse:
    action = BY_NAME[name]
    milestone = _milestone_for(request.user, pk)
    if action.one_click:
        try:
            action.perform(milestone, request.user, {})
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, str(action.success).format(title=milestone.title))
        return _back_to(milestone)

    assert action.form is not None
    form_kwargs = action.form_kwargs(milestone, request.user) if action.form_kwargs else {}
    if request.method == "POST":
        form = action.form(request.POST, request.FILES, **form_kwargs)
        if form.is_valid():
            try:
                action.perform(milestone, request.user, form.cleaned_data)
            except DuplicateRequest as error:
                messages.info(request, error.message)
                return _back_to(milestone)
            except DomainError as error:
                if not add_domain_error(form, error, aliases=action.aliases):
                    messages.error(request, error.message)
                    return _back_to(milestone)
            else:
                messages.success(request, str(action.success).format(title=milestone.title))
                return _back_to(milestone)
    else:
        if action.name not in milestone_actions(milestone, request.user, milestone.order):
            messages.error(request, _refusal(milestone, request.user, action.refusal))
            return _back_to(milestone)
        if action.initial:
            form_kwargs["initial"] = action.initial(milestone)
        form = action.form(**form_kwargs)
    live = None
    if action.live_field:
        # The figures for the value in the form now (re-shown with an error, too); htmx re-renders them as one types.
        url = reverse(action.live_url_name, args=[milestone.pk])
        form.fields[action.live_field].widget.attrs.update(
            {
                "data-hx-get": url,
                "data-hx-trigger": "input changed delay:300ms, change",
                "data-hx-target": "#live-figures",
                "data-hx-swap": "innerHTML",
                "aria-controls": "live-figures",
            }
        )
        live = cancellation_preview(milestone, form.data.get(action.live_field) if form.is_bound else None)
    context = {
        "order": milestone.order,
        "milestone": milestone,
        "form": form,
        "title": str(action.heading or action.label),
        "button": action.button,
        "consequence": action.consequence(milestone) if action.consequence else "",
        "button_class": action.style,
        "live": live,
        "multipart": any(f.widget.needs_multipart_form for f in form.fields.values()),
        "feedback": milestone.revision_requests.order_by("-created_at", "-id").first()
        if action.name == "submit" and milestone.state == MilestoneState.REVISION_REQUESTED
        else None,
    }
    return render(request, "milestones/milestone_action.html", context)


@require_safe
@login_required
def cancellation_figures(request: AuthedRequest, pk: int) -> HttpResponse:
    """The cancellation form's figures for ``?refund=``: what the buyer receives back (with the
    service fee's share) and the seller nets, as the settlement would post them. A party's only."""
    milestone = _milestone_for(request.user, pk)
    if not milestone.order.is_party(request.user):
        raise Http404("No such milestone")
    preview = cancellation_preview(milestone, request.GET.get("refund"))
    return render(request, "partials/cancellation_figures.html", {"live": preview})


@require_POST
@login_required
def milestone_portfolio(request: AuthedRequest, pk: int) -> HttpResponse:
    """The buyer shows an approved milestone's work in the seller's portfolio, or withdraws it."""
    milestone = _milestone_for(request.user, pk)
    allowed = request.POST.get("allowed") == "1"
    try:
        portfolio_consent(milestone=milestone, actor=request.user, allowed=allowed)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            (
                _("“{title}” is shown in {seller}'s portfolio.")
                if allowed
                else _("“{title}” is no longer in {seller}'s portfolio.")
            ).format(title=milestone.title, seller=milestone.order.seller.username),
        )
    return _back_to(milestone)


# --- downloads ----------------------------------------------------------------------


def _attachment(stored, filename: str, content_type: str = "application/octet-stream") -> HttpResponseBase:
    """Streamed from the local folder, or a redirect to a short-lived presigned
    URL on S3 storage; the caller has checked the viewer may have it."""
    return serve_file(stored, filename, content_type)


@require_safe
@login_required
def deliverable_download(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """Only the order's parties and staff; everyone else gets 404, as for the order."""
    item = DeliveryFile.objects.select_related("delivery__milestone").filter(pk=pk).first()
    if item is None:
        raise Http404("No such file")
    order = order_for_user(request.user, item.delivery.milestone.order_id)
    if not order.is_party(request.user):
        staff_file_read_record(
            reader=request.user,
            kind="deliverable",
            file_name=item.original_name,
            order=order,
            where=f"milestone “{item.delivery.milestone.title}”, delivery {item.delivery.number}",
        )
    return _attachment(item.file, item.original_name, item.content_type or "application/octet-stream")


@require_safe
@login_required
def dispute_attachment(request: AuthedRequest, pk: int) -> HttpResponseBase:
    statement = (
        DisputeStatement.objects.select_related("dispute__milestone").filter(pk=pk).filter(~Q(attachment="")).first()
    )
    if statement is None:
        raise Http404("No such file")
    order = order_for_user(request.user, statement.dispute.milestone.order_id)
    if not order.is_party(request.user):
        staff_file_read_record(
            reader=request.user,
            kind="dispute evidence",
            file_name=statement.attachment_name or "attachment",
            order=order,
            where=f"dispute on “{statement.dispute.milestone.title}”",
        )
    return _attachment(statement.attachment, statement.attachment_name or "attachment")


# --- answers to proposals ------------------------------------------------------------------

PROPOSAL_ANSWERS = {
    "accept": (proposals.proposal_accept, "You accepted {thing}."),
    "decline": (proposals.proposal_decline, "You declined {thing}; the terms stay."),
    "withdraw": (proposals.proposal_withdraw, "You withdrew your request for {thing}."),
}

# The answer's message, whole, by answer and by what the request asks for ("You accepted the later
# deadline on “Logo”", not "the request on “Logo”", which left the reader to guess which request).
PROPOSAL_ANSWER_WORDS: dict[tuple[str, str | None], Any] = {
    ("accept", ProposalKind.EXTENSION): gettext_lazy("You accepted the later deadline on “{title}”."),
    ("accept", ProposalKind.CANCELLATION): gettext_lazy("You accepted the cancellation of “{title}”."),
    ("accept", ProposalKind.CHANGES): gettext_lazy("You accepted the changes to “{title}”."),
    ("accept", None): gettext_lazy("You accepted the request on “{title}”."),
    ("decline", ProposalKind.EXTENSION): gettext_lazy("You declined the later deadline on “{title}”; the terms stay."),
    ("decline", ProposalKind.CANCELLATION): gettext_lazy("You declined the cancellation of “{title}”; the terms stay."),
    ("decline", ProposalKind.CHANGES): gettext_lazy("You declined the changes to “{title}”; the terms stay."),
    ("decline", None): gettext_lazy("You declined the request on “{title}”; the terms stay."),
    ("withdraw", ProposalKind.EXTENSION): gettext_lazy(
        "You withdrew your request for the later deadline on “{title}”."
    ),
    ("withdraw", ProposalKind.CANCELLATION): gettext_lazy(
        "You withdrew your request for the cancellation of “{title}”."
    ),
    ("withdraw", ProposalKind.CHANGES): gettext_lazy("You withdrew your request for the changes to “{title}”."),
    ("withdraw", None): gettext_lazy("You withdrew your request for the request on “{title}”."),
}


def proposal_answer_words(answer: str, proposal: Proposal, milestone: Milestone) -> str:
    words = PROPOSAL_ANSWER_WORDS.get((answer, proposal.kind)) or PROPOSAL_ANSWER_WORDS[(answer, None)]
    return str(words).format(title=milestone.title)


def _proposal_for(user, pk: int) -> tuple[Proposal, Milestone]:
    proposal = Proposal.objects.filter(pk=pk).first()
    if proposal is None:
        raise Http404("No such request")
    return proposal, _milestone_for(user, proposal.milestone_id)


def _answer(request: AuthedRequest, proposal: Proposal, milestone: Milestone, answer: str) -> HttpResponse:
    service, _words = PROPOSAL_ANSWERS[answer]
    try:
        service(proposal=proposal, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, proposal_answer_words(answer, proposal, milestone))
    return _back_to(milestone)


@require_POST
@login_required
def proposal_answer(request: AuthedRequest, pk: int, *, answer: str) -> HttpResponse:
    """Decline or withdraw a request on a milestone: POST only; the service
    says who may and refuses a second answer."""
    proposal, milestone = _proposal_for(request.user, pk)
    return _answer(request, proposal, milestone, answer)


@require_http_methods(["GET", "POST"])
@login_required
def proposal_accept(request: AuthedRequest, pk: int) -> HttpResponse:
    """Accept a request, on POST. Accepting a cancellation moves money, so its
    GET is a confirmation page that says where the money goes, with a
    "Confirm" button; any other GET is 405."""
    proposal, milestone = _proposal_for(request.user, pk)
    if request.method == "POST":
        return _answer(request, proposal, milestone, "accept")
    if proposal.kind != "cancellation":
        return HttpResponseNotAllowed(["POST"])
    context = {
        "order": milestone.order,
        "milestone": milestone,
        "proposal": proposal,
        "consequence": cancellation_consequence(milestone, proposal),
    }
    return render(request, "milestones/proposal_confirm.html", context)
