"""Redis stopped (our own throwaway server): pages and transitions still answer and
commit, /healthz says the broker is down, and the sweeps catch up once it is back."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django.urls import reverse
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from milestones.models import Milestone, MilestoneState
from notifications.models import Notification
from payments.models import Earning, Withdrawal, WithdrawalStatus
from payments.services import withdrawal_request
from tests.celery.conftest import wait_until
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]
# Not a benchmark: a bound on a hang. A request that waits on a dead broker
# (connection retries, publish retries) takes many seconds; a healthy one, milliseconds.
HANG = 2.0


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_with_redis_down_pages_and_approve_answer_and_the_sweeps_catch_up_after(broker, worker_factory, client, audit):
    milestone = milestone_in(S.IN_REVIEW)
    order = milestone.order
    payee = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT)
    milestone_in(S.APPROVED, order=OrderFactory(seller=payee))
    client.force_login(order.buyer)

    broker.stop()

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["down"] == ["broker"]
    assert health.json()["database"] == "ok"
    assert health.json()["broker"].startswith("down")

    page, elapsed = timed(lambda: client.get(reverse("order_detail", args=[order.pk])))
    assert page.status_code == 200
    assert elapsed < HANG

    approve, elapsed = timed(lambda: client.post(reverse("milestone_approve", args=[milestone.pk])))
    assert approve.status_code == 302
    assert elapsed < HANG
    assert Milestone.objects.get(pk=milestone.pk).state == S.APPROVED
    assert Earning.objects.filter(milestone=milestone).exists()
    seller_notice = Notification.objects.get(recipient=order.seller, event="milestone_approved")
    assert seller_notice.emailed_at is None

    # A withdrawal asked for while the broker is away waits in the database.
    withdrawal, elapsed = timed(
        lambda: withdrawal_request(seller=payee, amount=Money(Decimal("10.00"), "USD"), key="while-down")
    )
    assert elapsed < HANG
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.REQUESTED

    broker.start()  # empty: whatever was queued before the outage is gone too
    assert client.get("/healthz").status_code == 200
    # The e-mail catch-up leaves a notification a minute for its own task; let that minute pass.
    Notification.objects.filter(emailed_at__isnull=True).update(created_at=F("created_at") - timedelta(minutes=2))

    worker_factory(beat=True)
    wait_until(
        lambda: Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.PAID,
        timeout=45,
        what="the withdrawal sweep to pay out",
    )
    wait_until(
        lambda: not Notification.objects.filter(emailed_at__isnull=True).exists(),
        timeout=45,
        what="the e-mail sweep to send what the outage left",
    )
    seller_notice.refresh_from_db()
    assert seller_notice.emailed_at is not None
    audit()
