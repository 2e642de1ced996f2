"""The main pages are valid HTML, by the Nu HTML checker (vnu.jar, the npm package ``vnu-jar`` at
the version package.json pins, installed by ``make install``, run by the system's Java): the
checker W3C runs, which found the six-digit fractions in ``<time datetime>`` (issue 14) and, in its
2026 release, an ``aria-label`` on a generic ``<span>`` (issue 34). To move to a newer checker:
``npm view vnu-jar version``, put it in package.json, ``make install``, fix what it finds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from tests.pages import main_pages

pytestmark = pytest.mark.django_db


ROOT = Path(__file__).resolve().parents[2]
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def _vnu() -> Path:
    if not VNU.exists():
        pytest.fail("The Nu HTML checker is not installed: apt-get install -y npm, then make install.")
    return VNU


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        reason = "Java is not installed; the HTML validity check needs it (apt-get install default-jre-headless)."
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return java


def _errors(java: str, files: list[str]) -> list[str]:
    result = subprocess.run(
        [java, "-Xss4m", "-jar", str(_vnu()), "--format", "json", "--exit-zero-always", *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    return [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine', '?')}: {m['message']} [{m.get('extract', '').strip()[:80]}]"
        for m in messages
        if m.get("type") == "error"
    ]


def test_the_checker_finds_what_it_found_before(tmp_path):
    """The check can fail: a six-digit fraction in <time datetime> is an error."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!doctype html><html lang="en"><head><title>t</title></head>'
        '<body><time datetime="2026-12-03T06:00:00.123456+00:00">now</time></body></html>'
    )
    errors = _errors(_java(), [str(page)])
    assert len(errors) == 1 and "fraction of a second" in errors[0]


def test_the_checker_is_the_version_package_json_pins():
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["vnu-jar"]
    shown = subprocess.run(
        [_java(), "-jar", str(_vnu()), "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    assert (shown.stdout or shown.stderr).split()[0] == pinned


def test_an_aria_label_on_a_generic_span_is_an_error(tmp_path):
    """What the 2026 checker finds and the 2020 one did not (the rating stars, issue 34)."""
    page = tmp_path / "stars.html"
    page.write_text(
        '<!doctype html><html lang="en"><head><title>t</title></head>'
        '<body><span aria-label="Rated 5 out of 5">★★★★★</span></body></html>'
    )
    errors = _errors(_java(), [str(page)])
    assert len(errors) == 1 and "aria-label" in errors[0]


def test_the_main_pages_are_valid_html_in_every_language(tmp_path):
    """Each page as English, Spanish and German readers get it (a visitor by the browser's
    language, a member by the profile's): one run of the checker over all of them."""
    java = _java()
    world = main_pages()
    files = []
    for language, _name in settings.LANGUAGES:
        User.objects.update(language=language)
        for name, url, who in world.pages:
            client = Client(headers={"accept-language": language})
            if who is not None:
                who.refresh_from_db(fields=["language"])
                client.force_login(who)
            response = client.get(url)
            assert response.status_code == 200, (name, url, response.status_code)
            assert f'<html lang="{language}">' in response.content.decode(), (language, name)
            path = tmp_path / (re.sub(r"\W+", "-", f"{language}-{name}") + ".html")
            path.write_bytes(response.content)
            files.append(str(path))
    errors = _errors(java, files)
    assert not errors, "\n".join(errors)
