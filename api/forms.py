from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from api.models import ApiScope


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("Name"), help_text=_("What uses it, e.g. “Agency board”."))
    scope = forms.ChoiceField(
        choices=ApiScope.choices,
        initial=ApiScope.READ,
        widget=forms.RadioSelect,
        label=_("Scope"),
        help_text=_("A read token can look but never change anything."),
    )
