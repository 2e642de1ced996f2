"""Receipts: one numbered, itemised page per funding, refund, earning and
payout, for the party it is about only; linked from the order and earnings
pages; the order page's query count does not grow with its milestones."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.money import format_money
from milestones.models import MilestoneState
from milestones.services.disputes import dispute_resolve
from milestones.services.lifecycle import milestone_cancel
from payments.models import Checkout, CommandStatus, Earning, ProviderCommand, Transaction, TransactionKind
from payments.outbox import command_execute
from payments.receipts import mask_destination, receipt_for, receipt_number, receipts_for_milestone
from payments.services import withdrawal_process, withdrawal_request
from tests.factories import (
    BALANCE,
    OrderFactory,
    StaffFactory,
    UserFactory,
    create_milestone,
    milestone_in,
    staff_login,
)

S = MilestoneState
K = TransactionKind
pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def txn(milestone, kind: str) -> Transaction:
    return Transaction.objects.get(milestone=milestone, kind=kind)


def receipt_page(client, user, transaction: Transaction, query: str = ""):
    client.force_login(user)
    return client.get(reverse("receipt", args=[transaction.pk]) + query)


def m(value: str, currency: str = "USD") -> str:
    return format_money(Money(value, currency))


# --- funding ------------------------------------------------------------------------


def test_buyer_sees_the_funding_receipt_itemised(client, order, buyer, audit):
    milestone = create_milestone(order, amount="100.00", title="Wireframes")
    funding = txn(milestone, K.FUND)
    response = receipt_page(client, buyer, funding)
    assert response.status_code == 200
    html = text(response)
    number = receipt_number(funding.pk)
    assert number == f"R-{funding.pk:08d}"
    assert f"Receipt {number}" in html
    assert "Milestone Marketplace" in html
    assert "Milestone amount, held in escrow" in html and m("100.00") in html
    assert "Service fee" in html and format_money(milestone.buyer_fee) in html
    assert "Total charged" in html and format_money(milestone.total_charged) in html
    reference = Checkout.objects.get(milestone=milestone).payment_reference
    assert reference and reference in html
    assert "Card" in html
    assert order.title in html and "Wireframes" in html
    # Printable: a Print button for the JS hook, no inline script (CSP).
    assert "data-print" in html and "<script>" not in html
    audit()


def test_a_balance_funding_says_so(client, order, buyer):
    milestone_in(S.CANCELLED, order=order, amount="100.00")  # 100 + fee back in the buyer's balance
    milestone = create_milestone(order, amount="50.00", source=BALANCE, title="From balance")
    receipt = receipt_for(buyer, txn(milestone, K.FUND).pk)
    assert receipt.total.amount == milestone.total_charged
    details = {d.label: d.value for d in receipt.details}
    assert details["Paid from"] == "Your balance" and "Payment reference" not in details


def test_seller_outsider_and_missing_get_404_on_the_buyers_funding_receipt(client, order, seller, outsider):
    funding = txn(create_milestone(order), K.FUND)
    assert receipt_page(client, seller, funding).status_code == 404
    assert receipt_page(client, outsider, funding).status_code == 404
    client.force_login(outsider)
    assert client.get(reverse("receipt", args=[987654321])).status_code == 404


def test_anonymous_goes_to_login_and_post_is_refused(client, order, buyer):
    funding = txn(create_milestone(order), K.FUND)
    url = reverse("receipt", args=[funding.pk])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(buyer)
    assert client.post(url).status_code == 405


def test_staff_need_the_ledger_permission(client, order):
    funding = txn(create_milestone(order), K.FUND)
    superuser = StaffFactory()
    assert receipt_page(client, superuser, funding).status_code == 200
    plain_staff = UserFactory(username="staff_without_perm", is_staff=True)
    assert receipt_page(client, plain_staff, funding).status_code == 404
    plain_staff.user_permissions.add(Permission.objects.get(codename="view_transaction"))
    plain_staff = type(plain_staff).objects.get(pk=plain_staff.pk)  # the permission cache is per instance
    assert receipt_page(client, plain_staff, funding).status_code == 200


def test_a_transaction_with_no_receipt_is_404(client, buyer, seller, order):
    milestone = milestone_in(S.APPROVED, order=order)
    earning = Earning.objects.get(milestone=milestone)
    from payments.services import earning_clear

    earning_clear(earning_id=earning.pk, now=earning.clears_at)
    clear = txn(milestone, K.CLEAR)
    assert receipt_page(client, seller, clear).status_code == 404


# --- release, refund, split ----------------------------------------------------------------


def test_seller_release_receipt_shows_commission_and_net(client, order, buyer, seller, audit):
    milestone = milestone_in(S.APPROVED, order=order, amount="100.00")
    earning = Earning.objects.get(milestone=milestone)
    release = txn(milestone, K.RELEASE)
    html = text(receipt_page(client, seller, release))
    assert "Released to you (gross)" in html and m("100.00") in html
    assert "Platform commission" in html and format_money(earning.fee) in html
    assert "Net earning" in html and format_money(earning.net) in html
    assert receipt_page(client, buyer, release).status_code == 404
    audit()


def test_cancelled_milestone_has_a_refund_receipt_with_the_fee_returned(client, order, buyer, seller, audit):
    milestone = create_milestone(order, amount="100.00")
    milestone_cancel(milestone=milestone, actor=buyer)
    milestone.refresh_from_db()
    refund = txn(milestone, K.REFUND)
    response = receipt_page(client, buyer, refund)
    assert response.status_code == 200
    html = text(response)
    assert "Milestone amount returned" in html and format_money(milestone.amount) in html
    assert "Service fee returned" in html and format_money(milestone.buyer_fee) in html
    assert "Total refunded" in html and format_money(milestone.total_charged) in html
    assert "Your balance" in html
    assert receipt_page(client, seller, refund).status_code == 404
    audit()


def test_a_refund_to_card_shows_the_refund_on_its_way_then_its_reference(client, order, buyer, audit):
    milestone = create_milestone(order)
    milestone_cancel(milestone=milestone, actor=buyer, refund_to="card")
    refund = txn(milestone, K.REFUND)
    assert "On its way to your card" in text(receipt_page(client, buyer, refund))
    command = ProviderCommand.objects.get(milestone=milestone, kind="refund")
    assert command_execute(command_id=command.pk).settled
    command.refresh_from_db()
    assert command.status == CommandStatus.SUCCEEDED and command.provider_reference
    html = text(receipt_page(client, buyer, refund))
    assert f"Refunded to card, ref {command.provider_reference}" in html
    # The provider's refund has its own receipt.
    paid = txn(milestone, K.CARD_REFUND_PAID)
    html = text(receipt_page(client, buyer, paid))
    assert "Refunded to your card" in html and format_money(command.amount) in html
    audit()


def test_a_split_gives_each_party_their_side(client, order, buyer, seller, outsider):
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00")
    staff = StaffFactory()
    dispute = milestone.dispute
    dispute_resolve(dispute=dispute, actor=staff, outcome="split", seller_amount=Money("40.00", "USD"))
    split = txn(milestone, K.SPLIT)
    earning = Earning.objects.get(milestone=milestone)
    seller_side = receipt_for(seller, split.pk)
    assert seller_side.side == "seller" and seller_side.total.amount == earning.net
    buyer_side = receipt_for(buyer, split.pk, side="seller")  # a party gets their own side, whatever they ask
    assert buyer_side.side == "buyer"
    assert buyer_side.items[0].amount == Money("60.00", "USD")
    assert "Net earning" in text(receipt_page(client, seller, split))
    assert "Total refunded" in text(receipt_page(client, buyer, split))
    assert receipt_page(client, outsider, split).status_code == 404
    # Staff choose the side.
    assert "Net earning" in text(receipt_page(client, staff, split, "?side=seller"))
    assert "Total refunded" in text(receipt_page(client, staff, split, "?side=buyer"))


# --- payouts ---------------------------------------------------------------------------------


def test_payout_receipt_masks_the_destination(client, buyer, seller, audit):
    seller.withdrawal_method = WithdrawalMethod.INSTANT
    seller.save()
    milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller), amount="100.00")
    withdrawal = withdrawal_request(seller=seller, amount=Money("30.00", "USD"), key=uuid.uuid4().hex)
    withdrawal = withdrawal_process(withdrawal_id=withdrawal.pk)
    assert withdrawal is not None and withdrawal.gateway_reference
    payout = Transaction.objects.get(kind=K.WITHDRAWAL_PAID)
    html = text(receipt_page(client, seller, payout))
    assert "Amount paid out" in html and m("30.00") in html
    assert "Instant (debit card)" in html
    assert mask_destination("GB33BUKB20201555555555") == mask_destination(seller.payout_account) == "•••• 5555"
    assert "•••• 5555" in html and "GB33BUKB" not in html
    assert withdrawal.gateway_reference in html
    assert receipt_page(client, buyer, payout).status_code == 404
    # The earnings page links it from the withdrawal row.
    client.force_login(seller)
    earnings = text(client.get(reverse("earnings")))
    withdrawals = earnings[earnings.index('id="withdrawals-h"') : earnings.index('id="ledger"')]
    assert reverse("receipt", args=[payout.pk]) in withdrawals
    audit()


# --- links -----------------------------------------------------------------------------------


def test_order_page_links_the_viewers_receipts(client, order, buyer, seller, staff):
    milestone = milestone_in(S.APPROVED, order=order)
    funding, release = txn(milestone, K.FUND), txn(milestone, K.RELEASE)
    client.force_login(buyer)
    html = text(client.get(order.get_absolute_url()))
    assert f"Receipt {receipt_number(funding.pk)} · Payment" in html
    assert f'href="{reverse("receipt", args=[funding.pk])}"' in html
    assert receipt_number(release.pk) not in html
    client.force_login(seller)
    html = text(client.get(order.get_absolute_url()))
    assert f"Receipt {receipt_number(release.pk)} · Earning" in html
    assert receipt_number(funding.pk) not in html
    staff_login(client, staff)
    html = text(client.get(order.get_absolute_url()))
    assert receipt_number(funding.pk) in html and receipt_number(release.pk) in html


def test_receipts_for_milestone_lists_the_viewers_own(order, buyer, seller, outsider):
    milestone = milestone_in(S.APPROVED, order=order)
    assert [link.label for link in receipts_for_milestone(milestone, buyer)] == ["Payment"]
    assert [link.label for link in receipts_for_milestone(milestone, seller)] == ["Earning"]
    assert receipts_for_milestone(milestone, outsider) == []


def test_earnings_page_links_the_earning_and_ledger_receipts(client, order, seller):
    milestone = milestone_in(S.APPROVED, order=order)
    release = txn(milestone, K.RELEASE)
    client.force_login(seller)
    html = text(client.get(reverse("earnings")))
    clearing = html[html.index("Clearing soon") : html.index('id="withdraw"')]
    assert reverse("receipt", args=[release.pk]) in clearing
    ledger = html[html.index('id="ledger"') :]
    assert f"Receipt {receipt_number(release.pk)}" in ledger
    assert f'href="{reverse("earnings_export")}"' in html


def test_order_page_queries_do_not_grow_with_receipts(client, buyer, seller):
    def count(order) -> int:
        client.force_login(buyer)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(order.get_absolute_url())
        assert response.status_code == 200
        assert text(response).count("· Payment</a>") == order.milestones.count()
        return len(queries)

    one = OrderFactory(buyer=buyer, seller=seller)
    create_milestone(one, title="Only")
    five = OrderFactory(buyer=buyer, seller=seller)
    for i in range(5):
        create_milestone(five, title=f"Phase {i}")
    assert count(five) == count(one)
