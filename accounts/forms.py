"""Forms of the account pages. They parse input; the rules live in the services."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm

from accounts.models import User, WithdrawalMethod, time_zone_choices
from accounts.services import is_time_zone
from marketplace.forms import describe_period


def withdrawal_method_choices() -> list[tuple[str, str]]:
    return [
        (value, f"{label} — {describe_period(settings.CLEARANCE_PERIODS[value])}")
        for value, label in WithdrawalMethod.choices
    ]


class SignupForm(UserCreationForm):
    email = forms.EmailField(label="Email", max_length=254, help_text="For notices about your orders and payments.")
    # Filled in by the browser (static/js/app.js) with its own zone; empty without JavaScript (UTC).
    time_zone = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput(attrs={"data-guess-zone": ""}))

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
        fields = (
            "email",
            "bio",
            "withdrawal_method",
            "payout_account",
            "refund_to",
            "time_zone",
            "email_notifications",
        )
        labels = {"bio": "Bio", "payout_account": "Payout account"}
        widgets = {
            "bio": forms.Textarea(attrs={"rows": 5}),
            "refund_to": forms.RadioSelect,
            "time_zone": forms.Select(choices=time_zone_choices()),
            "email_notifications": forms.RadioSelect,
        }
        help_texts = {
            "bio": "Shown on your gigs. Plain text.",
            "payout_account": "Where withdrawals go: a debit card, a PayPal e-mail or an IBAN.",
            "refund_to": "When a seller declines a milestone or a dispute refunds you. Cancelling asks each time.",
            "time_zone": "Every time on the site is shown in it, and deadlines you type are read in it.",
            "email_notifications": "Which notifications are also sent to your e-mail. All of them stay on the site.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["withdrawal_method"].choices = withdrawal_method_choices()  # type: ignore[attr-defined]
        # Older clients and scripts post the profile without these: keep what is saved.
        for name in ("refund_to", "time_zone", "email_notifications"):
            self.fields[name].required = False

    def clean_refund_to(self) -> str:
        return self.cleaned_data.get("refund_to") or self.instance.refund_to or "balance"

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data.get("time_zone") or self.instance.time_zone or "UTC"
        if not is_time_zone(zone):
            raise forms.ValidationError("Choose a time zone from the list.")
        return zone

    def clean_email_notifications(self) -> str:
        return self.cleaned_data.get("email_notifications") or self.instance.email_notifications or "all"

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another account uses this e-mail.")
        return email
