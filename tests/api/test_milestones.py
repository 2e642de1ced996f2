"""Milestones through the API: each action by the party it belongs to, the other party, an
outsider (404), anonymous (401) and a read token (403); creation paid from the balance or by card."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiScope
from milestones.models import Milestone
from milestones.models import MilestoneState as S
from payments.models import AccountKind, Transaction
from tests.api.conftest import assert_problem
from tests.factories import OrderFactory, UserFactory, milestone_in
from tests.services.ledger_checks import balance

pytestmark = pytest.mark.django_db

BUYER, SELLER = "buyer", "seller"

# action path, the state it starts from, whose it is, the body, the state after.
ACTIONS = [
    ("accept", S.AWAITING_ACCEPTANCE, SELLER, {}, S.IN_PROGRESS),
    ("decline", S.AWAITING_ACCEPTANCE, SELLER, {"reason": "Too busy"}, S.DECLINED),
    ("submit", S.IN_PROGRESS, SELLER, {"message": "Done", "links": ["https://example.com/w"]}, S.IN_REVIEW),
    ("request-revision", S.IN_REVIEW, BUYER, {"feedback": "Bigger logo"}, S.REVISION_REQUESTED),
    ("approve", S.IN_REVIEW, BUYER, {}, S.APPROVED),
    ("cancel", S.AWAITING_ACCEPTANCE, BUYER, {}, S.CANCELLED),
    ("dispute", S.IN_PROGRESS, BUYER, {"reason": "No progress at all"}, S.DISPUTED),
]


def _party(milestone, who):
    return milestone.order.buyer if who == BUYER else milestone.order.seller


def _other(who):
    return SELLER if who == BUYER else BUYER


@pytest.mark.parametrize(("path", "state", "who", "body", "after"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_each_action_by_its_party_moves_the_milestone(api_as, path, state, who, body, after):
    milestone = milestone_in(state)
    response = api_as(_party(milestone, who)).post(f"/api/v1/milestones/{milestone.pk}/{path}/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == after
    milestone.refresh_from_db()
    assert milestone.state == after


@pytest.mark.parametrize(("path", "state", "who", "body", "after"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_each_action_refused_to_everyone_else_changes_nothing(api_as, path, state, who, body, after):
    milestone = milestone_in(state)
    url = f"/api/v1/milestones/{milestone.pk}/{path}/"
    outsider = api_as(UserFactory())
    assert_problem(outsider.post(url, body, format="json"), 404)
    assert_problem(outsider.get(f"/api/v1/milestones/{milestone.pk}/"), 404)
    assert_problem(APIClient().post(url, body, format="json"), 401)
    assert_problem(api_as(_party(milestone, who), scope=ApiScope.READ).post(url, body, format="json"), 403)
    if path != "dispute":  # either party may dispute
        other = api_as(_party(milestone, _other(who))).post(url, body, format="json")
        assert other.status_code in (403, 409), other.content
        assert other["Content-Type"].startswith("application/problem+json")
    milestone.refresh_from_db()
    assert milestone.state == state


def test_a_second_approve_is_409_in_the_pages_words_and_pays_once(api_as, audit):
    milestone = milestone_in(S.IN_REVIEW)
    client = api_as(milestone.order.buyer)
    assert client.post(f"/api/v1/milestones/{milestone.pk}/approve/").status_code == 200
    body = assert_problem(client.post(f"/api/v1/milestones/{milestone.pk}/approve/"), 409)
    assert body["title"] == "Not possible in this state"
    assert Transaction.objects.filter(milestone=milestone, kind="release").count() == 1
    audit()


def test_bad_input_is_400_with_the_forms_field_errors_and_changes_nothing(api_as):
    milestone = milestone_in(S.IN_REVIEW)
    client = api_as(milestone.order.buyer)
    body = assert_problem(client.post(f"/api/v1/milestones/{milestone.pk}/request-revision/", {}, format="json"), 400)
    assert body["errors"] == {"feedback": ["This field is required."]}
    milestone.refresh_from_db()
    assert milestone.state == S.IN_REVIEW


def test_submit_takes_files_and_links_as_multipart(api_as):
    milestone = milestone_in(S.IN_PROGRESS)
    client = api_as(milestone.order.seller)
    upload = SimpleUploadedFile("notes.txt", b"The work, described.", content_type="text/plain")
    response = client.post(
        f"/api/v1/milestones/{milestone.pk}/submit/",
        {"message": "Here it is", "links": "https://example.com/a\nhttps://example.com/b", "files": [upload]},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    delivery = milestone.deliveries.get()
    assert delivery.links == ["https://example.com/a", "https://example.com/b"]
    assert [f.original_name for f in delivery.files.all()] == ["notes.txt"]


def test_submit_with_nothing_is_refused_in_the_services_words(api_as):
    milestone = milestone_in(S.IN_PROGRESS)
    response = api_as(milestone.order.seller).post(f"/api/v1/milestones/{milestone.pk}/submit/", {}, format="json")
    body = assert_problem(response, 400)
    assert "a file, a link or a message" in body["detail"]


def _terms(order, **extra):
    deadline = (timezone.now() + timedelta(days=10)).isoformat()
    return {
        "order": order.pk,
        "title": "Logo",
        "description": "Three drafts",
        "deadline": deadline,
        "amount": "50.00",
        **extra,
    }


def _fund(user, amount="200.00"):
    """Money on the buyer's balance, as a refund leaves it: a cancelled milestone."""
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=user), amount=amount)


