"""Messages, proposals, notifications and balances through the API, by each role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from milestones.models import MilestoneState as S
from milestones.models import Proposal
from tests.api.conftest import assert_problem
from tests.factories import NotificationFactory, OrderFactory, OrderMessageFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db


def test_messages_list_and_send_with_files_once_per_key(api_as):
    order = OrderFactory()
    OrderMessageFactory(order=order, body="Hello seller")
    client = api_as(order.seller)
    assert [m["body"] for m in client.get(f"/api/v1/orders/{order.pk}/messages/").json()["results"]] == ["Hello seller"]
    upload = SimpleUploadedFile("brief.txt", b"The brief.", content_type="text/plain")
    url = f"/api/v1/orders/{order.pk}/messages/"
    sent = client.post(url, {"body": "Got it", "attachment": [upload]}, format="multipart", HTTP_IDEMPOTENCY_KEY="m1")
    assert sent.status_code == 201, sent.content
    assert sent.json()["files"] == ["brief.txt"] and sent.json()["author"] == order.seller.username
    again = client.post(url, {"body": "Got it"}, format="multipart", HTTP_IDEMPOTENCY_KEY="m1")
    assert again.status_code == 200
    assert order.messages.count() == 2


def test_messages_refused_to_outsiders_anonymous_and_empty_bodies(api_as):
    order = OrderFactory()
    url = f"/api/v1/orders/{order.pk}/messages/"
    assert_problem(api_as(UserFactory()).get(url), 404)
    assert_problem(api_as(UserFactory()).post(url, {"body": "hi"}, format="json"), 404)
    assert_problem(APIClient().post(url, {"body": "hi"}, format="json"), 401)
    body = assert_problem(api_as(order.buyer).post(url, {"body": "   "}, format="json"), 400)
    assert "body" in body["errors"]
    assert not order.messages.exists()


def test_an_extension_is_requested_by_the_seller_and_accepted_by_the_buyer(api_as):
    milestone = milestone_in(S.IN_PROGRESS)
    new_deadline = (milestone.deadline + timedelta(days=5)).isoformat()
    seller, buyer = api_as(milestone.order.seller), api_as(milestone.order.buyer)
    asked = seller.post(
        f"/api/v1/milestones/{milestone.pk}/extension/", {"new_deadline": new_deadline, "reason": "Flu"}, format="json"
    )
    assert asked.status_code == 200, asked.content
    proposal = Proposal.objects.get(milestone=milestone)
    assert [p["id"] for p in buyer.get("/api/v1/proposals/").json()["results"]] == [proposal.pk]
    assert_problem(api_as(UserFactory()).post(f"/api/v1/proposals/{proposal.pk}/accept/"), 404)
    refused = seller.post(f"/api/v1/proposals/{proposal.pk}/accept/")
    assert refused.status_code in (403, 409)
    accepted = buyer.post(f"/api/v1/proposals/{proposal.pk}/accept/")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["state"] == "accepted"
    milestone.refresh_from_db()
    assert milestone.deadline > timezone.now() + timedelta(days=6)


def test_a_cancellation_request_declined_keeps_the_terms(api_as):
    milestone = milestone_in(S.IN_PROGRESS)
    buyer, seller = api_as(milestone.order.buyer), api_as(milestone.order.seller)
    asked = buyer.post(f"/api/v1/milestones/{milestone.pk}/cancellation/", {"reason": "Plans changed"}, format="json")
    assert asked.status_code == 200, asked.content
    proposal = Proposal.objects.get(milestone=milestone, kind="cancellation")
    assert seller.post(f"/api/v1/proposals/{proposal.pk}/decline/").json()["state"] == "declined"
    milestone.refresh_from_db()
    assert milestone.state == S.IN_PROGRESS


def test_proposed_changes_need_every_field(api_as):
    milestone = milestone_in(S.AWAITING_ACCEPTANCE)
    body = assert_problem(
        api_as(milestone.order.seller).post(f"/api/v1/milestones/{milestone.pk}/changes/", {}, format="json"), 400
    )
    assert {"deadline", "amount", "description"} <= body["errors"].keys()
    assert not Proposal.objects.exists()


def test_notifications_list_and_mark_read_only_ones_own(api_as):
    user = UserFactory()
    mine = NotificationFactory(recipient=user)
    theirs = NotificationFactory()
    client = api_as(user)
    assert [n["id"] for n in client.get("/api/v1/notifications/?unread=true").json()["results"]] == [mine.pk]
    assert_problem(client.post(f"/api/v1/notifications/{theirs.pk}/read/"), 404)
    assert client.post(f"/api/v1/notifications/{mine.pk}/read/").json()["read_at"] is not None
    assert client.get("/api/v1/notifications/?unread=true").json()["results"] == []
    NotificationFactory(recipient=user)
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_balance_is_the_ledgers(api_as):
    order = OrderFactory()
    milestone_in(S.CANCELLED, order=order, amount="100.00")
    rows = api_as(order.buyer).get("/api/v1/balance/").json()
    assert {"kind": "buyer_balance", "label": "Buyer balance", "amount": "105.50", "currency": "USD"} in rows
    assert api_as(UserFactory()).get("/api/v1/balance/").json() == []


def test_me_names_the_caller_and_the_token(api_as):
    user = UserFactory()
    body = api_as(user, scope="read").get("/api/v1/me/").json()
    assert body["username"] == user.username and body["token"]["scope"] == "read"


def test_ledger_lines_are_the_callers_own_and_open_their_receipts(api_as):
    milestone = milestone_in(S.APPROVED)
    seller = api_as(milestone.order.seller)
    lines = seller.get("/api/v1/ledger/").json()["results"]
    assert lines and all(line["milestone"] == milestone.pk for line in lines)
    earned = lines[-1]
    receipt = seller.get(f"/api/v1/receipts/{earned['transaction']}/").json()
    assert receipt["issued_to"] == milestone.order.seller.username and receipt["lines"]
    assert_problem(api_as(UserFactory()).get(f"/api/v1/receipts/{earned['transaction']}/"), 404)
    assert api_as(UserFactory()).get("/api/v1/ledger/").json()["results"] == []


def test_a_staff_token_reads_no_one_elses_receipt(api_as):
    from django.contrib.auth.models import Permission

    from payments.models import Transaction
    from tests.factories import StaffFactory

    milestone = milestone_in(S.IN_PROGRESS)
    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_transaction"))
    txn = Transaction.objects.filter(milestone=milestone).first()
    assert api_as(milestone.order.buyer).get(f"/api/v1/receipts/{txn.pk}/").status_code == 200
    assert_problem(api_as(staff).get(f"/api/v1/receipts/{txn.pk}/"), 404)


def test_the_seller_offers_a_milestone_once_per_key_and_the_buyer_accepts_it_from_the_balance(api_as, audit):
    order = OrderFactory()
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=order.buyer), amount="200.00")  # a balance to pay from
    seller, buyer = api_as(order.seller), api_as(order.buyer)
    terms = {
        "title": "Maintenance",
        "description": "Fixes",
        "amount": "40.00",
        "deadline": (timezone.now() + timedelta(days=20)).isoformat(),
    }
    offered = seller.post(f"/api/v1/orders/{order.pk}/offers/", terms, format="json", HTTP_IDEMPOTENCY_KEY="o1")
    assert offered.status_code == 201, offered.content
    again = seller.post(f"/api/v1/orders/{order.pk}/offers/", terms, format="json", HTTP_IDEMPOTENCY_KEY="o1")
    assert again.status_code == 200 and again.json()["id"] == offered.json()["id"]
    assert_problem(buyer.post(f"/api/v1/orders/{order.pk}/offers/", terms, format="json"), 403, "Only the seller")
    accepted = buyer.post(f"/api/v1/milestones/{offered.json()['id']}/accept-offer/")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["state"] in (S.IN_PROGRESS, S.ACCEPTED)
    audit()
