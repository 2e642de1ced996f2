"""The requests pages (issue 36, item 1): "Post a request" (every error at once, nothing written),
"Send a proposal" with a no-JS "Add step", privacy (a seller sees only their own proposal; another
seller and an outsider get 404), "Hire" to the card checkout, and the list flat in queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from djmoney.money import Money

from gigs.packages import StepInput
from milestones.models import Milestone, MilestoneState
from requests_board.models import BuyerRequest, ProposalState, RequestProposal
from requests_board.services import ProposalInput, RequestInput, proposal_send, request_hire, request_post
from tests.factories import CARD, UserFactory

pytestmark = pytest.mark.django_db


def a_request(buyer, title="A logo for a bakery") -> BuyerRequest:
    return request_post(
        buyer=buyer,
        data=RequestInput(title=title, description="Warm colours.", category="design", budget=Money("300", "USD")),
    )


def a_proposal(seller, buyer_request, message="I can do this.") -> RequestProposal:
    steps = (StepInput(title="Sketch", deliverables="Three sketches", days=2, price=Money("100", "USD")),)
    return proposal_send(seller=seller, buyer_request=buyer_request, data=ProposalInput(message=message, steps=steps))


def test_post_a_request_reports_every_error_then_posts(client):
    buyer = UserFactory()
    client.force_login(buyer)
    page = client.get(reverse("request_new")).content.decode()
    for label in ("Title", "Description", "Category", "Budget", "Currency", "Deadline", "Post a request"):
        assert label in page
    response = client.post(reverse("request_new"), {"title": "", "description": "", "budget": "1", "currency": "USD"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html  # title, description, category
    assert not BuyerRequest.objects.exists()
    response = client.post(
        reverse("request_new"),
        {"title": "Logo", "description": "Round", "category": "design", "budget": "2", "currency": "USD"},
    )
    assert response.status_code == 200 and "at least 5.00" in response.content.decode()
    assert not BuyerRequest.objects.exists()
    response = client.post(
        reverse("request_new"),
        {"title": "Logo", "description": "Round", "category": "design", "budget": "250", "currency": "EUR"},
    )
    made = BuyerRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == made.get_absolute_url()
    assert made.budget == Money("250", "EUR")


def test_send_a_proposal_with_add_step_without_javascript_then_edit(client):
    buyer_request = a_request(UserFactory())
    seller = UserFactory()
    client.force_login(seller)
    url = buyer_request.get_absolute_url()
    page = client.get(url).content.decode()
    for label in ("Send a proposal", "Message", "Step 1", "Step title", "Deliverables", "Days", "Price", "Add step"):
        assert label in page
    first = {
        "message": "Hello",
        "step_count": "1",
        "step-1-title": "Sketch",
        "step-1-deliverables": "Sketches",
        "step-1-days": "2",
        "step-1-price": "100",
    }
    page = client.post(url, {**first, "add_step": "1"}).content.decode()
    assert "Step 2" in page and 'value="Sketch"' in page
    assert not RequestProposal.objects.exists()
    both = {
        **first,
        "step_count": "2",
        "step-2-title": "Final",
        "step-2-deliverables": "Files",
        "step-2-days": "3",
        "step-2-price": "150",
    }
    assert client.post(url, both).status_code == 302
    proposal = RequestProposal.objects.get()
    assert [s.title for s in proposal.steps.all()] == ["Sketch", "Final"]
    # Editable until answered: the same form saves it again.
    assert client.post(url, {**both, "message": "Hello again"}).status_code == 302
    proposal.refresh_from_db()
    assert proposal.message == "Hello again" and RequestProposal.objects.count() == 1
    bad = client.post(url, {**both, "step-2-price": "1"})
    assert bad.status_code == 200 and "at least 5.00" in bad.content.decode()


def test_a_seller_sees_only_their_own_proposal_and_others_get_404(client):
    buyer = UserFactory()
    buyer_request = a_request(buyer)
    mine, theirs = UserFactory(), UserFactory()
    a_proposal(mine, buyer_request, message="Mine, secret terms")
    other = a_proposal(theirs, buyer_request, message="Theirs, secret terms")
    client.force_login(mine)
    page = client.get(buyer_request.get_absolute_url()).content.decode()
    assert "Mine, secret terms" in page or "Your proposal" in page
    assert "Theirs, secret terms" not in page
    assert client.post(reverse("proposal_withdraw", args=[buyer_request.pk, other.pk])).status_code == 404
    assert client.get(reverse("proposal_hire", args=[buyer_request.pk, other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.state == ProposalState.PENDING
    # The buyer sees both side by side.
    client.force_login(buyer)
    page = client.get(buyer_request.get_absolute_url()).content.decode()
    assert "Mine, secret terms" in page and "Theirs, secret terms" in page and page.count(">Hire<") == 2


def test_a_closed_request_is_404_to_an_outsider_and_open_to_its_proposer(client):
    buyer = UserFactory()
    buyer_request = a_request(buyer)
    seller = UserFactory()
    proposal = a_proposal(seller, buyer_request)
    request_hire(buyer=buyer, proposal=proposal, key="k1", source=CARD)
    client.force_login(UserFactory())
    assert client.get(buyer_request.get_absolute_url()).status_code == 404
    assert client.get(reverse("request_detail", args=[987654])).status_code == 404
    client.force_login(seller)
    assert client.get(buyer_request.get_absolute_url()).status_code == 200


def test_hire_by_card_opens_the_order_and_goes_to_the_checkout(client):
    buyer = UserFactory()
    buyer_request = a_request(buyer)
    proposal = a_proposal(UserFactory(), buyer_request)
    client.force_login(buyer)
    url = reverse("proposal_hire", args=[buyer_request.pk, proposal.pk])
    page = client.get(url).content.decode()
    assert "Hire" in page and "Pay with" in page
    key = page.split('name="key" value="')[1].split('"')[0]
    response = client.post(url, {"method": "card", "key": key})
    assert response.status_code == 302
    first = Milestone.objects.get(order__buyer=buyer)
    assert first.state == MilestoneState.AWAITING_PAYMENT


def _list_queries(client, viewer) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("request_list"), {"category": "design", "q": "logo"})
    assert response.status_code == 200
    return len(queries)


def test_the_list_is_flat_in_queries(client):
    seller = UserFactory()
    client.force_login(seller)
    buyers = [UserFactory() for _ in range(3)]
    for n in range(3):
        a_proposal(seller, a_request(buyers[n % 3], title=f"Logo {n}"))
    few = _list_queries(client, seller)
    for n in range(27):
        a_request(buyers[n % 3], title=f"Logo more {n}")
    many = _list_queries(client, seller)
    assert few == many
    page = client.get(reverse("request_list"), {"q": "logo", "page": 2}).content.decode()
    assert "You proposed" in page


@pytest.mark.parametrize("params", [{}, {"q": "logo", "category": "design", "min_budget": "10"}, {"page": "3"}])
def test_the_list_costs_the_same_queries_at_10_and_10000_requests(client, params):
    from datetime import timedelta

    from django.utils import timezone

    seller, buyers = UserFactory(), [UserFactory() for _ in range(5)]
    client.force_login(seller)

    def bulk(count: int, start: int) -> None:
        now = timezone.now()
        BuyerRequest.objects.bulk_create(
            BuyerRequest(
                buyer=buyers[n % 5],
                title=f"Logo number {n}",
                description="A logo, warm colours.",
                category="design",
                budget=Money("300", "USD"),
                created_at=now - timedelta(seconds=n),
                expires_at=now + timedelta(days=30),
            )
            for n in range(start, start + count)
        )

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("request_list"), params)
        assert response.status_code == 200
        return len(queries)

    bulk(70, 0)
    few = count()
    bulk(9_930, 70)
    assert BuyerRequest.objects.count() == 10_000
    assert count() == few
