"""Money crossing to the provider, with a real worker against (private) Redis:
the sandbox's signed webhook delivered over HTTP funds a milestone, and a
worker killed with a payout in flight loses nothing and pays nothing twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from milestones.models import Milestone, MilestoneState
from payments.models import CommandStatus, ProviderCommand, Transaction, TransactionKind, WebhookEvent, Withdrawal
from payments.services import withdrawal_request
from sandbox.models import SandboxEvent, SandboxOperation
from sandbox.services import session_pay
from tests.celery.conftest import wait_until
from tests.factories import OrderFactory, UserFactory, create_milestone, milestone_in, open_checkout

S = MilestoneState
pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_the_sandbox_webhook_reaches_the_endpoint_through_celery_and_funds_the_milestone(
    worker_factory, live_server, audit
):
    milestone = create_milestone(OrderFactory(), pay=False)
    checkout = open_checkout(milestone)
    worker_factory()
    # The buyer pays on the sandbox's page; only the webhook (no return page) funds it.
    session_pay(
        session_id=checkout.session_id,
        card_number="4242424242424242",
        webhook_url=f"{live_server.url}/payments/webhooks/sandbox/",
    )
    wait_until(
        lambda: Milestone.objects.get(pk=milestone.pk).state == S.AWAITING_ACCEPTANCE,
        timeout=30,
        what="the webhook to fund the milestone",
    )
    event = SandboxEvent.objects.get(type="checkout.session.completed")
    wait_until(lambda: SandboxEvent.objects.get(pk=event.pk).delivered_at, timeout=10, what="the 200 to be recorded")
    event.refresh_from_db()
    assert event.last_status == "200"
    stored = WebhookEvent.objects.get(event_id=event.event_id)
    assert stored.outcome == "funded"
    assert Transaction.objects.filter(kind=TransactionKind.FUND, milestone=milestone).count() == 1
    audit()


@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_worker_killed_with_a_payout_in_flight_pays_once_after_the_lease(worker_factory, settings, moment, audit):
    """Killed after the commit and before the provider call ("before"), or after
    the provider paid and before the answer was recorded ("after"): the sweep
    takes the command again once its lease runs out, with the same key."""
    seller = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT)
    milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
    lease = {"OUTBOX_LEASE_SECONDS": "3"}
    doomed = worker_factory(env={"MK_TEST_PAYOUT_PAUSE": moment, "MK_TEST_PAUSE_SECONDS": "60", **lease})

    withdrawal = withdrawal_request(seller=seller, amount=Money(Decimal("50.00"), "USD"), key="w-kill")
    command = ProviderCommand.objects.get(withdrawal=withdrawal)
    wait_until(lambda: "pausing" in doomed.output(), timeout=30, what="the worker to take the payout")
    if moment == "after":
        wait_until(lambda: "the provider answered" in doomed.output(), timeout=30, what="the provider to pay")
        assert SandboxOperation.objects.filter(kind="payout").count() == 1
    else:
        assert not SandboxOperation.objects.filter(kind="payout").exists()
    doomed.kill()
    command.refresh_from_db()
    assert command.status == CommandStatus.PENDING and command.attempts == 1
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "requested"

    # A new worker with beat: the outbox sweep finds the command once its lease is over.
    worker_factory(beat=True, env=lease)
    wait_until(
        lambda: Withdrawal.objects.get(pk=withdrawal.pk).status == "paid", timeout=45, what="the payout to be recorded"
    )
    command.refresh_from_db()
    assert command.status == CommandStatus.SUCCEEDED and command.attempts == 2
    payouts = SandboxOperation.objects.filter(kind="payout")
    assert payouts.count() == 1, "the provider paid once"
    assert command.provider_reference == payouts.get().reference
    assert Transaction.objects.filter(kind=TransactionKind.WITHDRAWAL_PAID).count() == 1
    audit()


def test_a_webhook_lost_with_a_killed_worker_is_sent_again_by_the_sweep(worker_factory, live_server, settings, audit):
    """Regression: a worker killed mid-delivery left the event unacknowledged in Redis for
    the broker's hour, and only the buyer's return page saved the payment. Now the event
    carries when it is due again, and beat's sweep sends it on the retry schedule."""
    schedule = {"SANDBOX_WEBHOOK_RETRY_SCHEDULE": "2s,2s,2s"}
    settings.SANDBOX_WEBHOOK_RETRY_SCHEDULE = [timedelta(seconds=2)] * 3
    milestone = create_milestone(OrderFactory(), pay=False)
    checkout = open_checkout(milestone)
    doomed = worker_factory(env={"MK_TEST_WEBHOOK_PAUSE": "60", **schedule})
    session_pay(
        session_id=checkout.session_id,
        card_number="4242424242424242",
        webhook_url=f"{live_server.url}/payments/webhooks/sandbox/",
    )
    wait_until(lambda: "webhook: pausing" in doomed.output(), timeout=30, what="the worker to take the delivery")
    doomed.kill()
    event = SandboxEvent.objects.get(type="checkout.session.completed")
    assert event.delivered_at is None and event.attempts == 0
    assert Milestone.objects.get(pk=milestone.pk).state == S.AWAITING_PAYMENT

    worker_factory(beat=True, env=schedule)
    wait_until(
        lambda: Milestone.objects.get(pk=milestone.pk).state == S.AWAITING_ACCEPTANCE,
        timeout=45,
        what="the sweep to send the webhook again",
    )
    wait_until(lambda: SandboxEvent.objects.get(pk=event.pk).delivered_at, timeout=10, what="the 200 to be recorded")
    event.refresh_from_db()
    assert event.attempts == 1 and event.last_status == "200" and event.next_attempt_at is None
    assert WebhookEvent.objects.get(event_id=event.event_id).outcome == "funded"
    audit()
