"""Issue 34, items 15 and 16: a typo in the search ("landng") still finds the
gig and offers "Did you mean", on PostgreSQL (pg_trgm) and on the embedded
SQLite (difflib); a price filter in one currency says how many gigs of other
currencies it hides; a query typed under the default order sorts by best
match."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.db import connection
from djmoney.money import Money

from gigs import selectors
from tests.backends import BOTH
from tests.factories import GigFactory, UserFactory
from tests.views.test_gigs_search import home, listed

pytestmark = pytest.mark.django_db


def status(html: str) -> str:
    match = re.search(r'<p class="muted" role="status">(.*?)</p>', html, re.S)
    assert match, "no status line"
    return html_lib.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


def catalogue(seller) -> None:
    GigFactory(seller=seller, title="Landing page design", description="One page that sells.")
    GigFactory(seller=seller, title="Logo design", description="Vector files.")
    GigFactory(seller=seller, title="REST API in Django", description="Tested endpoints.")


# --- 15: typo tolerance --------------------------------------------------------------------------


def test_a_typo_gets_did_you_mean_and_the_gig_with_similar_words(client, seller):
    catalogue(seller)
    page = home(client, q="landng")
    assert listed(page) == ["Landing page design"]
    assert status(page) == "No gig matches “landng”; 1 gig with similar words. Did you mean landing?"
    assert '<a href="?q=landing">landing</a>' in page


def test_a_typo_in_one_word_of_two_corrects_that_word_only(client, seller):
    catalogue(seller)
    assert selectors.search_suggestion("logo desing") == "logo design"
    assert selectors.search_suggestion("logo design") == ""  # nothing to correct
    assert selectors.search_suggestion("zzzzqx") == ""  # nothing like it


def test_a_query_like_nothing_gets_no_suggestion_and_no_gigs(client, seller):
    catalogue(seller)
    page = home(client, q="zzzzqx")
    assert listed(page) == []
    assert "No gig matches “zzzzqx”." in page and "Did you mean" not in page


def test_an_exact_match_gets_no_suggestion(client, seller):
    catalogue(seller)
    page = home(client, q="landing")
    assert listed(page) == ["Landing page design"] and "Did you mean" not in page


def test_the_similar_gigs_still_obey_the_filters(client, seller):
    catalogue(seller)
    GigFactory(seller=seller, title="Landing page in code", category="development")
    GigFactory(seller=seller, title="Landing page, paused", is_active=False)
    page = home(client, q="landng", category="development")
    assert listed(page) == ["Landing page in code"]


def test_the_fallback_uses_trigram_similarity_on_postgresql(seller):
    from gigs.models import Gig

    catalogue(seller)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone(), "migration gigs 0004 enables pg_trgm"
    found = selectors.gigs_matching_similar(Gig.objects.all(), "landng", "")
    assert "word_similarity" in str(found.query).lower()
    assert [gig.title for gig in found] == ["Landing page design"]


@pytest.mark.django_db(databases=BOTH)
def test_a_typo_finds_the_gig_on_both_databases(client, backend):
    catalogue(UserFactory(username=f"seller_{backend}"))  # on the database under test
    page = home(client, q="landng")
    assert listed(page) == ["Landing page design"]
    assert "Did you mean landing?" in status(page)
    assert listed(home(client, q="landing page")) == ["Landing page design"]  # the plain search still works


# --- 16: the currency filter and the order ------------------------------------------------------


def test_a_price_filter_in_eur_says_how_many_usd_gigs_it_hides(client, seller):
    for n in range(3):
        GigFactory(seller=seller, title=f"Logo {n} in dollars", starting_price=Money("50.00", "USD"))
    GigFactory(seller=seller, title="Logo in pounds", starting_price=Money("50.00", "GBP"))
    GigFactory(seller=seller, title="Logo in euros", starting_price=Money("50.00", "EUR"))
    GigFactory(seller=seller, title="Video in dollars", starting_price=Money("50.00", "USD"))
    page = home(client, q="logo", min_price="10", currency="EUR")
    assert listed(page) == ["Logo in euros"]
    note = re.search(r'<p class="muted" id="currency-filter-note">([^<]*)</p>', page)
    assert note, "no word of the gigs the currency hides"
    assert html_lib.unescape(note.group(1)) == (
        "Showing EUR gigs only, as the price filter is in EUR; 3 USD gigs and 1 GBP gig hidden by the currency filter."
    )


@pytest.mark.django_db(databases=BOTH)
def test_the_currency_note_on_both_databases(client, backend):
    seller = UserFactory(username=f"seller_{backend}")
    GigFactory(seller=seller, title="Logo in dollars", starting_price=Money("50.00", "USD"))
    GigFactory(seller=seller, title="Logo in euros", starting_price=Money("50.00", "EUR"))
    page = home(client, q="logo", max_price="100", currency="EUR")
    assert listed(page) == ["Logo in euros"]
    assert "1 USD gig hidden by the currency filter." in page


def test_no_currency_note_without_a_price_filter_or_when_nothing_is_hidden(client, seller):
    GigFactory(seller=seller, title="Logo in dollars", starting_price=Money("50.00", "USD"))
    assert "currency-filter-note" not in home(client, currency="EUR")  # the currency alone filters nothing
    assert "currency-filter-note" not in home(client, min_price="10")  # USD, and every gig is in USD


def form_fields(page: str) -> dict[str, str]:
    """What the search form sends as it stands: its selects' chosen options and its hidden inputs."""
    fields = {}
    for name, body in re.findall(r'<select name="(\w+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        fields[name] = chosen.group(1) if chosen else ""
    fields.update(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    return fields


def test_a_query_typed_under_the_default_order_sorts_by_best_match(client, seller):
    GigFactory(seller=seller, title="Logo design", description="Vector files.")
    GigFactory(seller=seller, title="Brand kit", description="Includes a logo.")  # newer, weaker match
    first = home(client)
    fields = form_fields(first)
    assert fields["sort"] == "newest"  # what the list shows, and applies, without a query
    page = home(client, **fields, q="logo")
    assert listed(page) == ["Logo design", "Brand kit"]
    assert '<option value="relevance" selected>Best match</option>' in page


def test_an_order_picked_by_hand_stays_when_a_query_is_typed(client, seller):
    GigFactory(seller=seller, title="Logo design", description="Vector files.", starting_price=Money("90", "USD"))
    GigFactory(seller=seller, title="Brand kit", description="Includes a logo.", starting_price=Money("10", "USD"))
    fields = form_fields(home(client, q="logo"))
    assert fields["sort"] == "relevance"
    assert listed(home(client, **{**fields, "sort": "newest"})) == ["Brand kit", "Logo design"]
    fields = form_fields(home(client, **{**form_fields(home(client)), "sort": "price"}))  # picked on the list
    page = home(client, **fields, q="logo")
    assert listed(page) == ["Brand kit", "Logo design"]
    assert '<option value="price" selected>' in page
