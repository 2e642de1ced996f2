"""Forms of the gig pages. They parse input; the rules live in ``gigs.services``."""

from __future__ import annotations

from django import forms
from django.conf import settings
from djmoney.money import Money

from marketplace.forms import currency_choices


class GigForm(forms.Form):
    title = forms.CharField(
        label="Title",
        max_length=120,
        help_text="What you will do, e.g. “I will design your logo”.",
    )
    description = forms.CharField(
        label="Description", max_length=5000, widget=forms.Textarea(attrs={"rows": 8}), help_text="What the buyer gets."
    )
    starting_price = forms.DecimalField(
        label="Starting price", max_digits=12, decimal_places=2, help_text="The smallest order you take."
    )
    currency = forms.ChoiceField(label="Currency", choices=currency_choices)
    delivery_days = forms.IntegerField(label="Delivery days", min_value=1, max_value=365, help_text="From 1 to 365.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = settings.MARKETPLACE_DEFAULT_CURRENCY
        self.fields["starting_price"].widget.attrs.update({"inputmode": "decimal", "step": "0.01"})

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "description": data["description"],
            "starting_price": Money(data["starting_price"], data["currency"]),
            "delivery_days": data["delivery_days"],
        }
