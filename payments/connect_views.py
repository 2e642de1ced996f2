"""The seller's payout account at the provider: off to its onboarding pages and back.

With Stripe, "Set up payouts with Stripe" on the earnings page posts here and
the seller is redirected to Stripe's Express onboarding; Stripe sends them
back to ``payout_onboarding_return``, which asks Stripe how the account stands.
The sandbox has no onboarding: payouts go to the account in the profile.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from accounts.http import AuthedRequest
from marketplace.http import site_url
from payments.connect import payout_account_refresh
from payments.models import PayoutAccount
from payments.providers import ProviderUnavailable, get_provider, provider_name

PROFILE_PAYOUTS = gettext_lazy("Your payouts go to the payout account in your profile.")


@login_required
@require_POST
def payout_onboarding(request: AuthedRequest) -> HttpResponse:
    """Send the seller to the provider's onboarding page (creating their account on first use)."""
    try:
        url = get_provider().payout_onboarding_url(
            user=request.user,
            return_url=site_url(reverse("payout_onboarding_return")),
            # Stripe sends the seller here when the link has expired or was used: a new click makes a new one.
            refresh_url=site_url(reverse("earnings")),
        )
    except ProviderUnavailable:
        messages.error(request, _("Stripe could not be reached just now; try again in a moment."))
        return redirect("earnings")
    if url:
        return redirect(url)
    messages.info(request, str(PROFILE_PAYOUTS))
    return redirect("earnings")


@login_required
@require_safe
def payout_onboarding_return(request: AuthedRequest) -> HttpResponse:
    """Back from the provider: record how the account stands (only what the provider says, so a GET is safe)."""
    account = PayoutAccount.objects.filter(user=request.user).first()
    if provider_name() != "stripe" or account is None:
        messages.info(
            request, str(PROFILE_PAYOUTS) if provider_name() != "stripe" else _("No payout account is set up yet.")
        )
        return redirect("earnings")
    try:
        account = payout_account_refresh(account)
    except ProviderUnavailable:
        messages.info(
            request, _("Stripe could not be reached just now; your payout account's status will update soon.")
        )
        return redirect("earnings")
    if account.payouts_enabled:
        messages.success(request, _("Your Stripe payout account is connected: withdrawals are paid there."))
    else:
        messages.warning(
            request, _("Stripe needs a few more details before it can pay you; use “Update payout details” to finish.")
        )
    return redirect("earnings")
