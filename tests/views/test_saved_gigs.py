"""Saved gigs through the test client: "Save" and "Saved" on cards and the gig page, the "Saved"
page, the seller's counts on their dashboard, and the list's queries with saves."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gigs.models import SavedGig
from gigs.services import gig_save
from tests.factories import GigFactory, UserFactory

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def card_titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="card-title">(?:<a href="/gigs/\d+/">)?([^<]*)', html)


def buttons(html: str) -> list[str]:
    """The save buttons' words as a screen reader reads them, in page order."""
    found = re.findall(r'<button type="submit" class="[^"]*save-button[^"]*">(.*?)</button>', html)
    return [re.sub(r"<[^>]+>", "", b) for b in found]


# --- the button ---------------------------------------------------------------------------------


def test_a_card_says_save_then_saved_and_pressing_saved_removes_it(client, buyer):
    gig = GigFactory(title="Logo in three rounds")
    client.force_login(buyer)
    assert buttons(text(client.get(reverse("home")))) == ["Save “Logo in three rounds”"]
    response = client.post(reverse("gig_save", args=[gig.pk]), {"next": "/?page=1"})
    assert response.status_code == 302 and response["Location"] == "/?page=1"
    html = text(client.get(reverse("home")))
    assert buttons(html) == ["Saved “Logo in three rounds”, press to remove it from your saved gigs"]
    assert f'action="{reverse("gig_unsave", args=[gig.pk])}"' in html
    client.post(reverse("gig_unsave", args=[gig.pk]), {"next": "/"})
    assert not SavedGig.objects.exists()
    assert buttons(text(client.get(reverse("home")))) == ["Save “Logo in three rounds”"]


def test_a_double_click_on_save_keeps_one_save(client, buyer):
    gig = GigFactory()
    client.force_login(buyer)
    for _ in range(2):
        assert client.post(reverse("gig_save", args=[gig.pk])).status_code == 302
    assert SavedGig.objects.filter(user=buyer, gig=gig).count() == 1


def test_back_to_the_referer_without_next_and_to_the_gig_page_without_either(client, buyer):
    gig = GigFactory()
    client.force_login(buyer)
    url = reverse("gig_save", args=[gig.pk])
    with_referer = client.post(url, HTTP_REFERER="http://testserver/?q=logo&page=2")
    assert with_referer["Location"] == "http://testserver/?q=logo&page=2"
    without = client.post(reverse("gig_unsave", args=[gig.pk]))
    assert without["Location"] == gig.get_absolute_url()
    # Another site is never where it sends you back.
    elsewhere = client.post(url, {"next": "https://evil.example/"}, HTTP_REFERER="https://evil.example/x")
    assert elsewhere["Location"] == gig.get_absolute_url()


def test_the_gig_page_has_the_button_but_not_for_its_own_seller(client, buyer):
    gig = GigFactory(title="Brand book")
    client.force_login(buyer)
    assert buttons(text(client.get(gig.get_absolute_url()))) == ["Save “Brand book”"]
    gig_save(gig=gig, user=buyer)
    assert buttons(text(client.get(gig.get_absolute_url())))[0].startswith("Saved “Brand book”")
    client.force_login(gig.seller)
    assert buttons(text(client.get(gig.get_absolute_url()))) == []
    assert buttons(text(client.get(reverse("home")))) == []
    # Posted anyway, the seller is told why and nothing is saved.
    response = client.post(reverse("gig_save", args=[gig.pk]), follow=True)
    assert "This is your own gig." in response.content.decode()
    assert not SavedGig.objects.filter(user=gig.seller).exists()


def test_someone_not_logged_in_pressing_save_logs_in_and_comes_back(client, buyer):
    gig = GigFactory()
    assert buttons(text(client.get(reverse("home"))))[0].startswith("Save “")
    response = client.post(reverse("gig_save", args=[gig.pk]), {"next": "/?q=logo"})
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=" + quote("/?q=logo", safe="/")
    assert not SavedGig.objects.exists()
    assert client.post(reverse("gig_unsave", args=[gig.pk]))["Location"].startswith(reverse("login"))


def test_save_and_unsave_take_only_post(client, buyer):
    gig = GigFactory()
    client.force_login(buyer)
    assert client.get(reverse("gig_save", args=[gig.pk])).status_code == 405
    assert client.get(reverse("gig_unsave", args=[gig.pk])).status_code == 405
    assert not SavedGig.objects.exists()


def test_a_retired_gig_cannot_be_saved_but_can_be_unsaved(client, buyer):
    gig = GigFactory()
    gig_save(gig=gig, user=buyer)
    gig.is_active = False
    gig.save(update_fields=["is_active", "updated_at"])
    other_retired = GigFactory(is_active=False)
    client.force_login(buyer)
    assert client.post(reverse("gig_save", args=[other_retired.pk])).status_code == 404
    assert client.post(reverse("gig_unsave", args=[gig.pk])).status_code == 302
    assert not SavedGig.objects.exists()


