"""Forms of the gig pages. They parse input; the rules live in ``gigs.services``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from djmoney.money import Money

from gigs.models import Gig
from gigs.selectors import SORTS
from gigs.services import gig_terms_errors
from marketplace.forms import AmountField, add_domain_error, currency_choices


def category_choices() -> list[tuple[str, str]]:
    return list(settings.GIG_CATEGORIES)


def search_category_choices() -> list[tuple[str, str]]:
    return [("", "All categories"), *settings.GIG_CATEGORIES]


class GigForm(forms.Form):
    """Publishing a gig, and editing one (``GigForm.for_gig``)."""

    title = forms.CharField(
        label="Title",
        max_length=120,
        help_text="What you will do, e.g. “I will design your logo”.",
    )
    description = forms.CharField(
        label="Description", max_length=5000, widget=forms.Textarea(attrs={"rows": 8}), help_text="What the buyer gets."
    )
    category = forms.ChoiceField(
        label="Category", choices=category_choices, required=False, help_text="Where buyers browsing find it."
    )
    starting_price = AmountField(label="Starting price")
    currency = forms.ChoiceField(label="Currency", choices=currency_choices)
    delivery_days = forms.IntegerField(
        label="Delivery days",
        min_value=1,
        max_value=365,
        help_text="From 1 to 365.",
        error_messages={
            "min_value": "Delivery takes between 1 and 365 days.",
            "max_value": "Delivery takes between 1 and 365 days.",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = settings.MARKETPLACE_DEFAULT_CURRENCY
        self.fields["category"].initial = "other"
        self.fields["starting_price"].help_text = (
            f"The smallest order you take: at least {Decimal(settings.MILESTONE_MIN_AMOUNT):.2f}, "
            "with at most two decimal places."
        )

    def clean(self) -> dict[str, Any]:
        """Every field's error at once: the gig's rules run on the fields that parsed (a negative
        price is reported together with a missing title, not after it is fixed)."""
        data = super().clean() or {}
        price, currency = data.get("starting_price"), data.get("currency")
        for error in gig_terms_errors(
            title=data.get("title"),
            description=data.get("description"),
            starting_price=Money(price, currency) if price is not None and currency else None,
            delivery_days=data.get("delivery_days"),
            category=(data.get("category") or "other") if "category" in data else None,
        ):
            if error.field not in self.errors and not add_domain_error(self, error):
                raise forms.ValidationError(error.message)
        return data

    @classmethod
    def for_gig(cls, gig: Gig, data: Any = None) -> GigForm:
        initial = {
            "title": gig.title,
            "description": gig.description,
            "category": gig.category,
            "starting_price": gig.starting_price.amount,
            "currency": str(gig.starting_price.currency),
            "delivery_days": gig.delivery_days,
        }
        return cls(data, initial=initial)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "description": data["description"],
            "starting_price": Money(data["starting_price"], data["currency"]),
            "delivery_days": data["delivery_days"],
            "category": data["category"] or "other",
        }


SORT_LABELS = {"relevance": "Best match", "rating": "Best rated", "price": "Price: low to high", "newest": "Newest"}
DELIVERY_CHOICES = [
    ("", "Any time"),
    ("1", "Up to 24 hours"),
    ("3", "Up to 3 days"),
    ("7", "Up to 7 days"),
    ("14", "Up to 14 days"),
    ("30", "Up to 30 days"),
]


class GigSearchForm(forms.Form):
    """The home page's search and filters, all from the query string, so that a
    search is a link. A filter that does not parse gets an error next to it
    and is left out (``filters()``); the others still apply. The text field is
    written by hand in the template (``q``), as it was before filters."""

    q = forms.CharField(required=False, strip=True)
    category = forms.ChoiceField(label="Category", required=False, choices=search_category_choices)
    min_price = forms.DecimalField(
        label="Min price",
        required=False,
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        error_messages={
            "invalid": "Enter the minimum price as a number, e.g. 20 or 19.99.",
            "min_value": "The minimum price cannot be negative.",
        },
    )
    max_price = forms.DecimalField(
        label="Max price",
        required=False,
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        error_messages={
            "invalid": "Enter the maximum price as a number, e.g. 100 or 99.99.",
            "min_value": "The maximum price cannot be negative.",
        },
    )
    currency = forms.ChoiceField(label="Price in", required=False, choices=currency_choices)
    delivery = forms.TypedChoiceField(
        label="Delivery time", required=False, choices=DELIVERY_CHOICES, coerce=int, empty_value=None
    )
    sort = forms.ChoiceField(label="Sort by", required=False, choices=[(value, SORT_LABELS[value]) for value in SORTS])

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        self.is_filtered = False
        # Whether the order shown is the default (best match with a query, else
        # newest) rather than one the user picked. The page then sends it back
        # as ``default_sort`` beside ``sort``, so that a query typed later still
        # sorts by best match, although the list says "Newest".
        self.sort_is_default = True
        if data is not None:
            # Show the order and the currency that apply when none is given.
            self.is_filtered = any(value for key, value in data.items() if key not in ("page", "default_sort"))
            data = data.copy()
            has_query = bool(data.get("q", "").strip())
            picked = data.get("sort") or ""
            self.sort_is_default = not picked or picked == data.get("default_sort")
            if self.sort_is_default or (picked == "relevance" and not has_query):
                self.sort_is_default = True
                data["sort"] = "relevance" if has_query else "newest"
            data["currency"] = data.get("currency") or settings.MARKETPLACE_DEFAULT_CURRENCY
        super().__init__(data, **kwargs)
        self.fields["currency"].initial = settings.MARKETPLACE_DEFAULT_CURRENCY
        for name in ("min_price", "max_price"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "step": "0.01", "min": "0"})
        for name, what in (("category", "categories"), ("currency", "currencies"), ("delivery", "delivery times")):
            self.fields[name].error_messages["invalid_choice"] = f"Choose one of the {what} in the list."
        self.fields["sort"].error_messages["invalid_choice"] = "Choose one of the orders in the list."

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:100]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The maximum price is below the minimum; the price filter was left out.")
            data.pop("min_price", None)
        return data

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of ``gigs_search`` from what parsed; a field with
        an error is left out."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "query": data.get("q") or "",
            "category": data.get("category") or "",
            "min_price": data.get("min_price"),
            "max_price": data.get("max_price"),
            "currency": data.get("currency") or settings.MARKETPLACE_DEFAULT_CURRENCY,
            "max_delivery_days": data.get("delivery"),
            "sort": data.get("sort") or "",
        }
