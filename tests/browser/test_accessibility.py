"""The main pages pass axe-core's WCAG 2 A and AA rules in Chromium, as a
screen-reader or keyboard user would need, for the person who uses each."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.models import User
from tests.browser.conftest import PASSWORD
from tests.pages import main_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
AXE = (Path(__file__).resolve().parents[1] / "vendor" / "axe.min.js").read_text()
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.mark.parametrize("language", ["en-gb", "es", "de"])
def test_the_main_pages_pass_axe(browser, live_server, language):
    """In each language: a visitor's by the browser's Accept-Language, a member's by the profile."""
    world = main_pages()
    User.objects.update(language=language)
    contexts = {}
    found = []
    try:
        for name, url, who in world.pages:
            key = getattr(who, "username", "")
            if key not in contexts:
                # axe is evaluated in the page, so the site's CSP (no inline script) is set aside for it here only.
                # Members log in on the English page (the form is found by its English label) and then
                # read in their profile's language.
                headers = {} if who is not None else {"Accept-Language": language}
                context = browser.new_context(base_url=live_server.url, bypass_csp=True, extra_http_headers=headers)
                context.set_default_timeout(10_000)
                page = context.new_page()
                if who is not None:
                    page.goto("/accounts/login/")
                    page.get_by_label("Username").fill(who.username)
                    page.get_by_label("Password").fill(PASSWORD)
                    page.get_by_role("button", name="Log in").click()
                    page.wait_for_url(lambda u: "/accounts/login/" not in u)
                contexts[key] = (context, page)
            page = contexts[key][1]
            page.goto(url)
            assert page.evaluate("document.documentElement.lang") == language, (name, language)
            page.evaluate(AXE)
            result = page.evaluate("options => axe.run(document, options)", RULES)
            for violation in result["violations"]:
                targets = [", ".join(node["target"]) for node in violation["nodes"]][:3]
                found.append(f"{name}: {violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    finally:
        for context, _page in contexts.values():
            context.close()
    assert not found, "\n".join(found)


def test_the_check_sees_a_violation_when_there_is_one(page):
    """The check above can fail: an unlabelled input is reported."""
    page.goto("/")
    page.evaluate(AXE)
    page.evaluate("() => document.querySelector('main').insertAdjacentHTML('beforeend', '<input type=text>')")
    result = page.evaluate("options => axe.run(document, options)", RULES)
    assert "label" in {violation["id"] for violation in result["violations"]}
