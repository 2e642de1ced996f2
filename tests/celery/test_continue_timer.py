"""The continue timer of an ordered package (issue 35), run by a real worker with beat against the
private Redis, its period shortened to seconds for the test and the worker: after the first step is
approved and the buyer does nothing, they are reminded, then the order stops: the planned steps are
cancelled with no money moved and the order completes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from milestones.models import Milestone, MilestoneState
from milestones.services.lifecycle import milestone_accept, milestone_approve, milestone_submit
from notifications.models import Notification
from orders.models import Order, OrderStatus
from payments.models import Transaction
from tests.celery.conftest import wait_until
from tests.factories import CARD, package_order, packaged_gig

S = MilestoneState
pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_reminds_then_stops_an_order_not_continued(worker_factory, settings, audit):
    settings.CONTINUE_PERIOD = timedelta(seconds=8)
    settings.CONTINUE_REMINDERS = [timedelta(seconds=5)]
    gig, package = packaged_gig()
    order = package_order(gig, package, source=CARD)
    first = milestone_accept(
        milestone=Milestone.objects.filter(order=order).order_by("position")[0], actor=order.seller
    )
    milestone_submit(milestone=first, actor=order.seller, message="Done.")

    worker_factory(beat=True, env={"CONTINUE_PERIOD": "8s", "CONTINUE_REMINDERS": "5s"})
    # Approved once the worker runs: the reminder is due 3 s later, the stop 8 s later.
    milestone_approve(milestone=Milestone.objects.get(pk=first.pk), actor=order.buyer)
    transactions = Transaction.objects.count()

    wait_until(
        lambda: Notification.objects.filter(recipient=order.buyer, event="continue_reminder").exists(),
        timeout=45,
        what="the continue reminder",
    )
    wait_until(
        lambda: Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED, timeout=45, what="the order to stop"
    )
    states = list(Milestone.objects.filter(order=order).order_by("position").values_list("state", flat=True))
    assert states == [S.APPROVED, S.CANCELLED, S.CANCELLED]
    assert Transaction.objects.count() == transactions
    assert Notification.objects.filter(recipient=order.buyer, event="continue_reminder").count() == 1
    reminder = Notification.objects.get(recipient=order.buyer, event="continue_reminder")
    stopped = Notification.objects.get(recipient=order.buyer, event="order_stopped")
    assert reminder.created_at < stopped.created_at
    audit()
