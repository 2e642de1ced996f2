"""The gig editor in real Chromium, by its labels (issue 35): a seller creates a gig with two
packages, the second of three steps with 1 revision on the first, an extra and one required
question, and the gig page shows the workflow. Once with JavaScript, once without: "Add step" and
"Add package" are plain submit buttons either way."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from gigs.models import Gig, GigExtra, PackageStep, RequirementQuestion
from tests.browser.conftest import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_step(page, package: int, step: int, title: str, days: str, price: str, revisions: str | None = None):
    group = page.get_by_role("region", name=f"Package {package}").get_by_role("group", name=f"Step {step}")
    group.get_by_label("Step title").fill(title)
    group.get_by_label("Deliverables").fill(f"{title}: the files.")
    group.get_by_label("Days", exact=True).fill(days)
    group.get_by_label("Price", exact=True).fill(price)
    if revisions is not None:
        group.get_by_label("Revisions included").fill(revisions)


def create_gig(page) -> None:
    page.goto("/gigs/new/")
    page.get_by_label("Title", exact=True).fill("I will build your app")
    page.get_by_label("Description", exact=True).fill("From design to launch.")
    basic = page.get_by_role("region", name="Package 1")
    expect(basic.get_by_label("Package name")).to_have_value("Basic")
    fill_step(page, 1, 1, "Design and build", "7", "150")
    page.get_by_role("button", name="Add package").click()
    standard = page.get_by_role("region", name="Package 2")
    expect(standard.get_by_label("Package name")).to_have_value("Standard")
    expect(basic.get_by_role("group", name="Step 1").get_by_label("Step title")).to_have_value("Design and build")
    standard.get_by_label("Package description").fill("The app in three phases.")
    fill_step(page, 2, 1, "UI/UX design", "5", "200", revisions="1")
    standard.get_by_role("button", name="Add step").click()
    fill_step(page, 2, 2, "Backend development", "10", "400")
    page.get_by_role("region", name="Package 2").get_by_role("button", name="Add step").click()
    fill_step(page, 2, 3, "Final launch", "2", "100")
    page.get_by_role("button", name="Add extra").click()
    page.get_by_label("Extra title").fill("Documentation")
    page.get_by_label("Extra price").fill("30")
    page.get_by_label("Extra days").fill("2")
    page.get_by_role("button", name="Add question").click()
    page.get_by_label("Question", exact=True).fill("Which platforms?")
    expect(page.get_by_label("Required")).to_be_checked()
    page.get_by_role("button", name="Publish gig").click()
    expect(page.get_by_role("heading", name="I will build your app", level=1)).to_be_visible()


def assert_created(page) -> None:
    gig = Gig.objects.get()
    assert list(
        PackageStep.objects.filter(package__gig=gig).values_list(
            "package__name", "position", "title", "price", "revisions_included"
        )
    ) == [
        ("Basic", 1, "Design and build", Decimal("150.00"), 1),
        ("Standard", 1, "UI/UX design", Decimal("200.00"), 1),
        ("Standard", 2, "Backend development", Decimal("400.00"), 1),
        ("Standard", 3, "Final launch", Decimal("100.00"), 1),
    ]
    assert list(GigExtra.objects.values_list("title", "days", "attach_to_step")) == [("Documentation", 2, None)]
    assert list(RequirementQuestion.objects.values_list("question", "required")) == [("Which platforms?", True)]
    workflow = page.get_by_role("list", name="Workflow of Standard")
    expect(workflow.get_by_role("listitem")).to_have_count(3)
    expect(workflow).to_contain_text("Backend development")
    expect(page.get_by_text("700.00 USD")).to_be_visible()


def test_a_seller_creates_a_gig_with_two_packages(page):
    log_in(page, UserFactory(username="sam_seller"))
    create_gig(page)
    assert_created(page)


def test_the_editor_works_without_javascript(browser, live_server):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, UserFactory(username="sam_seller"))
        create_gig(page)
        assert_created(page)
    finally:
        page.wait_for_load_state("load")
        context.close()
