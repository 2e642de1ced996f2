"""Where a user's payouts go.

With the sandbox, to the payout account typed in the profile, which the
provider tokenized when it was saved (``payout_tokenize``): the profile keeps
the token and "•••• 4242", never the number (``accounts.payouts``). With
Stripe, to the seller's Connect Express account (``PayoutAccount``), which they
set up on Stripe's onboarding pages from the earnings page
(``payments.connect_views``); its flags follow Stripe's ``account.updated``
webhook and the onboarding return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.utils import timezone
from django.utils.translation import gettext_lazy

from marketplace.errors import InvalidInput
from payments.models import PayoutAccount
from payments.providers import ProviderEvent, get_provider, provider_name

if TYPE_CHECKING:
    # The Stripe SDK loads only where Stripe is the provider (``get_provider``), not in every process.
    from payments.providers.stripe import StripeProvider

CONNECT_FIRST = gettext_lazy("Connect your payout account with Stripe first.")


ENTER_AGAIN = gettext_lazy(
    "Enter your payout account again in your profile: we now keep only its last four digits "
    "and the payment provider's token for it."
)


@dataclass(frozen=True)
class PayoutDestination:
    """Where the user's next payout goes: as the pages show it, and as the provider is told."""

    shown: str  # "•••• 4242", a PayPal e-mail, a Stripe account id; empty: none set
    token: str  # what ``provider.payout`` is given


def payout_destination(user: Any) -> PayoutDestination:
    """Where the user's next payout goes; ``InvalidInput`` on ``payout_account`` if it cannot go."""
    if provider_name() == "stripe":
        account = PayoutAccount.objects.filter(user=user, provider="stripe").first()
        if account is None or not account.payouts_enabled:
            raise InvalidInput(str(CONNECT_FIRST), field="payout_account")
        return PayoutDestination(shown=account.account_id, token=account.account_id)
    shown, token = str(user.payout_account).strip(), str(user.payout_token)
    if shown and not token:
        # Kept whole before tokens, and masked since (accounts migration 0006): it must be typed again.
        raise InvalidInput(str(ENTER_AGAIN), field="payout_account")
    return PayoutDestination(shown=shown, token=token)


def payout_tokenize(method: str, number: str) -> str:
    """The provider's token for a payout account typed in the profile (``accounts.payouts``
    calls it through its registry, with no transaction open)."""
    return get_provider().payout_destination_tokenize(method=method, number=number)


def payout_account_update(*, account_id: str, details_submitted: bool, payouts_enabled: bool) -> bool:
    """Record the provider's flags for a connected account; False if the account is not one of ours."""
    return bool(
        PayoutAccount.objects.filter(account_id=account_id).update(
            details_submitted=details_submitted, payouts_enabled=payouts_enabled, updated_at=timezone.now()
        )
    )


def payout_account_refresh(account: PayoutAccount) -> PayoutAccount:
    """Ask Stripe how the account stands now (no transaction open) and record it."""
    stripe = cast("StripeProvider", get_provider("stripe"))
    details_submitted, payouts_enabled = stripe.payout_account_status(account.account_id)
    payout_account_update(
        account_id=account.account_id, details_submitted=details_submitted, payouts_enabled=payouts_enabled
    )
    account.refresh_from_db()
    return account


def account_updated(provider: str, event: ProviderEvent) -> str:
    """The webhook handler of ``account.updated`` (Stripe Connect)."""
    account_id = str(event.object.get("id") or "")
    payouts_enabled = bool(event.object.get("payouts_enabled"))
    if not payout_account_update(
        account_id=account_id,
        details_submitted=bool(event.object.get("details_submitted")),
        payouts_enabled=payouts_enabled,
    ):
        return "unknown payout account"
    return f"payout account {account_id}: payouts {'enabled' if payouts_enabled else 'not enabled'}"
