"""Forms of the order pages: opening an order from a gig, and messages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.forms import MultipleFileField, OneUseForm
from marketplace.uploads import upload_rules_words


class OrderStartForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, help_text=_("A name for this engagement."))
    brief = forms.CharField(
        label=_("Brief"),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What you need, for the seller to read before the first milestone."),
    )


# A message's limit, in characters as the reader sees them (a line break is one).
MESSAGE_LIMIT = 5000
# What a refused message may keep in the session to come back in its box: far over the limit,
# so what was typed comes back whole, and still bounded.
DRAFT_LIMIT = 10 * MESSAGE_LIMIT


class MessageBodyField(forms.CharField):
    """A message's text. Its line breaks count one each, as the box counts them
    (a browser sends each as CR LF), so a message the box took is not refused for
    its line breaks. The box has no ``maxlength``: a browser would cut a longer
    paste without a word; over the limit, the message is refused with the count,
    and the whole text comes back to be shortened."""

    def to_python(self, value):
        text = super().to_python(value)
        return text.replace("\r\n", "\n").replace("\r", "\n") if text else text

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs


class MessageForm(OneUseForm):
    body = MessageBodyField(label=_("Message"), max_length=MESSAGE_LIMIT, widget=forms.Textarea(attrs={"rows": 3}))
    attachment = MultipleFileField(
        label=_("Attach files"),
        required=False,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The limits ``orders.services.check_attachments`` applies, read from the same settings.
        from orders.services import MAX_MESSAGE_FILES

        self.fields["attachment"].help_text = upload_rules_words(MAX_MESSAGE_FILES)
