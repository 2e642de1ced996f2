"""Forms of the marketplace pages. They parse input; the rules live in the services."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from djmoney.money import Money

from marketplace.models import User, WithdrawalMethod


def describe_period(period: timedelta) -> str:
    """'available at once', 'cleared after 3 days', 'cleared after 14 days'."""
    if period <= timedelta(0):
        return "available at once"
    days, seconds = period.days, period.seconds
    if seconds == 0:
        return f"cleared after {days} day{'s' if days != 1 else ''}"
    hours = round(period.total_seconds() / 3600)
    return f"cleared after {hours} hour{'s' if hours != 1 else ''}"


def withdrawal_method_choices() -> list[tuple[str, str]]:
    return [
        (value, f"{label} — {describe_period(settings.CLEARANCE_PERIODS[value])}")
        for value, label in WithdrawalMethod.choices
    ]


class SignupForm(UserCreationForm):
    email = forms.EmailField(label="Email", max_length=254, help_text="For notices about your orders and payments.")

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username", "email")
        labels = {"username": "Username"}

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail already exists.")
        return email


class ProfileForm(forms.ModelForm):
    email = forms.EmailField(label="Email", max_length=254)
    withdrawal_method = forms.ChoiceField(
        label="Withdrawal method",
        widget=forms.RadioSelect,
        help_text="Approved earnings clear after this period, then you can withdraw them.",
    )

    class Meta:
        model = User
        fields = ("email", "bio", "withdrawal_method", "payout_account")
        labels = {"bio": "Bio", "payout_account": "Payout account"}
        widgets = {"bio": forms.Textarea(attrs={"rows": 5})}
        help_texts = {
            "bio": "Shown on your gigs. Plain text.",
            "payout_account": "Where withdrawals go: a debit card, a PayPal e-mail or an IBAN.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["withdrawal_method"].choices = withdrawal_method_choices()  # type: ignore[attr-defined]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another account uses this e-mail.")
        return email


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in settings.MARKETPLACE_CURRENCIES]


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


class OrderStartForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200, help_text="A name for this engagement.")
    brief = forms.CharField(
        label="Brief",
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What you need, for the seller to read before the first milestone.",
    )
