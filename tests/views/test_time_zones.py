"""Time zones: each user sees every time in their own zone, with the zone
named on deadlines; a deadline is typed in the viewer's zone and stored in
UTC; the zone is guessed by the browser at sign-up and set on the profile."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.models import User
from milestones.models import Milestone, MilestoneState
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def test_each_party_sees_the_deadline_in_their_own_zone_with_its_name(client):
    order = OrderFactory(
        buyer=UserFactory(username="tokyo_buyer", time_zone="Asia/Tokyo"),
        seller=UserFactory(username="paris_seller", time_zone="Europe/Paris"),
    )
    milestone = milestone_in(MilestoneState.IN_PROGRESS, order)
    Milestone.objects.filter(pk=milestone.pk).update(deadline=datetime(2027, 1, 10, 3, 0, tzinfo=UTC))

    client.force_login(order.buyer)
    assert "10 Jan 2027 12:00 JST" in text(client.get(order.get_absolute_url()))
    client.force_login(order.seller)
    page = text(client.get(order.get_absolute_url()))
    assert "10 Jan 2027 04:00 CET" in page
    # The machine-readable time is the same instant for both, in UTC.
    assert '<time datetime="2027-01-10T03:00:00+00:00">' in page


def test_a_deadline_is_typed_in_the_viewers_zone_and_stored_in_utc(client):
    order = OrderFactory(seller=UserFactory(username="tokyo_seller", time_zone="Asia/Tokyo"))
    milestone_in(MilestoneState.APPROVED, order)
    client.force_login(order.seller)
    form = text(client.get(reverse("offer_new", args=[order.pk])))
    token = re.search(r'name="token" value="([0-9a-f]+)"', form)
    assert token is not None
    response = client.post(
        reverse("offer_new", args=[order.pk]),
        {
            "token": token.group(1),
            "title": "Maintenance",
            "description": "Three months of fixes.",
            "deadline": "2030-01-10T12:00",
            "amount": "100.00",
        },
    )
    assert response.status_code == 302, text(response)
    offer = Milestone.objects.filter(order=order, title="Maintenance").first()
    assert offer is not None, text(client.get(response["Location"]))
    assert offer.deadline == datetime(2030, 1, 10, 3, 0, tzinfo=UTC)
    # The buyer in UTC sees 03:00 UTC.
    client.force_login(order.buyer)
    assert "10 Jan 2030 03:00 UTC" in text(client.get(order.get_absolute_url()))


def test_sign_up_keeps_the_browsers_zone_and_ignores_one_we_do_not_know(client):
    password = "a-Long-and-unusual-passphrase-42"
    for username, zone, kept in (("kyoto", "Asia/Tokyo", "Asia/Tokyo"), ("nowhere", "Mars/Olympus", "UTC")):
        client.logout()
        response = client.post(
            reverse("signup"),
            {
                "username": username,
                "email": f"{username}@example.com",
                "password1": password,
                "password2": password,
                "time_zone": zone,
            },
        )
        assert response.status_code == 302, text(response)
        assert User.objects.get(username=username).time_zone == kept


def test_the_signup_page_carries_the_field_the_browser_fills(client):
    html = text(client.get(reverse("signup")))
    assert 'name="time_zone"' in html and "data-guess-zone" in html


# (the saved zone, options selected): an alias ("GB-Eire") is offered as the zone it stands for,
# which the profile preselects (``ProfileForm``); a zone that stands for none comes first, as it is.
@pytest.mark.parametrize(
    ("saved", "selected"), [("", 0), ("Europe/London", 1), ("GB-Eire", 0), ("Mars/Olympus<&'", 1), ("UTC", 1)]
)
@pytest.mark.parametrize("attrs", [None, {"aria-describedby": "a b", "required": True, "disabled": False, "x": "<'>"}])
def test_the_zone_list_is_the_markup_djangos_select_writes(saved, selected, attrs):
    """The zone field writes its ~430 options itself (``accounts.forms.ZoneSelect``, for speed):
    character for character what Django's ``Select`` templates write, the saved zone selected."""
    from django import forms

    from accounts.forms import TimeZoneField, ZoneSelect
    from accounts.zones import zone_choices

    class Ours(forms.Form):
        time_zone = TimeZoneField(required=False)

    class Djangos(forms.Form):
        time_zone = TimeZoneField(required=False, widget=forms.Select)

    ours, djangos = Ours(initial={"time_zone": saved}), Djangos(initial={"time_zone": saved})
    for form in (ours, djangos):
        form.fields["time_zone"].choices = zone_choices(saved)
    assert isinstance(ours.fields["time_zone"].widget, ZoneSelect)
    html = ours["time_zone"].as_widget(attrs=attrs)
    assert html == djangos["time_zone"].as_widget(attrs=attrs)
    assert html.count("<option") > 400 and html.count(" selected>") == selected
