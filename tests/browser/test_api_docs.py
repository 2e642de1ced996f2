"""The API's pages in Chromium: a token created on the profile, and the docs (Swagger UI from this
host) working under the site's Content Security Policy."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_creates_a_token_and_reads_the_docs_under_the_csp(page):
    user = UserFactory()
    refused: list[str] = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    log_in(page, user)
    page.goto("/accounts/profile/")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("Agency board")
    page.get_by_label("read and write").check()
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").input_value()
    assert secret.startswith("mkt_")
    assert page.get_by_role("button", name="Revoke Agency board").is_visible()
    page.get_by_role("contentinfo").get_by_role("link", name="API").click()
    page.wait_for_url("**/api/docs/")
    page.get_by_text("/api/v1/milestones/{id}/approve/").first.wait_for()
    assert page.get_by_text("Milestone Marketplace API").first.is_visible()
    assert refused == [], refused