# --- the "Saved" page ----------------------------------------------------------------------------


def test_the_saved_page_lists_the_newest_save_first_and_says_paused_and_no_longer_available(client, buyer):
    first, second, third = (GigFactory(title=t) for t in ("First saved", "Then paused", "Then retired"))
    GigFactory(title="Never saved")
    for gig in (first, second, third):
        gig_save(gig=gig, user=buyer)
    gig_save(gig=GigFactory(title="Someone else's save"), user=UserFactory())
    second.is_active, second.paused_at = False, timezone.now()
    second.save(update_fields=["is_active", "paused_at", "updated_at"])
    third.is_active = False
    third.save(update_fields=["is_active", "updated_at"])
    client.force_login(buyer)
    html = text(client.get(reverse("saved_gigs")))
    assert "<h1>Saved</h1>" in html
    assert card_titles(html) == ["Then retired", "Then paused", "First saved"]
    assert "No longer available" in html and "Paused" in html
    # The retired gig's page is gone for buyers: its title is not a link, and it can be removed.
    assert f'href="{third.get_absolute_url()}"' not in html
    assert f'href="{second.get_absolute_url()}"' in html
    assert all(b.startswith("Saved “") for b in buttons(html)) and len(buttons(html)) == 3


def test_the_saved_page_is_paged(client, buyer):
    for n in range(14):
        gig_save(gig=GigFactory(title=f"Gig {n}"), user=buyer)
    client.force_login(buyer)
    assert card_titles(text(client.get(reverse("saved_gigs")))) == [f"Gig {n}" for n in range(13, 1, -1)]
    page_two = text(client.get(reverse("saved_gigs"), {"page": 2}))
    assert card_titles(page_two) == ["Gig 1", "Gig 0"] and "Page 2 of 2" in page_two


def test_the_saved_page_empty_and_for_someone_not_logged_in(client, buyer):
    assert client.get(reverse("saved_gigs"))["Location"].startswith(reverse("login"))
    client.force_login(buyer)
    assert "Nothing saved yet." in text(client.get(reverse("saved_gigs")))


def test_the_header_links_to_saved_for_signed_in_people_only(client, buyer):
    link = f'<a href="{reverse("saved_gigs")}"'
    assert link not in text(client.get(reverse("home")))
    client.force_login(buyer)
    assert link in text(client.get(reverse("home")))
    assert f'{link} aria-current="page">Saved</a>' in text(client.get(reverse("saved_gigs")))


# --- queries ---------------------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        text(client.get(url))
    return len(queries)


def test_the_list_and_the_saved_page_cost_the_same_queries_with_one_save_or_twelve(client, buyer):
    gigs = [GigFactory() for _ in range(12)]
    client.force_login(buyer)
    gig_save(gig=gigs[0], user=buyer)
    home, saved = _queries(client, reverse("home")), _queries(client, reverse("saved_gigs"))
    for gig in gigs[1:]:
        gig_save(gig=gig, user=buyer)
    assert _queries(client, reverse("home")) == home
    assert _queries(client, reverse("saved_gigs")) == saved
    assert len(buttons(text(client.get(reverse("home"))))) == 12
    assert saved <= 8


# --- the seller's dashboard ------------------------------------------------------------------------


def test_the_seller_dashboard_counts_saves_per_gig_and_in_all_and_shows_a_new_save_at_once(client, seller):
    popular, quiet = GigFactory(seller=seller, title="Popular"), GigFactory(seller=seller, title="Quiet")
    for _ in range(3):
        gig_save(gig=popular, user=UserFactory())
    gig_save(gig=GigFactory(title="Another seller's"), user=UserFactory())
    client.force_login(seller)

    def counts() -> tuple[dict[str, str], str]:
        html = text(client.get(reverse("seller_dashboard")))
        rows = re.findall(r'<a href="/gigs/\d+/">([^<]*)</a>.*?<span class="gig-saves">([^<]*)</span>', html, re.S)
        total = re.search(r'<p class="muted small" id="saves-total">([^<]*)</p>', html)
        assert total
        return dict(rows), total.group(1)

    assert counts() == ({"Popular": "3 saves", "Quiet": "0 saves"}, "Saved by buyers 3 times across all your gigs.")
    # The gigs part is reused until what it shows changes: a save moves its version.
    gig_save(gig=quiet, user=UserFactory())
    assert counts() == ({"Popular": "3 saves", "Quiet": "1 save"}, "Saved by buyers 4 times across all your gigs.")
    SavedGig.objects.filter(gig=popular).first().delete()
    assert counts()[1] == "Saved by buyers 3 times across all your gigs."
