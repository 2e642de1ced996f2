"""Forms of the order pages: opening an order from a gig, and messages."""

from __future__ import annotations

from django import forms

from marketplace.forms import MultipleFileField, OneUseForm


class OrderStartForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200, help_text="A name for this engagement.")
    brief = forms.CharField(
        label="Brief",
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What you need, for the seller to read before the first milestone.",
    )


class MessageForm(OneUseForm):
    body = forms.CharField(label="Message", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    attachment = MultipleFileField(
        label="Attach files",
        required=False,
        help_text="Up to 5 files: the same types and sizes as deliverables.",
    )
