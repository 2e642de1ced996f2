"""Accounts in real Chromium, by labels: a password reset from the e-mail to
the next log-in; a buyer who has not confirmed the e-mail is asked to before
paying, confirms by the link and pays; staff without two-factor do not get
into the admin, staff with it do."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from milestones.models import Milestone
from tests.browser.conftest import log_in
from tests.factories import OrderFactory, StaffFactory, UserFactory, milestone_in, totp_code
from tests.mail import deliver_queued_mail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LOCAL = "%Y-%m-%dT%H:%M"


def link_in(message) -> str:
    found = re.search(r"https?://[^/\s]+(/\S+)", message.body)
    assert found, message.body
    return found.group(1)


def test_password_reset_from_the_email_to_the_next_log_in(page):
    UserFactory(username="forgetful", email="forgetful@example.com")
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("forgetful@example.com")
    page.get_by_role("button", name="Reset my password").click()
    expect(page.locator("body")).to_contain_text("We have sent you an email")
    deliver_queued_mail()
    assert len(mail.outbox) == 1

    page.goto(link_in(mail.outbox[0]))
    page.get_by_label("New password", exact=True).fill("A-brand-new-pass-31")
    page.get_by_label("New password confirmation").fill("A-brand-new-pass-31")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("body")).to_contain_text("Your password is now changed")

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("forgetful")
    page.get_by_label("Password").fill("A-brand-new-pass-31")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def test_an_unconfirmed_buyer_is_asked_to_confirm_before_paying_then_pays(page):
    buyer = UserFactory(username="fresh_buyer", verified=False)
    order = OrderFactory(buyer=buyer, title="Shop")
    log_in(page, buyer)
    page.goto(order.get_absolute_url())
    page.get_by_role("button", name="Create milestone").first.click()
    page.get_by_label("Title").fill("Design")
    page.get_by_label("Description").fill("Wireframes for every screen.")
    page.get_by_label("Deadline").fill((timezone.localtime() + timedelta(days=7)).strftime(LOCAL))
    page.get_by_label("Amount").fill("100")
    page.get_by_role("button", name="Create milestone").click()
    expect(page.get_by_role("heading", name="Confirm your e-mail address first")).to_be_visible()

    # Paying anyway is refused, with what to do; nothing is created.
    page.get_by_role("button", name="Pay by card").click()
    expect(page.get_by_text("Confirm your e-mail address before you pay")).to_be_visible()
    assert not Milestone.objects.exists()

    mail.outbox.clear()
    page.get_by_role("button", name="Send the link again").click()
    expect(page.locator("body")).to_contain_text("Confirmation email sent")
    deliver_queued_mail()
    assert len(mail.outbox) == 1
    pay_page = order.get_absolute_url()
    page.goto(link_in(mail.outbox[0]))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("body")).to_contain_text("You have confirmed")

    page.goto(pay_page)
    page.get_by_role("button", name="Create milestone").first.click()
    page.get_by_label("Title").fill("Design")
    page.get_by_label("Description").fill("Wireframes for every screen.")
    page.get_by_label("Deadline").fill((timezone.localtime() + timedelta(days=7)).strftime(LOCAL))
    page.get_by_label("Amount").fill("100")
    page.get_by_role("button", name="Create milestone").click()
    expect(page.get_by_role("heading", name="Confirm your e-mail address first")).to_have_count(0)
    page.get_by_role("button", name="Pay by card").click()
    expect(page.get_by_text("Sandbox checkout")).to_be_visible()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.locator("body")).to_contain_text("Design")
    assert Milestone.objects.get(order=order).state == "awaiting_acceptance"


def test_staff_without_two_factor_cannot_open_the_admin_and_with_it_can(new_page):
    clerk = StaffFactory(username="clerk_no_2fa", totp=False)
    enrolled = StaffFactory(username="stella_2fa")

    page = new_page()
    log_in(page, clerk)
    page.goto("/admin/")
    expect(page).not_to_have_url(re.compile(r"/admin/"))
    expect(page.locator("body")).to_contain_text("Set up two-factor authentication")
    expect(page.get_by_role("heading", name="Run the marketplace")).to_have_count(0)

    page = new_page()
    page.goto("/admin/")
    page.get_by_label("Username").fill(enrolled.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Authenticator code").fill(totp_code())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Run the marketplace")).to_be_visible()


def test_a_deadline_typed_in_tokyo_is_shown_to_each_party_in_their_own_zone(new_page):
    from milestones.models import MilestoneState

    order = OrderFactory(
        buyer=UserFactory(username="paris_buyer", time_zone="Europe/Paris"),
        seller=UserFactory(username="tokyo_seller", time_zone="Asia/Tokyo"),
    )
    milestone_in(MilestoneState.APPROVED, order=order, title="Discovery")
    seller_page, buyer_page = new_page(), new_page()
    log_in(seller_page, order.seller)
    log_in(buyer_page, order.buyer)

    seller_page.goto(order.get_absolute_url())
    seller_page.get_by_role("button", name="Propose a milestone").click()
    seller_page.get_by_label("Title").fill("Packaging")
    seller_page.get_by_label("Description").fill("Box and label designs.")
    seller_page.get_by_label("Deadline").fill("2030-01-10T12:00")
    seller_page.get_by_label("Amount").fill("200")
    seller_page.get_by_role("button", name="Send offer").click()
    offer = Milestone.objects.get(order=order, title="Packaging")
    assert offer.deadline.isoformat() == "2030-01-10T03:00:00+00:00", "typed in Tokyo, stored in UTC"
    expect(seller_page.locator(f"#milestone-{offer.pk}")).to_contain_text("10 Jan 2030 12:00 JST")

    buyer_page.goto(order.get_absolute_url())
    expect(buyer_page.locator(f"#milestone-{offer.pk}")).to_contain_text("10 Jan 2030 04:00 CET")


def test_sign_up_takes_the_browsers_time_zone(browser, live_server):
    from accounts.models import User

    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        page.goto("/accounts/signup/")
        page.get_by_label("Username").fill("kenji")
        page.get_by_label("Email").fill("kenji@example.com")
        page.get_by_label("Password", exact=True).fill("A-long-pass-9x-tokyo")
        page.get_by_label("Password confirmation").fill("A-long-pass-9x-tokyo")
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url(lambda url: "/accounts/signup/" not in url)
    finally:
        context.close()
    assert User.objects.get(username="kenji").time_zone == "Asia/Tokyo"
