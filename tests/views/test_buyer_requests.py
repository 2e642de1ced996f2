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
from requests_board.models import BuyerRequest, ProposalState, RequestProposal, RequestState
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


# --- files posted with a request ------------------------------------------------------------------

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _post_with_files(client, *files):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fields = {"title": "Jam labels", "description": "Three flavours.", "category": "design", "budget": "120"}
    uploads = [SimpleUploadedFile(name, content) for name, content in files]
    return client.post(reverse("request_new"), {**fields, "currency": "USD", "files": uploads})


def test_post_a_request_with_files_lists_them_on_its_page(client):
    from requests_board.models import RequestAttachment

    buyer = UserFactory()
    client.force_login(buyer)
    page = client.get(reverse("request_new")).content.decode()
    from marketplace.uploads import upload_rules_words
    from requests_board.services import MAX_REQUEST_FILES

    # The same words as every other upload, from the same settings.
    assert 'enctype="multipart/form-data"' in page and upload_rules_words(MAX_REQUEST_FILES) in page
    response = _post_with_files(client, ("brief.pdf", PDF), ("notes.txt", b"Warm colours."))
    made = BuyerRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == made.get_absolute_url()
    files = list(RequestAttachment.objects.filter(request=made))
    assert [f.original_name for f in files] == ["brief.pdf", "notes.txt"]
    page = client.get(made.get_absolute_url()).content.decode()
    for item in files:
        assert reverse("request_file", args=[made.pk, item.pk]) in page and item.original_name in page


def test_a_bad_file_is_named_next_to_the_field_and_nothing_is_posted(client, settings, tmp_path):
    from requests_board.models import RequestAttachment

    settings.MEDIA_ROOT = tmp_path
    client.force_login(UserFactory())
    response = _post_with_files(client, ("brief.pdf", PDF), ("setup.exe", b"MZ\x90\x00"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not an accepted file type" in html and "setup.exe" in html and 'id="id_files_error"' in html
    assert not BuyerRequest.objects.exists() and not RequestAttachment.objects.exists()
    assert not any(tmp_path.rglob("*.*"))


def test_a_request_file_downloads_for_who_may_see_the_request_and_404_for_others(client):
    """Open: the buyer and any seller. Closed: the buyer and the sellers who proposed; another
    seller gets 404, as does a file of another request under this one's address."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from requests_board.models import RequestAttachment
    from requests_board.services import request_withdraw

    buyer, proposer, stranger = UserFactory(), UserFactory(), UserFactory()
    buyer_request = request_post(
        buyer=buyer,
        data=RequestInput(title="Logo", description="Round.", category="design", budget=Money("300", "USD")),
        files=[SimpleUploadedFile("brief.pdf", PDF)],
    )
    item = RequestAttachment.objects.get()
    url = reverse("request_file", args=[buyer_request.pk, item.pk])

    def download(user) -> int:
        client.force_login(user)
        response = client.get(url)
        if response.status_code == 200:
            assert b"".join(response.streaming_content) == PDF
            assert response["Content-Disposition"] == 'attachment; filename="brief.pdf"'
        return response.status_code

    assert [download(u) for u in (buyer, proposer, stranger)] == [200, 200, 200]
    a_proposal(proposer, buyer_request)
    request_withdraw(buyer=buyer, buyer_request=buyer_request)
    assert [download(u) for u in (buyer, proposer, stranger)] == [200, 200, 404]
    other = a_request(UserFactory(), title="Another")
    client.force_login(buyer)
    assert client.get(reverse("request_file", args=[other.pk, item.pk])).status_code == 404
    assert client.get(reverse("request_file", args=[buyer_request.pk, item.pk + 1000])).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to log in
    client.force_login(buyer)
    assert client.post(url).status_code == 405


# --- withdrawing a request ------------------------------------------------------------------------


def test_withdraw_request_button_for_the_buyer_while_open_with_a_warning(client):
    buyer, seller = UserFactory(), UserFactory()
    buyer_request = a_request(buyer)
    a_proposal(seller, buyer_request)
    withdraw = reverse("request_withdraw", args=[buyer_request.pk])
    client.force_login(buyer)
    page = client.get(buyer_request.get_absolute_url()).content.decode()
    assert "Withdraw request" in page and f'action="{withdraw}"' in page
    assert "the pending proposal is declined (its seller is told). This cannot be undone." in page
    client.force_login(seller)
    assert "Withdraw request" not in client.get(buyer_request.get_absolute_url()).content.decode()
    # GET never withdraws.
    client.force_login(buyer)
    assert client.get(withdraw).status_code == 405
    buyer_request.refresh_from_db()
    assert buyer_request.state == RequestState.OPEN


def test_withdraw_request_only_the_buyer_then_a_second_press_says_so_and_changes_nothing(client):
    from notifications.models import Notification

    buyer, seller = UserFactory(), UserFactory()
    buyer_request = a_request(buyer)
    proposal = a_proposal(seller, buyer_request)
    withdraw = reverse("request_withdraw", args=[buyer_request.pk])
    for outsider in (seller, UserFactory()):
        client.force_login(outsider)
        assert client.post(withdraw).status_code == 404
    buyer_request.refresh_from_db()
    assert buyer_request.state == RequestState.OPEN
    client.force_login(buyer)
    response = client.post(withdraw, follow=True)
    assert response.redirect_chain[-1][0] == buyer_request.get_absolute_url()
    html = response.content.decode()
    assert "Your request is withdrawn" in html and "Withdraw request" not in html
    buyer_request.refresh_from_db()
    proposal.refresh_from_db()
    assert buyer_request.state == RequestState.WITHDRAWN and proposal.state == ProposalState.DECLINED
    closed_at = buyer_request.closed_at
    assert Notification.objects.filter(recipient=seller, event="proposal_declined").count() == 1
    response = client.post(withdraw, follow=True)
    assert "You already withdrew this request; nothing changed." in response.content.decode()
    buyer_request.refresh_from_db()
    assert buyer_request.closed_at == closed_at
    assert Notification.objects.filter(recipient=seller, event="proposal_declined").count() == 1
    # The seller who proposed still sees it, closed, and is told; another seller no longer does.
    client.force_login(seller)
    assert client.get(buyer_request.get_absolute_url()).status_code == 200
    client.force_login(UserFactory())
    assert client.get(buyer_request.get_absolute_url()).status_code == 404


def test_withdraw_a_hired_request_is_refused_with_a_message(client):
    buyer = UserFactory()
    buyer_request = a_request(buyer)
    request_hire(buyer=buyer, proposal=a_proposal(UserFactory(), buyer_request), key="k2", source=CARD)
    client.force_login(buyer)
    page = client.get(buyer_request.get_absolute_url()).content.decode()
    assert "Withdraw request" not in page
    response = client.post(reverse("request_withdraw", args=[buyer_request.pk]), follow=True)
    assert "This request is hired; nothing changed." in response.content.decode()
    buyer_request.refresh_from_db()
    assert buyer_request.state == RequestState.HIRED
