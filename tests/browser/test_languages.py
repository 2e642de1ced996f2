"""Issue 38 in real Chromium: a visitor whose browser asks for Spanish reads the site in Spanish up to
the provider's checkout; a buyer who chooses German on the profile reads the order page, the
approval's confirmation and the receipt in German with German numbers; the seller, who reads
Spanish, receives the e-mail of the approval in Spanish. The expected words are read from the
catalogues (what a translator changes there, the test follows), never English."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import expect

from milestones.models import Milestone, MilestoneState
from notifications.models import Notification
from notifications.services import notification_emails_send
from payments.models import Transaction
from tests.browser.conftest import log_in
from tests.factories import GigFactory, OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def words(language: str, message: str, context: str | None = None) -> str:
    """``message`` as the catalogue of ``language`` has it (a test that fails on English)."""
    with translation.override(language):
        text = translation.pgettext(context, message) if context else translation.gettext(message)
    assert text != message, f"{message!r} has no {language} translation"
    return text


def test_a_spanish_visitor_reads_spanish_from_the_home_page_to_the_sandbox_checkout(new_page):
    seller = UserFactory(username="bob_seller")
    gig = GigFactory(seller=seller, title="Logo design")
    page = new_page(extra_http_headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("link", name=words("es", "Browse gigs"))).to_be_visible()
    page.goto(reverse("signup"))
    expect(page.get_by_role("button", name=words("es", "Sign up"), exact=True).last).to_be_visible()
    page.locator("input[name=username]").fill("lucia")
    page.locator("input[name=email]").fill("lucia@example.com")
    page.locator("input[name=password1]").fill("a-long-Passphrase-42")
    page.locator("input[name=password2]").fill("a-long-Passphrase-42")
    page.locator("form.signup-form button[type=submit], main form button[type=submit]").last.click()
    page.wait_for_url(lambda url: "/signup/" not in url)
    lucia = type(seller).objects.get(username="lucia")
    assert lucia.language == "es", "sign-up keeps the language the page was read in"
    EmailAddress.objects.filter(user=lucia).update(verified=True)  # she followed the link we sent
    page.goto(gig.get_absolute_url())
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Logo design")
    # An order with her, a milestone to fund: the provider's hosted page is in Spanish too.
    order = OrderFactory(buyer=lucia, seller=seller, gig=gig)
    milestone = milestone_in(S.AWAITING_PAYMENT, order, title="Logo", amount="1234.50")
    page.goto(order.get_absolute_url())
    page.locator(f"#milestone-{milestone.pk}").get_by_role("button", name=words("es", "Pay now")).click()
    assert "/sandbox/checkout/" in page.url
    expect(page.locator("html")).to_have_attribute("lang", "es")
    # The amount and the service fee, as Spanish writes dollars: "1.302,40 US$".
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(r"1\.\d{3},\d{2}\u00a0US\$"))
    expect(page.get_by_role("button", name=words("es", "Pay"), exact=True)).to_be_visible()


def test_a_german_buyer_approves_and_reads_the_receipt_in_german_and_the_seller_gets_spanish_mail(new_page):
    seller = UserFactory(username="bob_seller", language="es", email="bob@example.com")
    buyer = UserFactory(username="alice_buyer")
    order = OrderFactory(buyer=buyer, seller=seller, title="Website")
    milestone = milestone_in(S.IN_REVIEW, order, title="Wireframes", amount="1234.50")
    page = new_page()
    log_in(page, buyer)
    # She chooses German on her profile.
    page.goto(reverse("profile"))
    page.locator("#id_language").select_option("de")  # the profile's "Language" (the footer has one too)
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    buyer.refresh_from_db()
    assert buyer.language == "de"

    page.goto(order.get_absolute_url())
    box = page.locator(f"#milestone-{milestone.pk}")
    expect(box).to_contain_text("1.234,50\u00a0$")
    box.get_by_role("button", name=words("de", "Approve"), exact=True).click()
    note = page.get_by_role("note")
    expect(note).to_contain_text("1.234,50")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_role("button", name=words("de", "Confirm"), exact=True).click()
    expect(box).to_have_attribute("data-milestone-state", S.APPROVED)
    assert Milestone.objects.get(pk=milestone.pk).state == S.APPROVED

    # The receipt of the payment, in German, with German numbers.
    charge = Transaction.objects.filter(milestone=milestone).order_by("pk").first()
    page.goto(reverse("receipt", args=[charge.pk]))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("main")).to_contain_text(re.compile(r"1\.234,50"))

    # The seller reads Spanish: the notice of the approval is written in Spanish (with the amount as
    # Spanish writes it) however the buyer reads, and so is its e-mail.
    notice = Notification.objects.filter(recipient=seller, event="milestone_approved").order_by("-pk").first()
    assert notice is not None
    # What the seller receives (the amount less the commission), as Spanish writes dollars.
    assert re.search(r"\d,\d{2}\u00a0US\$", notice.message), notice.message
    assert words("es", "Approve") not in notice.message and "approved" not in notice.message
    notification_emails_send(notification_ids=[notice.pk])
    to_seller = [m for m in mail.outbox if m.to == [seller.email]]
    assert to_seller, "the seller is e-mailed"
    assert notice.message.split(".")[0][:60] in to_seller[-1].subject + to_seller[-1].body
