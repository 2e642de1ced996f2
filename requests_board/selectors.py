"""The reads of buyer requests: who may see what (private to the buyer and the proposing sellers;
an open request is listed to sellers), the sellers' list with its filters and search."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from requests_board.models import BuyerRequest, ProposalState, RequestProposal, RequestState

PLAIN_SEARCH_WORDS = 5


def open_requests() -> QuerySet[BuyerRequest]:
    return BuyerRequest.objects.filter(state=RequestState.OPEN, expires_at__gt=timezone.now())


def requests_matching(requests: QuerySet, query: str) -> QuerySet:
    """As gigs' search: PostgreSQL full-text (title above description), plain matching elsewhere."""
    if connections[requests.db].vendor == "postgresql":
        document = SearchVector("title", weight="A", config="english") + SearchVector(
            "description", weight="B", config="english"
        )
        search_query = SearchQuery(query, config="english", search_type="websearch")
        return (
            requests.alias(document=document)
            .filter(document=search_query)
            .annotate(rank=SearchRank(document, search_query))
            .order_by("-rank", "-created_at", "-pk")
        )
    for word in query.split()[:PLAIN_SEARCH_WORDS]:
        requests = requests.filter(Q(title__icontains=word) | Q(description__icontains=word))
    return requests


def requests_for_sellers(
    *,
    viewer: User,
    query: str = "",
    category: str = "",
    min_budget: Decimal | None = None,
    max_budget: Decimal | None = None,
) -> QuerySet:
    """Open requests of other buyers, newest first, each with whether the viewer proposed
    (``mine``) and how many proposals it has: one query for the page."""
    requests = (
        open_requests()
        .exclude(buyer=viewer)
        .select_related("buyer")
        .annotate(
            proposal_count=Count("proposals", filter=Q(proposals__state=ProposalState.PENDING)),
            mine=Exists(RequestProposal.objects.filter(request=OuterRef("pk"), seller=viewer)),
        )
        .order_by("-created_at", "-pk")
    )
    if category:
        requests = requests.filter(category=category)
    if min_budget is not None:
        requests = requests.filter(budget__gte=min_budget)
    if max_budget is not None:
        requests = requests.filter(budget__lte=max_budget)
    if query:
        requests = requests_matching(requests, query)
    return requests


def requests_of_buyer(buyer: User) -> QuerySet[BuyerRequest]:
    return (
        BuyerRequest.objects.filter(buyer=buyer)
        .annotate(proposal_count=Count("proposals", filter=~Q(proposals__state=ProposalState.WITHDRAWN)))
        .order_by("-created_at", "-pk")
    )


def request_for_user(pk: int, user: User) -> BuyerRequest:
    """The request if ``user`` may see it: its buyer, a seller who proposed on it, or any signed-in
    seller while it is open. Anyone else: 404."""
    buyer_request = BuyerRequest.objects.select_related("buyer").filter(pk=pk).first()
    if buyer_request is None:
        raise Http404(_("No such request"))
    if buyer_request.buyer_id == user.pk:
        return buyer_request
    if buyer_request.state == RequestState.OPEN and buyer_request.expires_at > timezone.now():
        return buyer_request
    if RequestProposal.objects.filter(request=buyer_request, seller=user).exists():
        return buyer_request
    raise Http404(_("No such request"))


def proposals_for_buyer(buyer_request: BuyerRequest) -> list[RequestProposal]:
    """Every proposal but the withdrawn, side by side: the seller, the steps, total and days."""
    proposals = list(
        RequestProposal.objects.filter(request=buyer_request)
        .exclude(state=ProposalState.WITHDRAWN)
        .select_related("seller")
        .prefetch_related("steps")
        .order_by("created_at", "pk")
    )
    for proposal in proposals:
        _totals(proposal)
    return proposals


def proposal_of_seller(buyer_request: BuyerRequest, seller: User) -> RequestProposal | None:
    """The seller's own latest proposal on the request (pending first); never another's."""
    proposal = (
        RequestProposal.objects.filter(request=buyer_request, seller=seller)
        .prefetch_related("steps")
        .order_by("-created_at", "-pk")
        .first()
    )
    if proposal is not None:
        _totals(proposal)
    return proposal


def _totals(proposal: RequestProposal) -> None:
    steps = list(proposal.steps.all())
    proposal.step_list = steps  # type: ignore[attr-defined]
    proposal.total = sum((s.price for s in steps[1:]), steps[0].price) if steps else None  # type: ignore[attr-defined]
    proposal.days = sum(s.days for s in steps)  # type: ignore[attr-defined]
