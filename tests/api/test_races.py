"""Real threads against PostgreSQL: approvals through the API pay once, however many arrive."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from api.models import ApiScope
from api.services import api_token_create
from milestones.models import Milestone
from milestones.models import MilestoneState as S
from payments.models import AccountKind, Earning, Transaction
from tests.api.conftest import bearer
from tests.concurrency import run_together
from tests.factories import milestone_in
from tests.services.ledger_checks import balance

pytestmark = pytest.mark.django_db(transaction=True)


def _approve_by_api(secret: str, pk: int):
    return lambda: bearer(secret).post(f"/api/v1/milestones/{pk}/approve/").status_code


def _paid_once(milestone: Milestone) -> None:
    assert Earning.objects.filter(milestone=milestone).count() == 1
    assert Transaction.objects.filter(milestone=milestone, kind="release").count() == 1
    assert balance(AccountKind.SELLER_PENDING, user=milestone.order.seller).amount == 80
    milestone.refresh_from_db()
    assert milestone.state == S.APPROVED


def test_twenty_api_approvals_at_once_pay_once(audit):
    milestone = milestone_in(S.IN_REVIEW)
    _token, secret = api_token_create(user=milestone.order.buyer, name="board", scope=ApiScope.READ_WRITE)
    codes = run_together(*[_approve_by_api(secret, milestone.pk) for _ in range(20)])
    assert sorted(codes) == [200] + [409] * 19, codes
    _paid_once(milestone)
    audit()


def test_an_api_approval_and_a_page_approval_at_once_pay_once(audit):
    milestone = milestone_in(S.IN_REVIEW)
    buyer = milestone.order.buyer
    _token, secret = api_token_create(user=buyer, name="board", scope=ApiScope.READ_WRITE)
    page = Client()
    page.force_login(buyer)
    url = reverse("milestone_approve", args=[milestone.pk])

    def by_page():
        return page.post(url, {}).status_code

    api_code, page_code = run_together(_approve_by_api(secret, milestone.pk), by_page)
    assert api_code in (200, 409) and page_code == 302, (api_code, page_code)
    _paid_once(milestone)
    audit()
