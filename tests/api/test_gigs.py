"""Gigs through the API: the public list and search, the seller's own create, update, pause, resume."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from gigs.models import Gig
from tests.api.conftest import assert_problem
from tests.factories import GigFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW = {
    "title": "Logo design",
    "description": "Three drafts",
    "category": "other",
    "starting_price": "50.00",
    "delivery_days": 5,
}


def test_anyone_lists_and_searches_the_listed_gigs():
    logo = GigFactory(title="Logo design for startups")
    GigFactory(title="Wedding photography")
    paused = GigFactory(title="Logo animation", is_active=False)
    client = APIClient()
    titles = {g["title"] for g in client.get("/api/v1/gigs/").json()["results"]}
    assert logo.title in titles and paused.title not in titles
    found = client.get("/api/v1/gigs/?q=logo").json()["results"]
    assert [g["id"] for g in found] == [logo.pk]
    assert client.get(f"/api/v1/gigs/{logo.pk}/").json()["seller"] == logo.seller.username
    assert_problem(client.get(f"/api/v1/gigs/{paused.pk}/"), 404)


def test_a_bad_search_filter_is_named():
    body = assert_problem(APIClient().get("/api/v1/gigs/?min_price=cheap"), 400)
    assert body["errors"]["min_price"] == ["Enter the minimum price as a number, e.g. 20 or 19.99."]


def test_a_seller_publishes_edits_pauses_and_resumes_their_gig(api_as):
    seller = UserFactory()
    client = api_as(seller)
    created = client.post("/api/v1/gigs/", NEW, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["starting_price"] == {"amount": "50.00", "currency": "USD"}
    edited = client.patch(f"/api/v1/gigs/{pk}/", {"title": "Logo design, fast"}, format="json")
    assert edited.json()["title"] == "Logo design, fast"
    assert client.post(f"/api/v1/gigs/{pk}/pause/").json()["paused"] is True
    assert_problem(client.post(f"/api/v1/gigs/{pk}/pause/"), 409, "already paused")
    assert [g["id"] for g in client.get("/api/v1/gigs/?mine=true").json()["results"]] == [pk]
    assert client.post(f"/api/v1/gigs/{pk}/resume/").json()["paused"] is False


def test_publishing_reports_every_bad_field_and_creates_nothing(api_as):
    response = api_as(UserFactory()).post(
        "/api/v1/gigs/", {**NEW, "title": "", "category": "nope", "delivery_days": 999}, format="json"
    )
    body = assert_problem(response, 400)
    assert body["errors"] == {
        "title": ["Give your gig a title."],
        "delivery_days": ["Delivery takes between 1 and 365 days."],
        "category": ["Choose a category from the list."],
    }
    assert not Gig.objects.exists()


def test_someone_elses_gig_cannot_be_changed_and_anonymous_cannot_publish(api_as):
    gig = GigFactory()
    other = api_as(UserFactory())
    assert_problem(other.patch(f"/api/v1/gigs/{gig.pk}/", {"title": "Mine now"}, format="json"), 404)
    assert_problem(other.post(f"/api/v1/gigs/{gig.pk}/pause/"), 404)
    assert_problem(APIClient().post("/api/v1/gigs/", NEW, format="json"), 401)
    assert_problem(api_as(gig.seller, scope="read").post(f"/api/v1/gigs/{gig.pk}/pause/"), 403)
    gig.refresh_from_db()
    assert gig.is_active and gig.title != "Mine now"
