from __future__ import annotations

from django import forms

from api.models import ApiScope


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “Agency board”.")
    scope = forms.ChoiceField(
        choices=ApiScope.choices,
        initial=ApiScope.READ,
        widget=forms.RadioSelect,
        help_text="A read token can look but never change anything.",
    )
