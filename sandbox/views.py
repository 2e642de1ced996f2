"""The sandbox's hosted checkout page: the only page of the site that sees a card number.

It stands in for Stripe Checkout: the marketplace sends the buyer here and
learns the outcome from a signed webhook (and from asking the provider when
the buyer comes back), never from this page directly.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sandbox import cards
from sandbox.models import SandboxSession
from sandbox.services import CardRefused, session_pay, webhook_url_for


class SandboxCardForm(forms.Form):
    card_number = forms.CharField(
        label=_("Card number"),
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric", "autofocus": True}),
    )

    def clean_card_number(self) -> str:
        number = cards.normalise_card_number(self.cleaned_data["card_number"])
        if not number:
            raise forms.ValidationError(gettext("Enter a card number."))
        return number


def _return_url(template: str, session: SandboxSession) -> str:
    return template.replace("{CHECKOUT_SESSION_ID}", session.session_id)


@never_cache
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    if settings.PAYMENT_PROVIDER != "sandbox":
        raise Http404("The sandbox provider is not enabled")
    session = get_object_or_404(SandboxSession, session_id=session_id)
    form = SandboxCardForm(request.POST or None)
    expired = session.status == "expired" or (session.status == "open" and session.expires_at <= timezone.now())
    if session.payment_status == "paid":
        return redirect(_return_url(session.success_url, session))
    if request.method == "POST" and not expired and form.is_valid():
        try:
            session = session_pay(
                session_id=session.session_id,
                card_number=form.cleaned_data["card_number"],
                webhook_url=webhook_url_for(request.build_absolute_uri(reverse("payment_webhook", args=["sandbox"]))),
            )
        except CardRefused as refusal:
            # The provider answers in English; the buyer reads it in their language.
            form.add_error("card_number", gettext(refusal.message) if refusal.message else refusal.message)
        else:
            return redirect(_return_url(session.success_url, session))
    status = 410 if expired else 400 if request.method == "POST" else 200
    context = {
        "session": session,
        "form": form,
        "expired": expired,
        "cancel_url": _return_url(session.cancel_url, session),
        "success_cards": sorted(cards.SUCCESS_CARDS.items(), key=lambda item: item[1]),
        "decline_cards": sorted(cards.DECLINE_CARDS.items()),
    }
    return render(request, "sandbox/checkout.html", context, status=status)
