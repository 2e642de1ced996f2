"""The earnings page's forms: withdraw, and refund the balance to card; each an amount, plus the
idempotency key it was rendered with."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from djmoney.money import Money


class WithdrawForm(forms.Form):
    amount = forms.DecimalField(label="Amount", max_digits=14, decimal_places=2)
    currency = forms.ChoiceField(label="Currency")
    # Generated when the form is rendered; a replay of the same form carries
    # the same key, and the service refuses to pay it twice.
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, currencies: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        codes = currencies or list(settings.MARKETPLACE_CURRENCIES)
        self.fields["currency"].choices = [(code, code) for code in codes]  # type: ignore[attr-defined]
        self.fields["currency"].initial = codes[0]
        self.fields["key"].initial = uuid.uuid4().hex
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "step": "0.01", "min": "0.01"})

    def money(self) -> Money:
        return Money(self.cleaned_data["amount"], self.cleaned_data["currency"])


class RefundToCardForm(WithdrawForm):
    """ "Refund to card": how much of the balance goes back to the cards that paid."""

    prefix = "to_card"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = "Amount to refund"
        self.fields["currency"].label = "Currency to refund"
