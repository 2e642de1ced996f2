"""Reads of gigs: the public list and search, a seller's own, one for its page."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connections
from django.db.models import Case, Expression, F, IntegerField, Q, QuerySet, Value, When
from django.http import Http404

from accounts.models import User
from gigs.models import SEARCH_CONFIG, Gig, search_document

# The orders of the list; "relevance" only means something with a query.
SORTS = ("relevance", "rating", "price", "newest")
# Words of a query the plain (SQLite) search looks at.
PLAIN_SEARCH_WORDS = 5


def gigs_search(
    *,
    query: str = "",
    category: str = "",
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    currency: str = "",
    max_delivery_days: int | None = None,
    sort: str = "",
) -> QuerySet[Gig]:
    """Listed gigs (active: not paused, not retired), with their sellers, in
    one query whatever the number of gigs.

    ``query`` is matched by PostgreSQL full-text search (``gigs_matching_fulltext``),
    or by plain substring matching elsewhere (``gigs_matching_plain``); both
    annotate a ``rank``. The price range applies to gigs priced in
    ``currency`` (by default the marketplace's; there are no exchange rates). ``sort`` is one of ``SORTS``;
    by default the best match first with a query, else the newest. Sorting by
    price compares amounts across currencies as they are.
    """
    gigs = Gig.objects.filter(is_active=True).select_related("seller")
    if category:
        gigs = gigs.filter(category=category)
    if min_price is not None or max_price is not None:
        gigs = gigs.filter(starting_price_currency=currency or settings.MARKETPLACE_DEFAULT_CURRENCY)
        if min_price is not None:
            gigs = gigs.filter(starting_price__gte=min_price)
        if max_price is not None:
            gigs = gigs.filter(starting_price__lte=max_price)
    if max_delivery_days is not None:
        gigs = gigs.filter(delivery_days__lte=max_delivery_days)
    if query:
        gigs = gigs_matching(gigs, query)
    if sort not in SORTS or (sort == "relevance" and not query):
        sort = "relevance" if query else "newest"
    newest = (F("created_at").desc(), F("pk").desc())
    if sort == "relevance":
        return gigs.order_by(F("rank").desc(), *newest)
    if sort == "rating":
        return gigs.order_by(F("seller__rating_avg").desc(nulls_last=True), F("seller__rating_count").desc(), *newest)
    if sort == "price":
        return gigs.order_by(F("starting_price").asc(), *newest)
    return gigs.order_by(*newest)


def gigs_matching(gigs: QuerySet[Gig], query: str) -> QuerySet[Gig]:
    """The gigs that match ``query``, each with a ``rank``: full-text on
    PostgreSQL, plain matching on any other database (the embedded SQLite)."""
    if connections[gigs.db].vendor == "postgresql":
        return gigs_matching_fulltext(gigs, query)
    return gigs_matching_plain(gigs, query)


def gigs_matching_fulltext(gigs: QuerySet[Gig], query: str) -> QuerySet[Gig]:
    """PostgreSQL full-text search: English stemming, the query read as a web
    search (words, "quoted phrases", -exclusions; never a syntax error),
    ranked with the title (weight A) above the description (weight B). The
    filter is on ``search_document()``, the expression of the GIN index
    ``gig_search_idx``, so it can use that index."""
    search_query = SearchQuery(query, config=SEARCH_CONFIG, search_type="websearch")
    return (
        gigs.alias(document=search_document())
        .filter(document=search_query)
        .annotate(rank=SearchRank(F("document"), search_query))
    )


def gigs_matching_plain(gigs: QuerySet[Gig], query: str) -> QuerySet[Gig]:
    """Plain matching, for databases without full-text search: each of the
    first few words must appear in the title or the description (any case);
    ``rank`` counts 2 for a word in the title and 1 for one in the
    description, so that title matches come first here too."""
    rank: Expression = Value(0)
    for word in query.split()[:PLAIN_SEARCH_WORDS]:
        gigs = gigs.filter(Q(title__icontains=word) | Q(description__icontains=word))
        rank = (
            rank
            + Case(When(title__icontains=word, then=Value(2)), default=Value(0))
            + Case(When(description__icontains=word, then=Value(1)), default=Value(0))
        )
    return gigs.annotate(rank=Value(0, output_field=IntegerField()) + rank)


def gigs_of(user: User, *, limit: int) -> list[Gig]:
    """The user's own gigs, active first, newest first; at most ``limit``."""
    return list(Gig.objects.filter(seller=user).order_by("-is_active", "-created_at", "-pk")[:limit])


def gig_for_viewer(user: User | AnonymousUser, pk: int, *, show_paused: bool = False) -> Gig:
    """The gig for ordering from it, or (``show_paused``) for its page: 404 if
    it does not exist, or if it is not active and ``user`` is not its seller.
    Its page shows a paused gig to everyone (saying it is paused); staff's
    retired gigs stay hidden but from their seller."""
    gig = Gig.objects.select_related("seller").filter(pk=pk).first()
    if gig is None:
        raise Http404("No such gig")
    if not (gig.is_active or gig.seller_id == user.pk or (show_paused and gig.is_paused)):
        raise Http404("No such gig")
    return gig
