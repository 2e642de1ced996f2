"""Reads of gigs: the public list and search, a seller's own, one for its page."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Expression,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import JSONObject
from django.http import Http404
from djmoney.money import Money

from accounts.models import User
from gigs.models import (
    SEARCH_CONFIG,
    Gig,
    GigExtra,
    GigImage,
    GigPackage,
    PackageStep,
    SavedGig,
    search_document,
)

# The orders of the list; "relevance" only means something with a query.
SORTS = ("relevance", "rating", "price", "newest")
# Words of a query the plain (SQLite) search looks at.
PLAIN_SEARCH_WORDS = 5
# How alike a title word must be to a query word to be offered as "Did you
# mean" (pg_trgm ``similarity``; "desing" and "design" score 0.4).
SUGGESTION_SIMILARITY = 0.3
# The same for the embedded SQLite, with difflib's ratio ("landng" and
# "landing" score 0.92, "logo" and "blog" 0.75).
SUGGESTION_RATIO = 0.8
# How alike a title must be to a query to be shown when nothing matches it
# word for word (pg_trgm ``word_similarity``; "landng" in "Landing page
# design" scores 0.57, "logo" in "Blog posts" 0.2).
SIMILAR_TITLE = 0.4
# A word of a title or a query: letters and digits.
WORD = re.compile(r"\w+")


def gigs_search(
    *,
    query: str = "",
    category: str = "",
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    currency: str = "",
    max_delivery_days: int | None = None,
    sort: str = "",
    suggestion: str | None = None,
    saved_by: User | AnonymousUser | None = None,
) -> QuerySet[Gig]:
    """Listed gigs (active: not paused, not retired), with their sellers, in
    one query whatever the number of gigs, with their covers (``with_cover``)
    and, for a signed-in ``saved_by``, whether they saved each (``with_saved_by``).

    ``query`` is matched by PostgreSQL full-text search (``gigs_matching_fulltext``),
    or by plain substring matching elsewhere (``gigs_matching_plain``); both
    annotate a ``rank``. The price range applies to gigs priced in
    ``currency`` (by default the marketplace's; there are no exchange rates). ``sort`` is one of ``SORTS``;
    by default the best match first with a query, else the newest. Sorting by
    price compares amounts across currencies as they are.

    ``suggestion`` (``search_suggestion``'s, "" for none) asks for the
    fallback for a query that matched nothing (``gigs_matching_similar``).
    """
    gigs = _gigs_filtered(query=query, category=category, max_delivery_days=max_delivery_days, suggestion=suggestion)
    gigs = with_saved_by(with_cover(gigs), saved_by)
    if min_price is not None or max_price is not None:
        gigs = gigs.filter(starting_price_currency=currency or settings.MARKETPLACE_DEFAULT_CURRENCY)
        if min_price is not None:
            gigs = gigs.filter(starting_price__gte=min_price)
        if max_price is not None:
            gigs = gigs.filter(starting_price__lte=max_price)
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


def _gigs_filtered(
    *, query: str, category: str, max_delivery_days: int | None, suggestion: str | None
) -> QuerySet[Gig]:
    """Listed gigs with their sellers, filtered by all but the price."""
    gigs = Gig.objects.filter(is_active=True).select_related("seller")
    if category:
        gigs = gigs.filter(category=category)
    if max_delivery_days is not None:
        gigs = gigs.filter(delivery_days__lte=max_delivery_days)
    if query:
        similar = suggestion is not None
        gigs = gigs_matching_similar(gigs, query, suggestion or "") if similar else gigs_matching(gigs, query)
    return gigs


def gigs_hidden_by_currency(
    *,
    query: str = "",
    category: str = "",
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    currency: str = "",
    max_delivery_days: int | None = None,
    suggestion: str | None = None,
    **_: object,
) -> list[tuple[str, int]]:
    """With a price filter, the gigs it hides only for their currency: how
    many listed gigs in each other currency match everything else (the query,
    the category, the delivery time), most first. Their prices are not
    compared, as there are no exchange rates. Without a price filter, none:
    the currency then filters nothing. One query."""
    if min_price is None and max_price is None:
        return []
    gigs = _gigs_filtered(query=query, category=category, max_delivery_days=max_delivery_days, suggestion=suggestion)
    rows = (
        gigs.exclude(starting_price_currency=currency or settings.MARKETPLACE_DEFAULT_CURRENCY)
        .order_by()
        .values_list("starting_price_currency")
        .annotate(hidden=Count("pk"))
        .order_by("-hidden", "starting_price_currency")
    )
    return [(str(code), int(hidden)) for code, hidden in rows]


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


def gigs_matching_similar(gigs: QuerySet[Gig], query: str, suggestion: str) -> QuerySet[Gig]:
    """The fallback when nothing matches ``query`` word for word, so that a
    typo ("landng") still finds something; ``suggestion`` is
    ``search_suggestion(query)`` ("" for none).

    On PostgreSQL: the gigs that match the suggestion by full text, and those
    whose title has a stretch like the query (pg_trgm's ``word_similarity``,
    at least ``SIMILAR_TITLE``), ranked by how alike their title is to the
    suggestion (or the query). Titles only for the likeness: a description is
    long and some stretch of it is like almost any query. Elsewhere (SQLite,
    without pg_trgm): the plain match of the suggestion, if there is one.

    It runs only after a search found nothing, so it has no index of its own:
    a GIN trigram index serves the ``%>`` operator at its fixed threshold
    (0.6, which "landng" in "Landing page design", 0.57, does not reach), not a
    comparison of the function; over 10,000 gigs the scan took 0.2 s on a busy two-core machine."""
    if connections[gigs.db].vendor == "postgresql":
        likeness = Q(title_likeness__gte=SIMILAR_TITLE)
        if suggestion:
            likeness |= Q(document=SearchQuery(suggestion, config=SEARCH_CONFIG, search_type="plain"))
        return (
            gigs.alias(document=search_document(), title_likeness=TrigramWordSimilarity(query, "title"))
            .filter(likeness)
            .annotate(rank=TrigramWordSimilarity(suggestion or query, "title"))
        )
    if not suggestion:
        return gigs.none()
    return gigs_matching_plain(gigs, suggestion)


def search_suggestion(query: str, *, using: str | None = None) -> str:
    """The "Did you mean" for ``query``: the query with each word that no
    listed gig's title has replaced by the title word most like it, or ""
    when no word changes. At most the first ``PLAIN_SEARCH_WORDS`` words.
    On PostgreSQL by trigram similarity (pg_trgm, at least
    ``SUGGESTION_SIMILARITY``), in one query; elsewhere (the embedded SQLite)
    by difflib over the words of the titles, read in one query. Only called
    when a search found nothing, so reading every title's words is paid
    rarely (over 10,000 gigs, 0.15 s on PostgreSQL; a table of the words,
    kept up to date, with a trigram index would be the next step)."""
    words = WORD.findall(query.lower())[:PLAIN_SEARCH_WORDS]
    if not words:
        return ""
    alias = using or Gig.objects.db
    connection = connections[alias]
    if connection.vendor == "postgresql":
        # The distinct words of the listed titles, lowercased (the "simple"
        # configuration, no stemming), from ts_stat: three times as fast as
        # splitting every title in SQL. Words with digits are never offered.
        table = connection.ops.quote_name(Gig._meta.db_table)
        documents = f"SELECT to_tsvector('simple', title) FROM {table} WHERE is_active"  # noqa: S608 - name from _meta
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH title_words AS MATERIALIZED (
                    SELECT word FROM ts_stat(%s) WHERE word ~ '^[[:alpha:]]+$'
                )
                SELECT DISTINCT ON (asked) asked, word
                FROM unnest(%s::text[]) AS asked, title_words
                WHERE similarity(word, asked) >= %s
                ORDER BY asked, similarity(word, asked) DESC, word
                """,
                [documents, words, SUGGESTION_SIMILARITY],
            )
            closest = dict(cursor.fetchall())
    else:
        titles = Gig.objects.using(alias).filter(is_active=True).values_list("title", flat=True)
        vocabulary = {word for title in titles for word in WORD.findall(title.lower())}
        closest = {}
        for word in words:
            matches = [word] if word in vocabulary else difflib.get_close_matches(word, vocabulary, 1, SUGGESTION_RATIO)
            if matches:
                closest[word] = matches[0]
    corrected = [closest.get(word, word) for word in words]
    return " ".join(corrected) if corrected != words else ""


def gigs_of(user: User, *, limit: int) -> list[Gig]:
    """The user's own gigs, active first, newest first; at most ``limit``; each with how many
    people saved it (``saves_count``), counted in the same query."""
    return list(
        Gig.objects.filter(seller=user)
        .annotate(saves_count=Count("saves"))
        .order_by("-is_active", "-created_at", "-pk")[:limit]
    )


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


# --- images ---------------------------------------------------------------------------------------


def with_cover(gigs: QuerySet[Gig]) -> QuerySet[Gig]:
    """Each gig with its cover (its image at position 1) as ``gig.cover``: a dict of the image's
    ``pk``, ``alt_text``, ``thumbnail_width`` and ``thumbnail_height``, or None. A subquery in
    the same query (an index lookup by gig), so a list of gigs costs no more queries with covers
    than without; with the page's LIMIT, PostgreSQL runs it after the sort, for the page's rows
    only (EXPLAIN: ``Limit -> Result (SubPlan) -> Sort``)."""
    cover = (
        GigImage.objects.filter(gig=OuterRef("pk"), position=1)
        .order_by()
        .values(
            json=JSONObject(
                pk="pk", alt_text="alt_text", thumbnail_width="thumbnail_width", thumbnail_height="thumbnail_height"
            )
        )[:1]
    )
    return gigs.annotate(cover=Subquery(cover, output_field=JSONField()))


def gig_images(gig: Gig) -> list[GigImage]:
    """The gig's images in order, the cover first."""
    return list(GigImage.objects.filter(gig=gig).order_by("position"))


def gig_image_for_viewer(user: User | AnonymousUser, gig_id: int, image_id: int) -> GigImage:
    """One image of a gig, with the gig, to whoever may see the gig's page (``gig_for_viewer``
    with ``show_paused``: everyone for a listed or paused gig, its seller for a retired one);
    404 otherwise, or if the image is not that gig's. One query."""
    image = GigImage.objects.select_related("gig").filter(pk=image_id, gig_id=gig_id).first()
    if image is None:
        raise Http404("No such image")
    gig = image.gig
    if not (gig.is_active or gig.seller_id == user.pk or gig.is_paused):
        raise Http404("No such image")
    return image


@dataclass(frozen=True)
class PackageOnPage:
    """A package as its gig's page shows it: its steps in order and their sums."""

    package: GigPackage
    steps: list[PackageStep]
    price: Money
    days: int


def gig_packages(gig: Gig) -> list[PackageOnPage]:
    """The gig's packages with their steps, in two queries whatever the number of steps."""
    shown = []
    for package in GigPackage.objects.filter(gig=gig).prefetch_related("steps"):
        steps = list(package.steps.all())
        if not steps:
            continue
        price = sum((step.price for step in steps[1:]), steps[0].price)
        shown.append(PackageOnPage(package, steps, price, sum(step.days for step in steps)))
    return shown


def gig_extras(gig: Gig) -> list[GigExtra]:
    return list(GigExtra.objects.filter(gig=gig))


# --- saved gigs -----------------------------------------------------------------------------------


def with_saved_by(gigs: QuerySet[Gig], user: User | AnonymousUser | None) -> QuerySet[Gig]:
    """Each gig with ``is_saved``: whether ``user`` saved it. An EXISTS on the saves' unique
    (user, gig) index in the list's own query, so saves cost a list no query. For nobody signed
    in the query is left as it was: a card reads a missing ``is_saved`` as not saved."""
    if user is None or not user.is_authenticated:
        return gigs
    return gigs.annotate(is_saved=Exists(SavedGig.objects.filter(gig=OuterRef("pk"), user=user)))


def gig_is_saved(user: User | AnonymousUser, gig: Gig) -> bool:
    """Whether ``user`` saved ``gig``, for its page: one query, none for nobody signed in."""
    return user.is_authenticated and SavedGig.objects.filter(user=user, gig=gig).exists()


def gigs_saved_by(user: User) -> QuerySet[Gig]:
    """The "Saved" page: the gigs ``user`` saved, the newest save first, whatever their state (the
    page says which are paused and which are no longer available), with their sellers and covers
    and ``saved_at``; one query per page, on the index ``saved_gig_user_newest``."""
    gigs = (
        Gig.objects.filter(saves__user=user)
        .select_related("seller")
        .annotate(saved_at=F("saves__created_at"), is_saved=Value(True, output_field=BooleanField()))
        .order_by("-saved_at", "-saves__id")
    )
    return with_cover(gigs)


def saves_of_seller(seller: User) -> int:
    """How many saves all of ``seller``'s gigs have, for their dashboard: one aggregate."""
    return SavedGig.objects.filter(gig__seller=seller).count()