def test_create_from_the_balance_funds_it_once_per_idempotency_key(api_as, audit):
    order = OrderFactory()
    _fund(order.buyer)
    client = api_as(order.buyer)
    first = client.post("/api/v1/milestones/", _terms(order), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    assert first.json()["state"] == S.AWAITING_ACCEPTANCE and first.json()["checkout_url"] is None
    again = client.post("/api/v1/milestones/", _terms(order), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Milestone.objects.filter(order=order).count() == 1
    # 200 and its 11.00 fee refunded, less 50 and its 2.75 fee.
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer).amount == Decimal("158.25")
    audit()


def test_the_same_key_from_another_buyer_is_another_milestone(api_as):
    first, second = OrderFactory(), OrderFactory()
    for order in (first, second):
        _fund(order.buyer)
        response = api_as(order.buyer).post(
            "/api/v1/milestones/", _terms(order), format="json", HTTP_IDEMPOTENCY_KEY="same"
        )
        assert response.status_code == 201
        assert response.json()["order"] == order.pk


def test_create_by_card_answers_with_the_hosted_checkout(api_as):
    order = OrderFactory()
    response = api_as(order.buyer).post("/api/v1/milestones/", _terms(order, pay_with="card"), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["state"] == S.AWAITING_PAYMENT
    assert "/sandbox/" in response.json()["checkout_url"]


def test_create_reports_every_bad_field_and_creates_nothing(api_as):
    order = OrderFactory()
    response = api_as(order.buyer).post(
        "/api/v1/milestones/", _terms(order, title="", amount="-5", pay_with="cash"), format="json"
    )
    body = assert_problem(response, 400)
    assert {"title", "amount", "pay_with"} <= body["errors"].keys()
    assert not Milestone.objects.filter(order=order).exists()


def test_only_the_buyer_creates_and_an_outsider_gets_404(api_as):
    order = OrderFactory()
    assert_problem(
        api_as(order.seller).post("/api/v1/milestones/", _terms(order), format="json"), 403, "Only the buyer"
    )
    assert_problem(api_as(UserFactory()).post("/api/v1/milestones/", _terms(order), format="json"), 404)
    assert_problem(api_as(order.buyer, scope="read").post("/api/v1/milestones/", _terms(order), format="json"), 403)


def test_not_enough_balance_is_refused_and_nothing_is_created(api_as):
    order = OrderFactory()
    response = api_as(order.buyer).post("/api/v1/milestones/", _terms(order), format="json")
    assert response.status_code in (400, 402), response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert not Milestone.objects.filter(order=order).exists()


def test_the_list_shows_only_the_callers_milestones_and_filters(api_as):
    mine = milestone_in(S.IN_PROGRESS)
    milestone_in(S.IN_PROGRESS)  # someone else's
    client = api_as(mine.order.buyer)
    assert [m["id"] for m in client.get("/api/v1/milestones/").json()["results"]] == [mine.pk]
    assert client.get(f"/api/v1/milestones/?state={S.APPROVED}").json()["results"] == []
    assert [m["id"] for m in client.get(f"/api/v1/milestones/?order={mine.order_id}").json()["results"]] == [mine.pk]
    detail = client.get(f"/api/v1/milestones/{mine.pk}/").json()
    assert detail["amount"] == {"amount": "100.00", "currency": "USD"}


def test_a_retried_approve_with_its_idempotency_key_gets_the_first_answer_and_pays_once(api_as, audit):
    milestone = milestone_in(S.IN_REVIEW)
    client = api_as(milestone.order.buyer)
    url = f"/api/v1/milestones/{milestone.pk}/approve/"
    first = client.post(url, HTTP_IDEMPOTENCY_KEY="approve-1")
    retry = client.post(url, HTTP_IDEMPOTENCY_KEY="approve-1")
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and retry["Idempotent-Replayed"] == "true"
    assert_problem(client.post(url, HTTP_IDEMPOTENCY_KEY="approve-2"), 409)
    # Another caller's same key is not theirs to replay.
    assert_problem(api_as(UserFactory()).post(url, HTTP_IDEMPOTENCY_KEY="approve-1"), 404)
    assert Transaction.objects.filter(milestone=milestone, kind="release").count() == 1
    audit()
