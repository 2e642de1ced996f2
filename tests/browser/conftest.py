"""Real Chromium through Playwright's sync API, against pytest-django's live server.

One browser for the whole run (``browser``, tests/chromium.py); each test gets fresh contexts (its
own cookies), one per person it plays. On failure every open page is saved to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def new_page(browser, live_server, request) -> Iterator[Callable]:
    """``new_page()`` opens a page in a fresh context: one per person in the test
    (``new_page(extra_http_headers={"Accept-Language": "es"})``: a browser that asks for Spanish)."""
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make

    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        for index, context in enumerate(contexts):
            for number, page in enumerate(context.pages):
                page.screenshot(path=str(ARTIFACTS / f"{name}-{index}-{number}.png"), full_page=True)
    for context in contexts:
        # Let any request still in flight finish before the database is flushed.
        for page in context.pages:
            page.wait_for_load_state("load")
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def log_in(page, user) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    if "/accounts/2fa/authenticate/" in page.url:
        # Enrolled in two-factor (staff): the code their authenticator app shows now.
        from tests.factories import totp_code

        page.get_by_label("Authenticator code").fill(totp_code())
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(lambda url: "/accounts/2fa/" not in url)
