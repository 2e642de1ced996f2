"""Forms of the order page.

A form whose service has no state to refuse a repeat (messages, dispute
statements) carries a key made when the form is rendered; the service stores
it under a unique index, so the same form sent twice (double click, back
button, two tabs, two web processes) adds one row."""

from __future__ import annotations

import uuid

from django import forms


class OneUseForm(forms.Form):
    """Carries a fresh key each time it is rendered, passed to the service as
    ``idempotency_key``."""

    token = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("token", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)


class MessageForm(OneUseForm):
    body = forms.CharField(label="Message", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
