"""Issue 34, item 13: the profile's time-zone list puts the browser's zone first and selects it
until the user has chosen one; a zone the user chose stays selected. In real Chromium, with the
browser's zone set for the context (a browser may report an alias: "Asia/Calcutta")."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from tests.browser.conftest import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _profile_in(browser, live_server, user, zone: str):
    context = browser.new_context(base_url=live_server.url, timezone_id=zone)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, user)
    page.goto("/accounts/profile/")
    return context, page


def test_the_browsers_zone_comes_first_and_is_preselected_until_one_is_chosen(browser, live_server):
    user = UserFactory(username="asha")  # on UTC, the default: not chosen
    context, page = _profile_in(browser, live_server, user, "Asia/Calcutta")
    try:
        select = page.get_by_label("Time zone")
        first_group = select.locator("optgroup").first
        expect(first_group).to_have_attribute("label", "Your browser's zone")
        expect(first_group.locator("option")).to_have_attribute("value", "Asia/Kolkata")
        expect(select).to_have_value("Asia/Kolkata")
        page.get_by_role("button", name="Save profile").click()
        expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    finally:
        page.wait_for_load_state("load")
        context.close()
    saved = User.objects.get(pk=user.pk)
    assert saved.time_zone == "Asia/Kolkata" and saved.time_zone_chosen_at is not None


def test_a_chosen_zone_stays_selected_in_another_browsers_zone(browser, live_server):
    user = UserFactory(username="lena", time_zone="Europe/Berlin", time_zone_chosen_at=timezone.now())
    context, page = _profile_in(browser, live_server, user, "America/New_York")
    try:
        select = page.get_by_label("Time zone")
        expect(select.locator("optgroup").first).to_have_attribute("label", "Your browser's zone")
        expect(select).to_have_value("Europe/Berlin")
    finally:
        page.wait_for_load_state("load")
        context.close()
