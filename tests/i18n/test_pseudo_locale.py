"""The guard of issue 38: with every translated message wrapped in ``⟦…⟧`` (``tests/i18n/pseudo.py``),
the main pages, their form errors and the e-mails show no word outside the markers but the data
users typed. A failure lists each text with the templates or modules that hold it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from notifications.models import Notification
from notifications.services import notification_emails_send
from tests.i18n.pseudo import CLOSE, OPEN, data_corpus, origin, pseudo_locale, untranslated
from tests.pages import main_pages

pytestmark = pytest.mark.django_db

# Forms sent empty or wrong, as (name, URL name or callable of the world, who, data): their errors.
FORM_ERRORS: tuple[tuple[str, Callable[[Any], str], str | None, dict[str, str]], ...] = (
    ("sign-up, empty", lambda w: reverse("signup"), None, {}),
    ("log-in, wrong", lambda w: reverse("login"), None, {"login": "nobody", "password": "wrong"}),
    ("profile, empty", lambda w: reverse("profile"), "buyer", {"withdrawal_method": "carrier-pigeon"}),
    ("new gig, empty", lambda w: reverse("gig_create"), "seller", {}),
    ("post a request, empty", lambda w: reverse("request_new"), "buyer", {}),
)


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _report(found: dict[str, list[str]]) -> str:
    lines = []
    for page, texts in found.items():
        for text in texts:
            lines.append(f"{page}: {text!r}  ← {', '.join(origin(text))}")
    return "Text outside the translation markers:\n" + "\n".join(lines)


@pytest.fixture
def world():
    with pseudo_locale():
        yield main_pages()


def test_every_main_page_its_form_errors_and_the_emails_are_all_marked(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    found: dict[str, list[str]] = {}
    with pseudo_locale():
        corpus = data_corpus()
        for name, url, who in world.pages:
            response = _client(who).get(url)
            assert response.status_code == 200, (name, url, response.status_code)
            texts = untranslated(response.content.decode(), corpus)
            if texts:
                found[name] = texts
        for name, url_of, who, data in FORM_ERRORS:
            user = getattr(world, who) if who else None
            response = _client(user).post(url_of(world), data)
            assert response.status_code in (200, 400), (name, response.status_code)
            texts = untranslated(response.content.decode(), corpus)
            if texts:
                found[name] = texts
        # Every notice the world sent, as its recipient reads it by e-mail.
        mail.outbox.clear()
        notification_emails_send(notification_ids=list(Notification.objects.values_list("pk", flat=True)))
        _client(None).post(reverse("account_reset_password"), {"email": world.buyer.email})
        assert mail.outbox, "the world sends e-mails"
        for message in mail.outbox:
            # A subject is cut to fit (78 characters), which may cut a message's closing marker.
            subject = message.subject + CLOSE * (message.subject.count(OPEN) - message.subject.count(CLOSE))
            for part, text in (("subject", subject), ("body", message.body)):
                pieces = untranslated(f"<p>{text}</p>".replace("\n", "</p><p>"), corpus, extra=_urls(text))
                if pieces:
                    found[f"e-mail to {message.to[0]} ({part})"] = pieces
    assert not found, _report(found)


def _urls(text: str) -> set[str]:
    return {word for word in text.split() if "://" in word}


def test_a_planted_untranslated_string_is_found_and_traced_to_its_template(tmp_path, buyer):
    planted = tmp_path / "partials"
    planted.mkdir()
    source = Path(settings.BASE_DIR) / "templates" / "partials" / "messages.html"
    shutil.copy(source, planted / "messages.html")
    with (planted / "messages.html").open("a") as out:
        out.write("<p>Planted words nobody marked</p>\n")
    templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    with override_settings(TEMPLATES=templates), pseudo_locale():
        response = _client(buyer).get(reverse("home"))
        html = response.content.decode()
        assert OPEN in html, "the pseudo-locale is active"
        found = untranslated(html, data_corpus())
    assert found == ["Planted words nobody marked"]
    # Traced to the file that holds it (here the copy is outside the project: the test names what
    # the project's own source has instead, so it looks for the words in the planted copy).
    assert "templates/base.html" in origin("Browse gigs")
