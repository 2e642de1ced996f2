from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.errors import InvalidInput
from webhooks.addresses import url_target
from webhooks.models import EVENT_TYPES


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        help_text=_("An https URL on a public address; we post each event to it as JSON."),
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/marketplace"}),
        error_messages={"required": _("Enter the URL to post events to.")},
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EVENT_TYPES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event from the list.")},
    )

    def clean_url(self) -> str:
        """The service's own check, so a bad URL shows beside the field with the other errors."""
        url: str = self.cleaned_data["url"]
        try:
            url_target(url)
        except InvalidInput as error:
            raise forms.ValidationError(error.message) from None
        return url
