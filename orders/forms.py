from __future__ import annotations

from django import forms


class MessageForm(forms.Form):
    body = forms.CharField(label="Message", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
