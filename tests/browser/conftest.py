"""Real Chromium through Playwright's sync API, against pytest-django's live server.

One browser per module (see ``browser``); each test gets fresh contexts (its own cookies), one
per person it plays. On failure every open page is saved to test-artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# Module-scoped, not session-scoped: while Playwright's sync API runs, no other
# sync_playwright() may start in this process (tests/admin starts its own), so
# the browser is closed when this folder's module is done.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM}; the browser tests need it."
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread for as long as
    # the browser is open; Django refuses ORM calls from a thread with a
    # running loop unless told it is safe, which it is here (the test drives,
    # the live server answers in its own thread). Set for exactly that span,
    # never for the rest of the suite.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            yield browser
            browser.close()
        # The ORM calls made while Playwright's loop ran hold a connection the end
        # of the session would not see; dropping the test database needs it closed.
        connections.close_all()


@pytest.fixture
def new_page(browser, live_server, request) -> Iterator[Callable]:
    """``new_page()`` opens a page in a fresh context: one per person in the test."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server.url)
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
