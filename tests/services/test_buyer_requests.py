"""Buyer requests and proposals (issue 36, item 1): posting (every error at once), proposing (one
pending per seller and request, editable until answered), hiring (an order with the proposal's
steps, the first paid and the rest planned, the others declined with a notice) and expiry."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone
from djmoney.money import Money

from gigs.packages import StepInput
from marketplace.errors import DuplicateRequest, InvalidInput, InvalidTransition, NotAllowed
from milestones.models import Milestone, MilestoneState
from notifications.models import Notification
from payments.audit import ledger_audit
from requests_board.models import BuyerRequest, ProposalState, RequestProposal, RequestState
from requests_board.services import (
    ProposalInput,
    RequestErrors,
    RequestInput,
    proposal_edit,
    proposal_send,
    proposal_withdraw,
    request_expire,
    request_hire,
    request_post,
)
from requests_board.sweeps import sweep_requests
from tests.backends import BOTH
from tests.factories import BALANCE, CARD, UserFactory, pay_checkout
from tests.services.ledger_checks import assert_money_conserved

S = MilestoneState
pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def a_request(buyer=None, files=(), **overrides) -> BuyerRequest:
    data = {
        "title": "A logo for a bakery",
        "description": "A round logo, warm colours, for signs and boxes.",
        "category": "design",
        "budget": usd("300.00"),
        "deadline": None,
        **overrides,
    }
    return request_post(buyer=buyer or UserFactory(), data=RequestInput(**data), files=files)


def plan(*prices: str, message: str = "I can do this.") -> ProposalInput:
    return ProposalInput(
        message=message,
        steps=tuple(
            StepInput(title=f"Step {n}", deliverables=f"Deliverable {n}", days=n + 1, price=usd(price))
            for n, price in enumerate(prices, start=1)
        ),
    )


def test_post_opens_a_request_that_expires_after_request_expiry():
    buyer_request = a_request()
    assert buyer_request.state == RequestState.OPEN
    assert buyer_request.expires_at - buyer_request.created_at == settings.REQUEST_EXPIRY


def test_post_reports_every_error_and_writes_nothing():
    with pytest.raises(RequestErrors) as caught:
        a_request(title=" ", description="", category="nope", budget=usd("1.00"))
    fields = {e.field for e in caught.value.errors}
    assert fields == {"title", "description", "category", "budget"}
    with pytest.raises(RequestErrors) as caught:
        a_request(budget=usd("100000.01"), deadline=timezone.localdate() - timedelta(days=1))
    assert {e.field for e in caught.value.errors} == {"budget", "deadline"}
    assert not BuyerRequest.objects.exists()


def test_propose_once_pending_per_seller_edit_until_answered_and_withdraw():
    buyer_request = a_request()
    seller = UserFactory()
    proposal = proposal_send(seller=seller, buyer_request=buyer_request, data=plan("100.00", "200.00"))
    assert [s.price for s in proposal.steps.all()] == [usd("100.00"), usd("200.00")]
    assert Notification.objects.filter(recipient=buyer_request.buyer, event="proposal_received").count() == 1
    with pytest.raises(DuplicateRequest):
        proposal_send(seller=seller, buyer_request=buyer_request, data=plan("50.00"))
    proposal_edit(seller=seller, proposal=proposal, data=plan("120.00", message="Better offer."))
    proposal.refresh_from_db()
    assert proposal.message == "Better offer."
    assert [s.price for s in proposal.steps.all()] == [usd("120.00")]
    with pytest.raises(NotAllowed):
        proposal_edit(seller=UserFactory(), proposal=proposal, data=plan("10.00"))
    proposal_withdraw(seller=seller, proposal=proposal)
    with pytest.raises(InvalidTransition):
        proposal_edit(seller=seller, proposal=proposal, data=plan("130.00"))
    # Withdrawn, the seller may send a new one.
    proposal_send(seller=seller, buyer_request=buyer_request, data=plan("90.00"))
    assert RequestProposal.objects.filter(seller=seller, state=ProposalState.PENDING).count() == 1


def test_proposal_errors_all_at_once_and_step_limits():
    buyer_request = a_request()
    bad = ProposalInput(
        message="",
        steps=(
            StepInput(title="", deliverables="", days=0, price=usd("1.00")),
            StepInput(title="Ok", deliverables="Ok", days=2, price=Money("10.00", "EUR")),
        ),
    )
    with pytest.raises(RequestErrors) as caught:
        proposal_send(seller=UserFactory(), buyer_request=buyer_request, data=bad)
    assert {e.field for e in caught.value.errors} == {
        "message",
        "step-1-title",
        "step-1-deliverables",
        "step-1-days",
        "step-1-price",
        "step-2-price",
    }
    with pytest.raises(RequestErrors):
        proposal_send(seller=UserFactory(), buyer_request=buyer_request, data=plan(*["10.00"] * 7))
    with pytest.raises(NotAllowed):
        proposal_send(seller=buyer_request.buyer, buyer_request=buyer_request, data=plan("10.00"))
    assert not RequestProposal.objects.exists()


def test_hire_opens_the_order_first_paid_rest_planned_others_declined():
    buyer_request = a_request()
    first_seller, second_seller = UserFactory(), UserFactory()
    declined = proposal_send(seller=first_seller, buyer_request=buyer_request, data=plan("80.00"))
    hired = proposal_send(seller=second_seller, buyer_request=buyer_request, data=plan("100.00", "150.00", "50.00"))
    order = request_hire(buyer=buyer_request.buyer, proposal=hired, key=uuid.uuid4().hex, source=CARD)
    steps = list(Milestone.objects.filter(order=order).order_by("position"))
    assert [(m.title, m.amount, m.state) for m in steps] == [
        ("Step 1", usd("100.00"), S.AWAITING_PAYMENT),
        ("Step 2", usd("150.00"), S.PLANNED),
        ("Step 3", usd("50.00"), S.PLANNED),
    ]
    pay_checkout(steps[0])
    steps[0].refresh_from_db()
    assert steps[0].state not in (S.AWAITING_PAYMENT, S.PLANNED)
    assert order.seller == second_seller and order.buyer == buyer_request.buyer and order.gig is None
    buyer_request.refresh_from_db()
    assert buyer_request.state == RequestState.HIRED and buyer_request.order == order
    declined.refresh_from_db()
    hired.refresh_from_db()
    assert (declined.state, hired.state) == (ProposalState.DECLINED, ProposalState.HIRED)
    assert Notification.objects.filter(recipient=first_seller, event="proposal_declined").count() == 1
    assert Notification.objects.filter(recipient=second_seller, event="proposal_hired").count() == 1
    with pytest.raises(DuplicateRequest):
        request_hire(buyer=buyer_request.buyer, proposal=hired, key=uuid.uuid4().hex, source=CARD)
    with pytest.raises(InvalidTransition):
        proposal_edit(seller=first_seller, proposal=declined, data=plan("70.00"))
    report = ledger_audit()
    assert report.ok, report.summary()
    assert_money_conserved()


def test_hire_from_the_balance_funds_the_first_step_now():
    from tests.services.test_offers import give_balance

    buyer = UserFactory()
    give_balance(buyer)
    buyer_request = a_request(buyer)
    proposal = proposal_send(seller=UserFactory(), buyer_request=buyer_request, data=plan("100.00", "20.00"))
    order = request_hire(buyer=buyer, proposal=proposal, key=uuid.uuid4().hex, source=BALANCE)
    states = list(Milestone.objects.filter(order=order).order_by("position").values_list("state", flat=True))
    assert states[1] == S.PLANNED and states[0] not in (S.AWAITING_PAYMENT, S.PLANNED)


def test_only_the_buyer_hires():
    buyer_request = a_request()
    proposal = proposal_send(seller=UserFactory(), buyer_request=buyer_request, data=plan("100.00"))
    with pytest.raises(NotAllowed):
        request_hire(buyer=UserFactory(), proposal=proposal, key="k", source=CARD)
    with pytest.raises(InvalidInput):
        request_hire(buyer=buyer_request.buyer, proposal=proposal, key="", source=CARD)


def test_expiry_declines_pending_is_idempotent_and_refuses_hire_and_proposals():
    buyer_request = a_request()
    seller = UserFactory()
    proposal = proposal_send(seller=seller, buyer_request=buyer_request, data=plan("100.00"))
    later = buyer_request.expires_at + timedelta(seconds=1)
    # Past expires_at but not yet swept: hiring is refused already.
    with pytest.raises(InvalidTransition):
        request_hire(buyer=buyer_request.buyer, proposal=proposal, key="k", source=CARD, now=later)
    with pytest.raises(InvalidTransition):
        proposal_send(seller=UserFactory(), buyer_request=buyer_request, data=plan("10.00"), now=later)
    assert not request_expire(request_id=buyer_request.pk, now=buyer_request.expires_at - timedelta(seconds=1))
    sweep_requests(now=later)
    buyer_request.refresh_from_db()
    proposal.refresh_from_db()
    assert buyer_request.state == RequestState.EXPIRED and proposal.state == ProposalState.DECLINED
    assert Notification.objects.filter(recipient=seller, event="proposal_declined").count() == 1
    sweep_requests(now=later)
    assert not request_expire(request_id=buyer_request.pk, now=later)
    assert Notification.objects.filter(recipient=seller, event="proposal_declined").count() == 1
    assert not Milestone.objects.exists()


@pytest.mark.django_db(databases=BOTH)
def test_sellers_search_and_filter_open_requests_on_both_backends(backend):
    """Full-text on PostgreSQL, plain matching on SQLite, as gigs' search; the buyer's own, closed
    and expired requests are not listed to sellers."""
    from django.db import connection

    from requests_board.selectors import requests_for_sellers

    assert connection.vendor == backend
    seller = UserFactory()
    logo = a_request(title="A logo for a bakery")
    a_request(title="Translate a menu", description="French to English.", category="writing", budget=usd("60.00"))
    a_request(seller, title="My own logo")
    gone = a_request(title="An old logo")
    BuyerRequest.objects.filter(pk=gone.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    def titles(**filters) -> list[str]:
        return [r.title for r in requests_for_sellers(viewer=seller, **filters)]

    assert titles(query="logo") == [logo.title]
    assert titles(category="writing") == ["Translate a menu"]
    assert titles(max_budget=Decimal("100")) == ["Translate a menu"]
    assert titles(min_budget=Decimal("100")) == [logo.title]


# --- files with the request and withdrawing it ---------------------------------------------------

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_post_stores_the_files_with_their_names_sizes_and_types():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from requests_board.models import RequestAttachment

    buyer_request = a_request(
        files=[SimpleUploadedFile("brief.pdf", PDF), SimpleUploadedFile("../../notes.txt", b"Round, warm.")]
    )
    stored = list(RequestAttachment.objects.filter(request=buyer_request))
    assert [(f.original_name, f.size, f.content_type) for f in stored] == [
        ("brief.pdf", len(PDF), "application/pdf"),
        ("notes.txt", 12, "text/plain"),
    ]
    # Stored under a random name of the request's folder, never the buyer's path.
    assert all(f.file.name.startswith(f"requests/{buyer_request.pk}/") for f in stored)
    with stored[0].file.open("rb") as handle:
        assert handle.read() == PDF


def test_a_bad_file_refuses_the_whole_request_with_every_error_and_writes_nothing(settings, tmp_path):
    """A type not accepted, content that is not what its name says, an empty file and one over the
    size limit: each named on ``files``, with the other fields' errors, and no row and no file."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from requests_board.models import RequestAttachment

    settings.MEDIA_ROOT = tmp_path
    settings.DELIVERABLE_MAX_FILE_SIZE = 1024
    files = [
        SimpleUploadedFile("run.exe", b"MZ\x90\x00"),
        SimpleUploadedFile("fake.pdf", b"not a pdf at all"),
        SimpleUploadedFile("empty.txt", b""),
        SimpleUploadedFile("big.txt", b"a" * 1025),
        SimpleUploadedFile("fine.pdf", PDF),
    ]
    with pytest.raises(RequestErrors) as caught:
        a_request(title="", files=files)
    errors = caught.value.errors
    assert {e.field for e in errors} == {"title", "files"}
    words = " ".join(e.message for e in errors if e.field == "files")
    for expected in ("“run.exe” is not an accepted file type", "“fake.pdf” does not contain", "“empty.txt” is empty"):
        assert expected in words
    assert "“big.txt” is 1.0\xa0KB; the limit is 1.0\xa0KB." in words
    assert "fine.pdf" not in words
    assert not BuyerRequest.objects.exists() and not RequestAttachment.objects.exists()
    assert not any(tmp_path.rglob("*.*"))


