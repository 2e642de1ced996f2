"""Money leaving through the provider: refunds to card and payouts, as command
rows executed after commit; retries with backoff, staff's retry and give-up,
reconciliation, and the rule that no provider call happens in a transaction."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.errors import InvalidInput
from milestones.models import MilestoneState
from milestones.services.completion import order_complete
from milestones.services.disputes import dispute_resolve
from milestones.services.lifecycle import (
    milestone_accept,
    milestone_approve,
    milestone_cancel,
    milestone_decline,
    milestone_submit,
)
from milestones.sweeps import sweep_checkouts
from payments.models import (
    AccountKind,
    Checkout,
    CheckoutStatus,
    CommandKind,
    CommandStatus,
    ProviderCommand,
    Withdrawal,
)
from payments.outbox import backoff, command_execute, command_give_up, command_retry
from payments.providers import ProviderInTransaction, ProviderResult, ProviderUnavailable, get_provider
from payments.services import withdrawal_request
from payments.sweeps import sweep_outbox
from sandbox.models import SandboxOperation, SandboxSession
from sandbox.provider import SandboxProvider
from tests.factories import BALANCE, OrderFactory, UserFactory, create_milestone, milestone_in
from tests.services.ledger_checks import assert_money_conserved, balance
from tests.sql import triggers_off

S = MilestoneState
pytestmark = pytest.mark.django_db


def usd(value: str) -> Money:
    return Money(Decimal(value), "USD")


# --- refunds: the buyer chooses ------------------------------------------------------------


def test_cancel_refunds_to_the_card_through_the_outbox(order, audit):
    milestone = create_milestone(order, amount="100.00")
    milestone_cancel(milestone=milestone, actor=order.buyer, refund_to="card")
    command = ProviderCommand.objects.get(kind=CommandKind.REFUND)
    assert command.amount == usd("105.50"), "the amount and the service fee"
    assert command.payment_reference == Checkout.objects.get(milestone=milestone).payment_reference
    assert balance(AccountKind.CARD_REFUNDS) == usd("105.50")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("0")
    assert not SandboxOperation.objects.filter(kind="refund").exists(), "nothing called before commit"

    assert command_execute(command_id=command.pk).outcome == "succeeded"
    refund = SandboxOperation.objects.get(kind="refund")
    assert refund.amount == usd("105.50") and refund.idempotency_key == command.idempotency_key
    assert balance(AccountKind.CARD_REFUNDS) == usd("0")
    assert command_execute(command_id=command.pk).outcome == "not due", "a repeated task does nothing"
    audit()
    assert_money_conserved()


def test_cancel_refunds_to_the_balance_by_default(order, audit):
    milestone = create_milestone(order, amount="100.00")
    milestone_cancel(milestone=milestone, actor=order.buyer)
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("105.50")
    assert not ProviderCommand.objects.exists()
    audit()


def test_a_milestone_paid_from_the_balance_cannot_be_refunded_to_a_card(order, audit):
    first = create_milestone(order, amount="100.00")
    milestone_cancel(milestone=first, actor=order.buyer)
    second = create_milestone(order, amount="100.00", source=BALANCE)
    with pytest.raises(InvalidInput, match="paid from your balance"):
        milestone_cancel(milestone=second, actor=order.buyer, refund_to="card")
    second.refresh_from_db()
    assert second.state == S.AWAITING_ACCEPTANCE
    audit()


def test_a_decline_follows_the_buyers_refund_preference(order, audit):
    order.buyer.refund_to = "card"
    order.buyer.save(update_fields=["refund_to"])
    milestone = create_milestone(order, amount="40.00")
    milestone_decline(milestone=milestone, actor=order.seller, reason="Fully booked")
    assert ProviderCommand.objects.get(kind=CommandKind.REFUND).amount == usd("42.20")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("0")
    audit()


def test_a_dispute_split_refunds_the_buyers_share_and_fee_share_to_the_card(order, staff, audit):
    order.buyer.refund_to = "card"
    order.buyer.save(update_fields=["refund_to"])
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00")
    dispute_resolve(dispute=milestone.dispute, actor=staff, outcome="split", seller_amount=usd("30.00"))
    command = ProviderCommand.objects.get(kind=CommandKind.REFUND)
    assert command.amount == usd("73.85"), "70.00 and 70% of the 5.50 fee"
    sweep_outbox()
    assert SandboxOperation.objects.get(kind="refund").amount == usd("73.85")
    audit()
    assert_money_conserved()


def test_a_refund_the_card_cannot_take_lands_in_the_balance(order, audit, monkeypatch):
    """The provider knows the payment but the card cannot take money back (closed, say):
    the buyer keeps the money as balance, and is told."""
    milestone = create_milestone(order, amount="100.00")
    milestone_cancel(milestone=milestone, actor=order.buyer, refund_to="card")
    command = ProviderCommand.objects.get()
    monkeypatch.setattr(
        SandboxProvider,
        "refund",
        lambda self, **kw: ProviderResult(ok=False, reference="", failure_code="expired_or_canceled_card"),
    )
    assert command_execute(command_id=command.pk).outcome == "failed"
    command.refresh_from_db()
    assert command.status == CommandStatus.FAILED and command.failure_code == "expired_or_canceled_card"
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("105.50")
    assert balance(AccountKind.CARD_REFUNDS) == usd("0")
    audit()


def test_a_refund_of_a_payment_the_provider_does_not_know_waits_for_staff(order, staff, audit):
    """Regression: a refund refused as "No such payment" used to become spendable balance,
    so a forged payment ended as money. Now it waits in the stuck list with the reason,
    the money still set aside, until staff decide."""
    milestone = create_milestone(order, amount="100.00")
    milestone_cancel(milestone=milestone, actor=order.buyer, refund_to="card")
    command = ProviderCommand.objects.get()
    # The provider no longer knows the payment (our command's target is frozen by a trigger).
    SandboxSession.objects.filter(payment_reference=command.payment_reference).update(payment_reference="pi_gone")
    assert command_execute(command_id=command.pk).outcome == "stuck"
    command.refresh_from_db()
    assert command.status == CommandStatus.STUCK and command.failure_code == "resource_missing"
    assert "No such payment" in command.last_error and "staff" not in command.last_error.lower()[:10]
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("0")
    assert balance(AccountKind.CARD_REFUNDS) == usd("105.50")
    assert sweep_outbox().done == 0  # not retried by itself
    audit()
    # Staff checked the provider and give up: only then is it the buyer's balance.
    assert command_give_up(command_id=command.pk, actor=staff, reason="payment confirmed at the bank")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("105.50")
    audit()


# --- retries, backoff, staff ----------------------------------------------------------------------


def _withdrawal(amount: str = "50.00") -> Withdrawal:
    seller = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT)
    milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
    return withdrawal_request(seller=seller, amount=usd(amount), key=f"w-{seller.pk}")


def test_a_provider_that_does_not_answer_is_retried_with_backoff_then_waits_for_staff(settings, monkeypatch, audit):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    withdrawal = _withdrawal()
    command = ProviderCommand.objects.get(withdrawal=withdrawal)

    def down(self, **kwargs):
        raise ProviderUnavailable("connection refused")

    monkeypatch.setattr(SandboxProvider, "payout", down)
    now = timezone.now()
    assert command_execute(command_id=command.pk, now=now).outcome == "retry"
    command.refresh_from_db()
    assert command.next_attempt_at == now + backoff(1) and "connection refused" in command.last_error
    assert command_execute(command_id=command.pk, now=now).outcome == "not due", "not before the backoff"
    now = command.next_attempt_at
    assert command_execute(command_id=command.pk, now=now).outcome == "retry"
    command.refresh_from_db()
    assert command.next_attempt_at == now + backoff(2) and backoff(2) == 2 * backoff(1)
    assert command_execute(command_id=command.pk, now=command.next_attempt_at).outcome == "stuck"
    command.refresh_from_db()
    assert command.status == CommandStatus.STUCK and command.attempts == 3
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "requested", "the money stays set aside"

    monkeypatch.undo()
    staff = UserFactory(is_staff=True)
    assert command_retry(command_id=command.pk, actor=staff)
    assert command_execute(command_id=command.pk).outcome == "succeeded"
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "paid"
    assert SandboxOperation.objects.filter(kind="payout").count() == 1
    audit()


def test_staff_giving_up_a_stuck_payout_returns_the_money_to_available(audit):
    withdrawal = _withdrawal()
    ProviderCommand.objects.filter(withdrawal=withdrawal).update(status=CommandStatus.STUCK)
    command = ProviderCommand.objects.get(withdrawal=withdrawal)
    assert command_give_up(command_id=command.pk, actor=UserFactory(is_staff=True), reason="bank closed")
    withdrawal.refresh_from_db()
    assert withdrawal.status == "failed"
    assert balance(AccountKind.SELLER_AVAILABLE, user=withdrawal.seller) == usd("80.00")
    assert not command_give_up(command_id=command.pk, actor=UserFactory(is_staff=True), reason="again")
    audit()


def test_the_admin_lists_stuck_commands_and_retries_them(admin_client, audit):
    withdrawal = _withdrawal()
    ProviderCommand.objects.filter(withdrawal=withdrawal).update(status=CommandStatus.STUCK, last_error="timeout")
    command = ProviderCommand.objects.get(withdrawal=withdrawal)
    listing = admin_client.get("/admin/payments/providercommand/?status__exact=stuck")
    assert listing.status_code == 200 and "timeout" in listing.content.decode()
    response = admin_client.post(
        "/admin/payments/providercommand/", {"action": "retry", "_selected_action": [command.pk]}, follow=True
    )
    assert "1 command(s) sent again." in response.content.decode()
    assert ProviderCommand.objects.get(pk=command.pk).status == CommandStatus.PENDING
    assert admin_client.get(f"/admin/payments/providercommand/{command.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/payments/providercommand/{command.pk}/delete/").status_code == 403


# --- no provider call inside a transaction -----------------------------------------------------------


def test_the_provider_refuses_to_be_called_inside_a_transaction(order):
    provider = get_provider()
    with transaction.atomic(), pytest.raises(ProviderInTransaction):
        provider.refund(amount=usd("1.00"), payment_reference="pi_x", idempotency_key="k")
    assert not connection.needs_rollback


# --- expiry -------------------------------------------------------------------------------------------------


def test_an_unpaid_checkout_expires_after_checkout_expiry_with_no_money_moved(order, settings, audit):
    settings.CHECKOUT_EXPIRY = timedelta(hours=2)
    milestone = create_milestone(order, pay=False)
    checkout = Checkout.objects.get(milestone=milestone)
    assert timedelta(hours=1, minutes=59) < checkout.expires_at - timezone.now() <= timedelta(hours=2)
    assert sweep_checkouts(now=checkout.expires_at - timedelta(seconds=1)).as_dict()["done"] == 0
    assert sweep_checkouts(now=checkout.expires_at).as_dict()["done"] == 1
    milestone.refresh_from_db()
    checkout.refresh_from_db()
    assert milestone.state == S.PAYMENT_EXPIRED and checkout.status == CheckoutStatus.EXPIRED
    assert not milestone.ledger_transactions.exists()
    audit()


def test_an_unpaid_milestone_blocks_neither_the_queue_nor_counts_in_totals_but_blocks_completion(order, audit):
    unpaid = create_milestone(order, title="Unpaid", pay=False)
    funded = create_milestone(order, title="Funded")
    started = milestone_accept(milestone=funded, actor=order.seller)
    assert started.state == S.IN_PROGRESS, "an unpaid milestone does not hold the line"
    from marketplace.errors import InvalidTransition

    milestone_submit(milestone=started, actor=order.seller, message="Done")
    milestone_approve(milestone=started, actor=order.buyer)
    with pytest.raises(InvalidTransition, match="waiting for payment"):
        order_complete(order=order, actor=order.buyer)
    assert unpaid.state == S.AWAITING_PAYMENT
    audit()


# --- reconciliation ---------------------------------------------------------------------------------------


def test_reconcile_is_quiet_when_the_provider_and_the_ledger_agree(order, audit):
    milestone = create_milestone(order, amount="100.00")
    milestone_cancel(milestone=milestone, actor=order.buyer, refund_to="card")
    sweep_outbox()
    withdrawal = _withdrawal()
    sweep_outbox()
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "paid"
    out = StringIO()
    call_command("payments_reconcile", stdout=out)
    assert "OK: 4 movements" in out.getvalue()  # two charges, one refund, one payout


def test_reconcile_lists_a_planted_mismatch_and_exits_1(order):
    create_milestone(order, amount="100.00")
    withdrawal = _withdrawal()
    sweep_outbox()
    command = ProviderCommand.objects.get(withdrawal=withdrawal)
    # Planted in SQL, as a bad deploy or a hand edit would: the provider paid 50.00, we now say 5.00,
    # and a charge the provider made is missing from our records.
    # The owner role can switch the triggers off; that is what reconciliation is for.
    with triggers_off() as cursor:
        cursor.execute("UPDATE payments_providercommand SET amount = 5.00 WHERE id = %s", [command.pk])
        cursor.execute("UPDATE payments_checkout SET payment_reference = 'pi_forged' WHERE milestone_id IS NOT NULL")
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("payments_reconcile", stderr=err)
    assert failure.value.returncode == 1
    lines = err.getvalue()
    assert f"payout {command.provider_reference}: US$50.00 at sandbox but US$5.00 in ours" in lines
    assert "pi_forged" in lines and "unknown to sandbox" in lines
    assert "not in our records" in lines
    assert SandboxSession.objects.exists()


def test_reconcile_skips_the_provider_history_copied_at_the_upgrade_and_still_finds_a_new_mismatch(order):
    """An upgraded database holds the first layout's sandbox operations (sandbox 0001 copies
    them, 0005 marks them ``imported``) with nothing of ours behind them: skipped and counted,
    not listed. A history record ours does name is still compared, and so is what comes after."""
    create_milestone(order, amount="100.00")  # a card charge the ledger knows
    SandboxOperation.objects.update(imported=True)
    for n in (1, 2):
        SandboxOperation.objects.create(
            idempotency_key=f"old-layout-{n}",
            kind="charge",
            amount=usd("40.00"),
            succeeded=True,
            reference=f"pi_old_layout_{n}",
            imported=True,
        )
    out = StringIO()
    call_command("payments_reconcile", stdout=out)
    assert out.getvalue().splitlines() == [
        "OK: 1 movements match the provider's records.",
        "2 of the provider's records skipped as history"
        " (copied at the upgrade from the first layout, before our records began).",
    ]

    # A charge made after the upgrade with no checkout of ours: the one mismatch.
    SandboxOperation.objects.create(
        idempotency_key="after-the-upgrade", kind="charge", amount=usd("12.00"), succeeded=True, reference="pi_new"
    )
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("payments_reconcile", stderr=err)
    assert failure.value.returncode == 1
    assert err.getvalue().splitlines() == [
        "charge pi_new: US$12.00 at sandbox, not in our records",
        "2 of the provider's records skipped as history"
        " (copied at the upgrade from the first layout, before our records began).",
    ]


def test_reconcile_compares_a_history_record_that_our_records_name(order):
    milestone = create_milestone(order, amount="100.00")
    SandboxOperation.objects.update(imported=True)
    with triggers_off() as cursor:
        cursor.execute("UPDATE payments_checkout SET amount = 90.00 WHERE milestone_id = %s", [milestone.pk])
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("payments_reconcile", stderr=err)
    assert "at sandbox but US$90.00 in ours" in err.getvalue()
    assert "skipped as history" not in err.getvalue()


def test_the_ledger_audit_finds_a_refund_to_card_whose_command_was_lost(order, audit):
    """Planted in SQL: the refund's money sits in the card-refunds account, its command is gone."""
    from payments.audit import ledger_audit

    milestone = create_milestone(order, amount="100.00")
    milestone_cancel(milestone=milestone, actor=order.buyer, refund_to="card")
    audit()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE payments_providercommand SET status = 'succeeded' WHERE kind = 'refund'")
    report = ledger_audit()
    assert not report.ok
    assert any("refunds to card are waiting" in breach and "105.50" in breach for breach in report.breaches)
