"""Where a user's withdrawals go, as they type it and as it is kept.

A card or bank account number is never stored whole (docs/ARCHITECTURE.md, "Payout details"):
the profile keeps the method (``User.withdrawal_method``), how the account is shown
(``User.payout_account``: "•••• 4242", or the e-mail of a PayPal account) and the payment
provider's token for it (``User.payout_token``), which is what a payout is sent to. The number
itself lives only in the request that types it: it is checked here (the check digits of a card
or an IBAN), handed to the provider's tokenizer, and dropped.

The tokenizer belongs to the payment provider, above this app: ``payments`` registers it
(``register_payout_tokenizer``, from its ``AppConfig.ready``) and ``accounts`` calls it through
the registry, never importing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from accounts.models import WithdrawalMethod
from marketplace.checksums import iban_valid, luhn_valid
from marketplace.errors import InvalidInput

MASK = "•••• "
FIELD = "payout_account"
# A bank account number that is not an IBAN (a US account, say): digits only.
_ACCOUNT_NUMBER = re.compile(r"[0-9]{6,17}")


@dataclass(frozen=True)
class PayoutDetails:
    """A payout account as typed and checked: ``number`` goes to the tokenizer and is never
    stored; ``shown`` is what the pages, the admin, the exports and the logs show."""

    method: str
    number: str
    shown: str


def payout_mask(value: str) -> str:
    """How a payout account is shown: ``•••• 4242`` (its last four letters or digits), an e-mail
    as it is, an already masked value as it is, empty as empty."""
    value = (value or "").strip()
    if not value or value.startswith(MASK.strip()) or "@" in value:
        return value
    return MASK + "".join(char for char in value if char.isalnum())[-4:]


def payout_details_parse(*, method: str, raw: str) -> PayoutDetails:
    """Check a payout account typed for ``method``; ``InvalidInput`` on ``payout_account`` with
    what is wrong. A debit card passes the Luhn check, an IBAN its check digits, a PayPal
    account is an e-mail address."""
    text = " ".join((raw or "").split())
    if method == WithdrawalMethod.PAYPAL:
        try:
            validate_email(text)
        except ValidationError:
            raise InvalidInput(_("Enter the e-mail address of your PayPal account."), field=FIELD) from None
        return PayoutDetails(method=method, number=text.lower(), shown=text.lower())
    compact = re.sub(r"[\s-]", "", text).upper()
    if method == WithdrawalMethod.INSTANT:
        if not compact.isdigit() or not 12 <= len(compact) <= 19:
            raise InvalidInput(_("Enter the debit card's number: 12 to 19 digits."), field=FIELD)
        if not luhn_valid(compact):
            raise InvalidInput(
                _("That card number is not valid: a digit is wrong or missing (its last digit does not check)."),
                field=FIELD,
            )
        return PayoutDetails(method=method, number=compact, shown=payout_mask(compact))
    if method == WithdrawalMethod.BANK_TRANSFER:
        if re.match(r"[A-Z]{2}[0-9]{2}", compact):
            if not iban_valid(compact):
                raise InvalidInput(
                    _("That IBAN is not valid: a character is wrong or missing (its check digits do not match)."),
                    field=FIELD,
                )
        elif not _ACCOUNT_NUMBER.fullmatch(compact):
            raise InvalidInput(
                _("Enter an IBAN (such as GB33 BUKB 2020 1555 5555 55) or a bank account number of 6 to 17 digits."),
                field=FIELD,
            )
        return PayoutDetails(method=method, number=compact, shown=payout_mask(compact))
    raise InvalidInput(_("Choose a withdrawal method."), field="withdrawal_method")


# (method, number) -> the provider's token for that payout destination. Called with no transaction open.
PayoutTokenizer = Callable[[str, str], str]
_tokenizers: list[PayoutTokenizer] = []


def register_payout_tokenizer(tokenizer: PayoutTokenizer) -> None:
    """Set the payment provider's tokenizer (``payments`` does, in ``AppConfig.ready``)."""
    _tokenizers[:] = [tokenizer]


def payout_tokenize(details: PayoutDetails) -> str:
    """The provider's token for a checked payout account. Must be called with no transaction open:
    it may talk to the provider."""
    if not _tokenizers:
        raise RuntimeError("No payout tokenizer is registered: the payments app sets it when Django starts.")
    return _tokenizers[0](details.method, details.number)