def test_more_files_than_the_limit_are_refused(settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    import requests_board.services as services

    settings.MEDIA_ROOT = tmp_path
    files = [SimpleUploadedFile(f"p{n}.pdf", PDF) for n in range(services.MAX_REQUEST_FILES + 1)]
    with pytest.raises(RequestErrors) as caught:
        a_request(files=files)
    assert [e.message for e in caught.value.errors] == [f"Attach at most {services.MAX_REQUEST_FILES} files."]
    assert not BuyerRequest.objects.exists()
    assert not any(tmp_path.rglob("*.*"))


def test_withdraw_declines_pending_proposals_with_a_notice_and_a_second_press_changes_nothing():
    from requests_board.services import request_withdraw

    buyer_request = a_request()
    waiting, gone = UserFactory(), UserFactory()
    pending = proposal_send(seller=waiting, buyer_request=buyer_request, data=plan("100.00"))
    withdrawn = proposal_send(seller=gone, buyer_request=buyer_request, data=plan("90.00"))
    proposal_withdraw(seller=gone, proposal=withdrawn)
    with pytest.raises(NotAllowed):
        request_withdraw(buyer=waiting, buyer_request=buyer_request)
    request_withdraw(buyer=buyer_request.buyer, buyer_request=buyer_request)
    buyer_request.refresh_from_db()
    pending.refresh_from_db()
    withdrawn.refresh_from_db()
    assert buyer_request.state == RequestState.WITHDRAWN and buyer_request.closed_at is not None
    assert (pending.state, withdrawn.state) == (ProposalState.DECLINED, ProposalState.WITHDRAWN)
    notices = Notification.objects.filter(event="proposal_declined")
    assert [(n.recipient_id, "The buyer withdrew the request" in n.message) for n in notices] == [(waiting.pk, True)]
    closed_at = buyer_request.closed_at
    with pytest.raises(DuplicateRequest, match="already withdrew"):
        request_withdraw(buyer=buyer_request.buyer, buyer_request=buyer_request)
    buyer_request.refresh_from_db()
    assert buyer_request.closed_at == closed_at and notices.count() == 1
    with pytest.raises(InvalidTransition):
        proposal_send(seller=UserFactory(), buyer_request=buyer_request, data=plan("10.00"))


def test_a_hired_or_expired_request_cannot_be_withdrawn():
    from requests_board.services import request_withdraw

    buyer_request = a_request()
    request_expire(request_id=buyer_request.pk, now=buyer_request.expires_at + timedelta(seconds=1))
    with pytest.raises(InvalidTransition, match="expired; nothing changed"):
        request_withdraw(buyer=buyer_request.buyer, buyer_request=buyer_request)
    buyer_request.refresh_from_db()
    assert buyer_request.state == RequestState.EXPIRED
