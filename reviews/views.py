"""Reputation pages: leaving a review, replying, asking for one, the seller profile and its portfolio."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.http import AuthedRequest
from accounts.models import User
from marketplace.errors import DomainError
from marketplace.forms import add_domain_error
from marketplace.storage import serve_file
from orders.forms import DRAFT_LIMIT
from orders.selectors import order_for_user
from reviews import selectors, services
from reviews.forms import BuyerReviewForm, ReplyForm, SellerReviewForm
from reviews.models import Review, ReviewRole

REVIEWS_PER_PAGE = 10


@require_http_methods(["GET", "POST"])
@login_required
def review_new(request: AuthedRequest, pk: int) -> HttpResponse:
    """ "Leave a review": the buyer's three scores, or the seller's one, and a text; "Submit review"."""
    order = order_for_user(request.user, pk)
    role = order.role_of(request.user)
    refusal = services.review_refusal(order, request.user)
    if refusal:
        messages.error(request, refusal)
        return redirect(order)
    form_class = BuyerReviewForm if role == "buyer" else SellerReviewForm
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.review_submit(order=order, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            if not add_domain_error(form, error):
                messages.error(request, error.message)
                return redirect(order)
        else:
            messages.success(
                request,
                _(
                    "Thank you: your review is in. It stays hidden from the other party until they review you too, "
                    "or the review window closes."
                ),
            )
            return redirect(order)
    other = order.seller if role == "buyer" else order.buyer
    context = {"order": order, "form": form, "other": other, "window_end": services.review_window_end(order)}
    return render(request, "reviews/review_form.html", context, status=400 if request.method == "POST" else 200)


# A refused reply's text, kept in the session for the profile to put back in its box.
REPLY_DRAFT = "review_reply_draft"


@require_POST
@login_required
def review_reply(request: AuthedRequest, pk: int) -> HttpResponse:
    """The seller's public reply; refused, back to the profile with the reason and the text as typed."""
    review = get_object_or_404(Review.objects.public(), pk=pk)
    form = ReplyForm(request.POST)
    sent = False
    if not form.is_valid():
        messages.error(request, _("Your reply was not posted: write it in up to 5,000 characters."))
    else:
        try:
            services.review_reply(review=review, actor=request.user, text=form.cleaned_data["text"])
        except DomainError as error:
            messages.error(request, error.message)
        else:
            sent = True
            messages.success(request, _("Your reply is public under the review."))
    if not sent:
        request.session[REPLY_DRAFT] = {"review": review.pk, "text": request.POST.get("text", "")[:DRAFT_LIMIT]}
    return redirect(reverse("profile_public", args=[review.subject.username]) + f"#review-{review.pk}")


@require_POST
@login_required
def review_request(request: AuthedRequest, pk: int) -> HttpResponse:
    order = order_for_user(request.user, pk)
    try:
        services.review_request(order=order, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("{name} has been asked for a review.").format(name=order.buyer.username))
    return redirect(order)


@require_safe
def profile(request, username: str) -> HttpResponse:
    """The public profile: who they are, their figures, gigs and portfolio, and the reviews
    they received as a seller and as a buyer, each paged on its own with its own average."""
    person = get_object_or_404(User, username=username, is_active=True)
    as_seller = Paginator(selectors.public_reviews_of(person, role=ReviewRole.BUYER), REVIEWS_PER_PAGE)
    as_buyer = Paginator(selectors.public_reviews_of(person, role=ReviewRole.SELLER), REVIEWS_PER_PAGE)
    context = {
        "person": person,
        "figures": selectors.seller_figures(person),
        "buyer": selectors.buyer_reputation(person),
        "gigs": selectors.active_gigs_of(person),
        "reviews": as_seller.get_page(request.GET.get("page")),
        "buyer_reviews": as_buyer.get_page(request.GET.get("buyer_page")),
        "portfolio": selectors.portfolio_of(person),
        "level_changes": selectors.level_changes_of(person),
        "reply_form": ReplyForm(),
        "reply_draft": _reply_draft(request),
    }
    return render(request, "reviews/profile.html", context)


def _reply_draft(request) -> dict | None:
    """A refused reply, back once: its review and its form bound to the text, errors and all."""
    draft = request.session.pop(REPLY_DRAFT, None) if hasattr(request, "session") else None
    if not draft:
        return None
    form = ReplyForm({"text": draft.get("text", "")})
    form.is_valid()
    return {"review": draft.get("review"), "form": form}


@require_safe
def portfolio_file(request, pk: int) -> HttpResponseBase:
    """A deliverable the buyer allowed in the seller's portfolio: public while allowed, else 404."""
    item = selectors.portfolio_file(pk)
    if item is None:
        raise Http404("Not in a portfolio")
    return serve_file(item.file, item.original_name, item.content_type or "application/octet-stream")
