"""The review forms: they parse; ``reviews.services`` decides."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.utils.translation import gettext_lazy as _

from orders.forms import MessageBodyField

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

STARS = [
    ("5", _("5 – excellent")),
    ("4", _("4 – good")),
    ("3", _("3 – fair")),
    ("2", _("2 – poor")),
    ("1", _("1 – bad")),
]


def _stars(label: StrOrPromise) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=STARS, widget=forms.RadioSelect)


class BuyerReviewForm(forms.Form):
    communication = _stars(_("Communication"))
    service = _stars(_("Service as described"))
    recommend = _stars(_("Would recommend"))
    text = MessageBodyField(
        label=_("Review"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Public, on the seller's profile. The seller sees it once they have reviewed you too, "
            "or when the review window closes."
        ),
    )


class SellerReviewForm(forms.Form):
    rating = _stars(_("Rating"))
    text = MessageBodyField(
        label=_("Review"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("The buyer sees it once they have reviewed you too, or when the review window closes."),
    )


class ReplyForm(forms.Form):
    text = MessageBodyField(
        label=_("Your public reply"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One reply, shown under the review; it cannot be changed."),
    )
