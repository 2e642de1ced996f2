"""Issue 33 in Chromium: a support agent without two-factor is refused an order page, enrols and
enters a code, then reads it (and the read is logged); sign-up with the mail server down answers
at once, and the confirmation e-mail arrives once the server is back."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from notifications.models import OutgoingEmail
from notifications.services import outgoing_email_send
from notifications.sweeps import sweep_outgoing_emails
from orders.models import StaffFileRead
from orders.selectors import REFUSED
from tests.browser.conftest import log_in
from tests.factories import OrderFactory, StaffFactory, totp_code
from tests.smtp import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_support_without_two_factor_is_refused_then_enrols_and_reads_the_order(page):
    order = OrderFactory(title="Logo for a bakery")
    agent = StaffFactory(username="agent_ana", is_superuser=False, totp=False)
    # The "Support" group a migration makes (emptied with the tables between transactional tests).
    support, _ = Group.objects.get_or_create(name="Support")
    support.permissions.add(Permission.objects.get(codename="support_read", content_type__app_label="orders"))
    agent.groups.add(support)

    log_in(page, agent)
    page.goto(order.get_absolute_url())
    expect(page.get_by_role("heading", name="Two-factor authentication needed")).to_be_visible()
    expect(page.get_by_text("Logo for a bakery")).to_have_count(0)
    assert list(StaffFileRead.objects.values_list("kind", flat=True)) == [REFUSED]

    # (The password was typed a moment ago: the set-up does not ask for it again.)
    page.get_by_role("link", name="Set up two-factor authentication").click()
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()

    page.goto(order.get_absolute_url())
    expect(page.get_by_role("heading", name="Logo for a bakery")).to_be_visible()
    kinds = list(StaffFileRead.objects.filter(reader=agent).order_by("pk").values_list("kind", flat=True))
    assert kinds == [REFUSED, "order page"]


def test_sign_up_with_the_mail_server_down_answers_and_the_link_arrives_when_it_is_back(page, settings):
    server = SmtpServer()  # not started: connections are refused
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 1
    settings.EMAIL_USE_TLS = False
    try:
        page.goto("/accounts/signup/")
        page.get_by_label("Username").fill("nell")
        page.get_by_label("Email").fill("nell@example.com")
        page.get_by_label("Password", exact=True).fill("A-long-pass-9x")
        page.get_by_label("Password confirmation").fill("A-long-pass-9x")
        page.get_by_role("button", name="Sign up").click()
        expect(page).to_have_url(re.compile(r"/dashboard/"))
        assert User.objects.filter(username="nell").exists()

        queued = OutgoingEmail.objects.get(to="nell@example.com")
        assert outgoing_email_send(email_id=queued.pk) is False, "the worker's try: refused, recorded"

        server.start("accept")
        assert sweep_outgoing_emails(now=timezone.now() + timedelta(hours=1)).done == 1
        (message,) = server.received
        link = re.search(r"http://\S+/accounts/confirm-email/\S+/", message.get_payload())
        assert link, message.get_payload()
        page.goto(urlsplit(link.group(0)).path)  # the link is on SITE_URL; the live server is elsewhere
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator("body")).to_contain_text("confirmed")
    finally:
        server.stop()
