from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Your password, to show it is you."),
    )
    confirm = forms.BooleanField(
        label=_("I understand my account cannot be recovered"),
        help_text=_(
            "Your name, e-mail, bio, payout details and notices are erased and you cannot log in again. "
            "Orders, messages, reviews and payments stay on record for the other party and the accounts, "
            "under “deleted-” and a number."
        ),
    )
