"""The earnings page says for a buyer what it says for a seller, and "Delete my account" names the
step that frees the account (issue 32, item 1).

Regression: before the fix a buyer whose milestone was cancelled saw "Available to withdraw
0.00" with a payout account, no withdraw form, and a deletion refused with "withdraw or spend it"
that no page let them do.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from djmoney.money import Money

from milestones.models import MilestoneState as S
from payments.models import AccountKind, ProviderCommand, Transaction, Withdrawal
from payments.services import withdrawal_process
from tests.factories import OrderFactory, milestone_in
from tests.services.ledger_checks import balance

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def dd(html: str, label: str) -> str:
    match = re.search(rf"<dt>{re.escape(label)}</dt><dd[^>]*>([^<]*)</dd>", html)
    assert match, label
    return match.group(1)


@pytest.fixture
def refunded(buyer):
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=buyer), amount="100.00")
    return buyer


def test_a_buyer_sees_their_refund_as_available_to_withdraw_and_withdraws_it(client, refunded, audit):
    client.force_login(refunded)
    html = client.get(reverse("earnings")).content.decode()
    assert dd(html, "Available to withdraw") == "105.50\u00a0USD"
    assert dd(html, "Your balance as a buyer (refunds)") == "105.50\u00a0USD"
    assert "Available: 105.50\u00a0USD" in html
    assert f'action="{reverse("withdraw")}"' in html
    key = re.search(r'name="key" value="([0-9a-f]+)"', html).group(1)
    response = client.post(reverse("withdraw"), {"amount": "105.50", "currency": "USD", "key": key})
    assert response.status_code == 302
    assert Withdrawal.objects.get(seller=refunded).amount == Money("105.50", "USD")
    html = client.get(reverse("earnings")).content.decode()
    assert dd(html, "Available to withdraw") == "0.00\u00a0USD"
    assert dd(html, "Withdrawal in flight") == "105.50\u00a0USD"
    audit()


def test_delete_my_account_names_the_withdrawal_that_frees_it_then_lets_it_go(client, refunded, audit):
    client.force_login(refunded)
    html = client.get(reverse("your_data")).content.decode()
    assert "Withdraw your 105.50\u00a0USD balance on the Earnings page first." in html
    assert f'<a href="{reverse("earnings")}">Earnings</a>' in html
    refused = client.post(reverse("account_delete"), {"password": PASSWORD, "confirm": "on"})
    assert refused.status_code == 400
    assert "Withdraw your 105.50\u00a0USD balance" in refused.content.decode()

    html = client.get(reverse("earnings")).content.decode()
    key = re.search(r'name="key" value="([0-9a-f]+)"', html).group(1)
    client.post(reverse("withdraw"), {"amount": "105.50", "currency": "USD", "key": key})
    html = client.get(reverse("your_data")).content.decode()
    assert "Your withdrawal of 105.50\u00a0USD is still being paid out: wait until it is sent." in html

    withdrawal_process(withdrawal_id=Withdrawal.objects.get(seller=refunded).pk)
    payout = Transaction.objects.get(kind="withdrawal_paid")
    receipt = client.get(reverse("receipt", args=[payout.pk])).content.decode()
    assert "Amount paid out" in receipt and "105.50\u00a0USD" in receipt, "the buyer's payout has its receipt"
    html = client.get(reverse("your_data")).content.decode()
    assert "cannot be deleted" not in html and "Delete my account" in html
    response = client.post(reverse("account_delete"), {"password": PASSWORD, "confirm": "on"}, follow=True)
    assert "Your account is deleted." in response.content.decode()
    assert balance(AccountKind.BUYER_BALANCE, user=refunded) == Money("0", "USD")
    audit()


def test_a_buyer_sends_the_refund_back_to_the_card_from_the_earnings_page(client, refunded, audit):
    client.force_login(refunded)
    html = client.get(reverse("earnings")).content.decode()
    assert "Refund to card" in html and "Up to 105.50\u00a0USD" in html
    key = re.search(r'name="to_card-key" value="([0-9a-f]+)"', html).group(1)
    too_much = client.post(
        reverse("refund_to_card"), {"to_card-amount": "105.51", "to_card-currency": "USD", "to_card-key": key}
    )
    assert too_much.status_code == 400 and "Not enough money" in too_much.content.decode()
    response = client.post(
        reverse("refund_to_card"),
        {"to_card-amount": "105.50", "to_card-currency": "USD", "to_card-key": key},
        follow=True,
    )
    assert "105.50\u00a0USD is on its way back to your card" in response.content.decode()
    command = ProviderCommand.objects.get(user=refunded, kind="refund")
    assert command.amount == Money("105.50", "USD")
    html = client.get(reverse("earnings")).content.decode()
    assert dd(html, "Available to withdraw") == "0.00\u00a0USD"
    assert "Balance refunded to card" in html
    receipt = client.get(reverse("receipt", args=[Transaction.objects.get(kind="balance_to_card").pk]))
    assert receipt.status_code == 200
    assert f"Payment {command.payment_reference}" in receipt.content.decode()
    audit()


def test_the_refund_to_card_form_is_not_offered_without_a_card_payment(client, outsider):
    client.force_login(outsider)
    assert "Refund to card" not in client.get(reverse("earnings")).content.decode()
