"""The order page and the approval's confirmation in the reader's language (issue 38): a buyer whose
profile says German reads German words and German amounts ("1.234,50 $"), and the same page in
English is unchanged."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from milestones.models import MilestoneState
from tests.factories import milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db


def visible(response) -> str:
    """The page's text, without tags, spaces made single."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def in_review(language: str):
    milestone = milestone_in(S.IN_REVIEW, amount="1234.50", title="Logo")
    buyer = milestone.order.buyer
    buyer.language = language
    buyer.save(update_fields=["language"])
    return milestone, buyer


def test_the_order_page_in_german(client):
    milestone, buyer = in_review("de")
    client.force_login(buyer)

    page = visible(client.get(milestone.order.get_absolute_url()))

    assert "1.234,50\xa0$" in page or "1.234,50 $" in page  # the milestone's amount, as German writes it
    for words in ("Meilensteine", "Fortschritt", "Nachrichten und Aktivität", "Freigeben", "Sie sind der Käufer"):
        assert words in page, words
    assert "hat „Logo“ zur Prüfung eingereicht." in page  # the activity log, after the seller's name
    for english in ("Milestones", "Progress", "Messages and activity", "you are the buyer", "submitted “Logo”"):
        assert english not in page, english


def test_the_approval_confirmation_in_german(client):
    milestone, buyer = in_review("de")
    client.force_login(buyer)

    page = visible(client.get(reverse("milestone_approve", args=[milestone.pk])))

    assert "Freigeben und Zahlung auszahlen" in page  # the heading
    assert "Dies kann nicht rückgängig gemacht werden." in page
    assert re.search(r"1\.234,50\s\$ wird jetzt an \S+ freigegeben", page), page
    assert "Bestätigen" in page  # the button
    assert "This cannot be undone." not in page


def test_approving_in_german_says_so_in_german(client):
    milestone, buyer = in_review("de")
    client.force_login(buyer)

    response = client.post(reverse("milestone_approve", args=[milestone.pk]), {}, follow=True)

    assert "Sie haben „Logo“ freigegeben; die Zahlung geht an den Verkäufer." in visible(response)


def test_the_same_pages_in_english_are_unchanged(client):
    milestone, buyer = in_review("en-gb")
    client.force_login(buyer)

    page = visible(client.get(milestone.order.get_absolute_url()))
    assert "1,234.50\xa0USD" in page or "1,234.50 USD" in page
    assert "Milestones" in page and "you are the buyer" in page
    confirm = visible(client.get(reverse("milestone_approve", args=[milestone.pk])))
    assert "Approve and release the payment" in confirm
    assert re.search(r"1,234\.50\sUSD is released to \S+ now; ", confirm)
    assert "This cannot be undone." in confirm


def test_the_cached_order_page_is_kept_per_language(client):
    """The page's parts are cached per viewer and version: the same viewer in another language (a new
    session, the profile changed) gets them in that language, not the cached German ones."""
    milestone, buyer = in_review("de")
    client.force_login(buyer)
    assert "Meilensteine" in visible(client.get(milestone.order.get_absolute_url()))

    buyer.language = "en-gb"
    buyer.save(update_fields=["language"])
    other = Client()
    other.force_login(buyer)
    page = visible(other.get(milestone.order.get_absolute_url()))
    assert "Milestones" in page and "Meilensteine" not in page


def test_a_german_amount_is_typed_with_a_comma(client):
    """The tip's amount takes the reader's decimal separator."""
    milestone = milestone_in(S.APPROVED, amount="100.00", title="Logo")
    buyer = milestone.order.buyer
    buyer.language = "de"
    buyer.save(update_fields=["language"])
    client.force_login(buyer)

    form_page = client.get(reverse("milestone_tip", args=[milestone.pk]))
    assert 'inputmode="decimal"' in form_page.content.decode()
    response = client.post(reverse("milestone_tip", args=[milestone.pk]), {"amount": "12,50", "method": "balance"})
    # Either it is paid, or refused for the balance: never "Enter the amount as a number".
    assert response.status_code in (200, 302, 400)
    if response.status_code != 302:
        form = response.context["form"]
        assert "amount" not in form.errors, form.errors


@pytest.mark.parametrize(
    ("language", "typed", "expected"),
    [("en-gb", "1,000.50", "1000.50"), ("en-gb", "40.00", "40.00"), ("de", "40,50", "40.50"), ("de", "40.00", "40.00")],
)
def test_a_split_amount_is_read_as_the_staff_member_writes_it(language, typed, expected):
    """The dispute's split amount, typed by staff: a German "40,50" is forty and a half, never 4050."""
    from decimal import Decimal

    from django.utils import translation

    from milestones.admin_views import DisputeResolutionForm

    disputed = milestone_in(S.DISPUTED, amount="2000.00")
    with translation.override(language):
        form = DisputeResolutionForm(
            {"seller_amount": typed, "note": "Half done."},
            dispute=disputed.dispute,
            outcome="split",
            held=disputed.amount,
        )
        assert form.is_valid(), form.errors
    assert form.cleaned_data["seller_amount"].amount == Decimal(expected)
