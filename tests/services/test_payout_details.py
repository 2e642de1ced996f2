"""Payout details are never stored whole (issue 32, item 5): a payout account typed on the profile is
checked (a card's Luhn digit, an IBAN's check digits, a PayPal e-mail), tokenized by the provider,
and kept as its method, "•••• 4242" and the token; withdrawals show the mask and pay the token.

Regression: before the fix the profile stored "4000 0566 5566 5556" whole, a withdrawal copied it
into its destination and its payout command, the sandbox into its operation, and the earnings page
showed it; and any text at all was accepted as a payout account.
"""

from __future__ import annotations

import uuid

import pytest
from djmoney.money import Money

from accounts.models import SecurityEvent, User, WithdrawalMethod
from accounts.payouts import payout_details_parse, payout_mask
from accounts.services import user_update_profile
from marketplace.errors import InvalidInput
from milestones.models import MilestoneState as S
from payments.models import ProviderCommand
from payments.services import withdrawal_process, withdrawal_request
from sandbox.models import SandboxOperation, SandboxPayoutDestination
from tests.factories import FAILING_PAYOUT, OrderFactory, UserFactory, milestone_in, payout_account_set

pytestmark = pytest.mark.django_db

CARD = "4000 0566 5566 5556"  # Stripe's test Visa debit card
IBAN = "GB82 WEST 1234 5698 7654 32"

INSTANT, PAYPAL, BANK = WithdrawalMethod.INSTANT, WithdrawalMethod.PAYPAL, WithdrawalMethod.BANK_TRANSFER


@pytest.mark.parametrize(
    ("method", "typed", "shown"),
    [
        (INSTANT, CARD, "•••• 5556"),
        (INSTANT, "4242-4242-4242-4242", "•••• 4242"),
        (BANK, IBAN, "•••• 5432"),
        (BANK, "gb82west12345698765432", "•••• 5432"),
        (BANK, FAILING_PAYOUT, "•••• 1116"),
        (PAYPAL, " Sam@PayPal.example ", "sam@paypal.example"),
    ],
)
def test_a_good_payout_account_is_kept_as_its_mask(method, typed, shown):
    assert payout_details_parse(method=method, raw=typed).shown == shown


@pytest.mark.parametrize(
    ("method", "typed", "says"),
    [
        (INSTANT, "4000 0566 5566 5557", "That card number is not valid"),  # one digit off: Luhn fails
        (INSTANT, "4242 4242", "12 to 19 digits"),
        (INSTANT, "GB82WEST12345698765432", "12 to 19 digits"),
        (BANK, "GB82 WEST 1234 5698 7654 33", "That IBAN is not valid"),  # one digit off: mod 97 fails
        (BANK, "GB00ATTACKER00000000", "That IBAN is not valid"),
        (BANK, "12-34", "Enter an IBAN"),
        (BANK, "see my e-mail", "Enter an IBAN"),
        (PAYPAL, "not an address", "Enter the e-mail address of your PayPal account."),
        (PAYPAL, CARD, "Enter the e-mail address of your PayPal account."),
    ],
)
def test_a_bad_payout_number_gets_a_clear_error_and_changes_nothing(method, typed, says):
    user = UserFactory()
    before = User.objects.values_list("withdrawal_method", "payout_account", "payout_token").get(pk=user.pk)
    with pytest.raises(InvalidInput) as refused:
        user_update_profile(user=user, bio="", withdrawal_method=method, payout_account=typed)
    assert refused.value.field == "payout_account" and says in refused.value.message
    assert User.objects.values_list("withdrawal_method", "payout_account", "payout_token").get(pk=user.pk) == before
    assert not SandboxPayoutDestination.objects.exists(), "nothing was sent to the provider"
    assert not SecurityEvent.objects.exists()


def test_a_payout_card_is_tokenized_and_kept_as_its_last_four_digits(audit):
    seller = UserFactory(withdrawal_method=INSTANT)
    user_update_profile(user=seller, bio="", withdrawal_method=INSTANT, payout_account=CARD)
    seller.refresh_from_db()
    destination = SandboxPayoutDestination.objects.get()
    assert (seller.payout_account, seller.payout_token) == ("•••• 5556", destination.token)
    assert (destination.method, destination.last4, destination.fails) == ("instant", "5556", False)
    assert (
        SecurityEvent.objects.get(user=seller).detail
        == "Instant (debit card) •••• 5555 → Instant (debit card) •••• 5556"
    )

    milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")  # 80.00 available at once
    withdrawal = withdrawal_request(seller=seller, amount=Money("80.00", "USD"), key=uuid.uuid4().hex)
    command = ProviderCommand.objects.get(withdrawal=withdrawal)
    assert withdrawal.destination == "•••• 5556", "the withdrawal shows where it went"
    assert command.destination == destination.token, "the provider is told the token"
    assert withdrawal_process(withdrawal_id=withdrawal.pk).status == "paid"
    assert SandboxOperation.objects.get(kind="payout").target == destination.token
    audit()


def test_the_sandbox_records_at_tokenization_that_its_failing_account_fails(audit):
    seller = UserFactory(withdrawal_method=INSTANT)
    milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
    payout_account_set(seller, FAILING_PAYOUT, method=BANK)
    assert SandboxPayoutDestination.objects.get().fails
    withdrawal = withdrawal_request(seller=seller, amount=Money("80.00", "USD"), key=uuid.uuid4().hex)
    failed = withdrawal_process(withdrawal_id=withdrawal.pk)
    assert failed.status == "failed" and "closed" in failed.failure_reason
    assert failed.destination == "•••• 1116"
    audit()


def test_saving_the_profile_as_shown_keeps_the_token():
    seller = UserFactory()
    payout_account_set(seller, IBAN)
    seller.refresh_from_db()
    kept = (seller.payout_account, seller.payout_token)
    user_update_profile(user=seller, bio="Hello", withdrawal_method=BANK, payout_account="•••• 5432")
    seller.refresh_from_db()
    assert (seller.payout_account, seller.payout_token) == kept and seller.bio == "Hello"
    assert SandboxPayoutDestination.objects.count() == 1, "not tokenized again"
    user_update_profile(user=seller, bio="", withdrawal_method=BANK, payout_account="")
    seller.refresh_from_db()
    assert (seller.payout_account, seller.payout_token) == ("", "")


def test_a_payout_account_kept_from_before_tokens_must_be_typed_again():
    """What the data migration leaves: "•••• 5555" and no token."""
    seller = UserFactory(withdrawal_method=INSTANT, payout_token="")
    milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
    with pytest.raises(InvalidInput) as refused:
        withdrawal_request(seller=seller, amount=Money("10.00", "USD"), key=uuid.uuid4().hex)
    assert refused.value.field == "payout_account"
    assert "Enter your payout account again in your profile" in refused.value.message


@pytest.mark.parametrize(
    ("kept", "shown"),
    [
        ("4000056655665556", "•••• 5556"),
        ("GB33BUKB20201555555555", "•••• 5555"),
        ("•••• 5555", "•••• 5555"),
        ("sam@paypal.example", "sam@paypal.example"),
        ("", ""),
    ],
)
def test_the_one_mask(kept, shown):
    assert payout_mask(kept) == shown
