"""The review forms: they parse; ``reviews.services`` decides."""

from __future__ import annotations

from django import forms

from orders.forms import MessageBodyField

STARS = [
    (str(n), f"{n} – {label}") for n, label in ((5, "excellent"), (4, "good"), (3, "fair"), (2, "poor"), (1, "bad"))
]


def _stars(label: str) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=STARS, widget=forms.RadioSelect)


class BuyerReviewForm(forms.Form):
    communication = _stars("Communication")
    service = _stars("Service as described")
    recommend = _stars("Would recommend")
    text = MessageBodyField(
        label="Review",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Public, on the seller's profile. The seller sees it once they have reviewed you too, "
        "or when the review window closes.",
    )


class SellerReviewForm(forms.Form):
    rating = _stars("Rating")
    text = MessageBodyField(
        label="Review",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="The buyer sees it once they have reviewed you too, or when the review window closes.",
    )


class ReplyForm(forms.Form):
    text = MessageBodyField(
        label="Your public reply",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One reply, shown under the review; it cannot be changed.",
    )
