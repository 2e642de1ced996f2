"""Stripe's test card numbers (https://docs.stripe.com/testing), by outcome."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from marketplace.checksums import luhn_valid

# The messages stay English here, as the provider's API answers; marked (``gettext_noop``) so the
# checkout page can show them in the buyer's language (``gettext`` on display).

SUCCESS_CARDS = {
    "4242424242424242": "Visa",
    "4000056655665556": gettext_noop("Visa (debit)"),
    "5555555555554444": "Mastercard",
    "2223003122003222": gettext_noop("Mastercard (2-series)"),
    "5200828282828210": gettext_noop("Mastercard (debit)"),
    "378282246310005": "American Express",
    "6011111111111117": "Discover",
}
DECLINE_CARDS = {
    "4000000000000002": ("card_declined", gettext_noop("Your card was declined.")),
    "4000000000009995": ("insufficient_funds", gettext_noop("Your card has insufficient funds.")),
    "4000000000009987": ("lost_card", gettext_noop("Your card was declined.")),
    "4000000000009979": ("stolen_card", gettext_noop("Your card was declined.")),
    "4000000000000069": ("expired_card", gettext_noop("Your card has expired.")),
    "4000000000000127": ("incorrect_cvc", gettext_noop("Your card's security code is incorrect.")),
    "4000000000000119": ("processing_error", gettext_noop("An error occurred while processing your card. Try again.")),
}
# Stripe's test bank account that fails payouts (account closed); the sandbox records it when the
# account is tokenized (``SandboxProvider.payout_destination_tokenize``), since it keeps no numbers.
FAILING_PAYOUT_DESTINATIONS = {"000111111116"}
INCORRECT_NUMBER = ("incorrect_number", gettext_noop("Your card number is incorrect."))
NOT_A_TEST_CARD = (
    "card_declined",
    gettext_noop("Your card was declined. The sandbox accepts only test cards, such as 4242 4242 4242 4242."),
)
ACCOUNT_CLOSED = ("account_closed", gettext_noop("The bank account has been closed."))
UNKNOWN_PAYMENT = ("resource_missing", gettext_noop("No such payment."))
REFUND_TOO_LARGE = ("amount_too_large", gettext_noop("The refund is larger than what is left of the payment."))
FAILURE_MESSAGES = {
    **dict(DECLINE_CARDS.values()),
    INCORRECT_NUMBER[0]: INCORRECT_NUMBER[1],
    ACCOUNT_CLOSED[0]: ACCOUNT_CLOSED[1],
    UNKNOWN_PAYMENT[0]: UNKNOWN_PAYMENT[1],
    REFUND_TOO_LARGE[0]: REFUND_TOO_LARGE[1],
}


def normalise_card_number(raw: str) -> str:
    return "".join(ch for ch in raw if ch.isdigit())


def card_outcome(raw: str) -> tuple[bool, str, str]:
    """(ok, failure code, message) for a card number typed on the sandbox's page."""
    number = normalise_card_number(raw)
    if number in SUCCESS_CARDS:
        return True, "", ""
    if number in DECLINE_CARDS:
        return False, *DECLINE_CARDS[number]
    if not luhn_valid(number):
        return False, *INCORRECT_NUMBER
    return False, *NOT_A_TEST_CARD
