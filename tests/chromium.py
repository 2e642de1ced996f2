"""One Chromium for the whole run, shared by tests/browser and tests/admin (imported by tests/conftest.py).

Starting Playwright's driver and Chromium takes two to four seconds; each browser module did it.
Now the first test that needs ``browser`` starts them and they stay until the run ends (each
test still gets fresh contexts, so no cookie or page carries over).

Playwright's sync API keeps its event loop marked as running in this thread between calls;
Django refuses ORM calls from a thread with a running loop unless ``DJANGO_ALLOW_ASYNC_UNSAFE``
is set, and keeps their connections per context rather than per thread.
``_event_loop_only_in_browser_tests`` keeps both to the browser tests: a browser test runs with
the variable set (its ORM calls are safe: the test drives, the live server answers in its own
thread), and every other test runs with the loop unmarked, as if Playwright had never started,
so Django's guard still works there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# The session's Playwright, browser and event loop, once ``browser`` has started them.
_started: list = []


@pytest.fixture(scope="session")
def _chromium(django_db_setup) -> Iterator[list]:
    """Closes what ``browser`` started, at the end of the run and before the test database is
    dropped (hence ``django_db_setup``: only browser tests, which have a database, ask for this)."""
    yield _started
    if _started:
        playwright, browser, loop = _started
        asyncio._set_running_loop(loop)
        browser.close()
        playwright.stop()
        asyncio._set_running_loop(None)
        _started.clear()


@pytest.fixture
def browser(_chromium: list):
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM}; the browser tests need it (apt-get install -y chromium)."
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    if not _started:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        _started.extend([playwright, browser, asyncio._get_running_loop()])
    return _started[1]


@pytest.fixture(autouse=True)
def _event_loop_only_in_browser_tests(request) -> Iterator[None]:
    """A browser test runs with Playwright's loop marked and ``DJANGO_ALLOW_ASYNC_UNSAFE`` set;
    when it ends (before its database is flushed) and in every other test, neither."""
    if "browser" not in request.fixturenames:
        asyncio._set_running_loop(None)
        yield
        return
    if _started:
        asyncio._set_running_loop(_started[2])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        try:
            yield
        finally:
            # While a loop is marked, Django keeps connections per context, not per thread: close
            # the ones this test's ORM calls opened so, before the flush (on the thread's own) and
            # the end of the run (dropping the database) could find them open.
            connections.close_all()
            asyncio._set_running_loop(None)
