from __future__ import annotations

from django import forms

from webhooks.models import EVENT_TYPES


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=500,
        help_text="An https URL on a public address; we post each event to it as JSON.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/marketplace"}),
        error_messages={"required": "Enter the URL to post events to."},
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=EVENT_TYPES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event from the list."},
    )
