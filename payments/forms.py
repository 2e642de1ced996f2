"""The earnings page's forms: withdraw, and refund the balance to card; each an amount, plus the
idempotency key it was rendered with."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money


class WithdrawForm(forms.Form):
    # localize: "12,50" in Spanish and German, "12.50" in English; a text input, since a number
    # input takes no comma (inputmode="decimal" still brings up the phone's number keypad).
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=14,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    currency = forms.ChoiceField(label=_("Currency"))
    # Generated when the form is rendered; a replay of the same form carries
    # the same key, and the service refuses to pay it twice.
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, currencies: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        codes = currencies or list(settings.MARKETPLACE_CURRENCIES)
        self.fields["currency"].choices = [(code, code) for code in codes]  # type: ignore[attr-defined]
        self.fields["currency"].initial = codes[0]
        self.fields["key"].initial = uuid.uuid4().hex

    def money(self) -> Money:
        return Money(self.cleaned_data["amount"], self.cleaned_data["currency"])


class RefundToCardForm(WithdrawForm):
    """ "Refund to card": how much of the balance goes back to the cards that paid."""

    prefix = "to_card"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = _("Amount to refund")
        self.fields["currency"].label = _("Currency to refund")
