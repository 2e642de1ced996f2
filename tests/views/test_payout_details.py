"""The profile takes a payout card or account whole and shows it, everywhere after, as "•••• 4242"
(issue 32, item 5); a wrong number is refused next to the field and nothing changes.

Regression: before the fix the earnings page said "Paid to your Instant (debit card) (4000 0566 5566
5556)" and the withdrawals list showed the number whole.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import User
from milestones.models import MilestoneState as S
from tests.factories import OrderFactory, milestone_in

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
CARD = "4000 0566 5566 5556"


def _profile(client, **changes):
    data = {"bio": "", "withdrawal_method": "instant", "current_password": PASSWORD, **changes}
    return client.post(reverse("profile"), data)


def test_a_payout_card_typed_whole_is_shown_as_its_last_four_digits_everywhere(client, seller):
    seller.withdrawal_method = "instant"
    seller.save()
    milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")  # 80.00 available
    client.force_login(seller)
    assert _profile(client, payout_account=CARD).status_code == 302
    profile = client.get(reverse("profile")).content.decode()
    assert 'value="•••• 5556"' in profile
    earnings = client.get(reverse("earnings")).content.decode()
    assert "Paid to your Instant (debit card) (•••• 5556)." in earnings
    key = re.search(r'name="key" value="([0-9a-f]+)"', earnings).group(1)
    client.post(reverse("withdraw"), {"amount": "80.00", "currency": "USD", "key": key})
    earnings = client.get(reverse("earnings")).content.decode()
    withdrawals = earnings[earnings.index('id="withdrawals-h"') : earnings.index('id="ledger"')]
    assert "•••• 5556" in withdrawals
    digits = CARD.replace(" ", "")
    for html in (profile, earnings):
        assert CARD not in html and digits not in html


@pytest.mark.parametrize(
    ("method", "typed", "error"),
    [
        ("instant", "4000 0566 5566 5557", "That card number is not valid"),
        ("bank_transfer", "GB82 WEST 1234 5698 7654 33", "That IBAN is not valid"),
        ("paypal", "sam at paypal", "Enter the e-mail address of your PayPal account."),
    ],
)
def test_a_wrong_payout_number_is_refused_next_to_the_field(client, seller, method, typed, error):
    client.force_login(seller)
    before = User.objects.values_list("withdrawal_method", "payout_account", "payout_token").get(pk=seller.pk)
    response = _profile(client, withdrawal_method=method, payout_account=typed)
    assert response.status_code == 200
    html = response.content.decode()
    field = re.search(r'<p class="field-error" id="id_payout_account_error">([^<]*)</p>', html)
    assert field and error in field.group(1)
    assert User.objects.values_list("withdrawal_method", "payout_account", "payout_token").get(pk=seller.pk) == before
