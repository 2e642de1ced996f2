"""A pseudo-locale: every message that goes through Django's translation machinery comes out wrapped
in ``⟦…⟧``, so any visible text left outside the markers was never marked for translation.

``pseudo_locale()`` swaps the translation object Django activates for each language for one that
wraps what the real one returns; ``untranslated(html, data)`` lists the visible text of a page
outside the markers that is not the page's data (names, titles, messages typed by users);
``origin(text)`` names the templates and modules whose source holds that text, for the report."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from django.apps import apps
from django.db import models
from django.utils import translation
from django.utils.translation import trans_real

OPEN, CLOSE = "\u27e6", "\u27e7"
ROOT = Path(__file__).resolve().parents[2]
# Words that are the same in every language: the brand, the languages' own names in the footer's
# selector, and abbreviations the world writes alike.
UNIVERSAL = {
    "Milestone",
    "Market",
    "MilestoneMarket",
    "Milestone Marketplace",
    "English",
    "Español",
    "Deutsch",
    "API",
    "UTC",
    "GMT",
    "PDF",
    "CSV",
    "PayPal",
    "Stripe",
    "Visa",
    "TOTP",
    "iCal",
    "JSON",
    "URL",
    "HMAC",
    "SHA-256",
}
_INNER = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
_NODE = "\x01"
# Apart from words: digits, punctuation, currency symbols and codes, time-zone abbreviations.
_NO_WORDS = re.compile(r"^[\W\d_]*$")
_CODE = re.compile(r"^(?:[A-Z]{3}|[A-Z]{2,5}[+-]?\d*|[+-]\d{2}(?::?\d{2})?)$")
_SEPARATORS = re.compile(r"\s*[·•|,;:()\[\]/—–\-…\"“”„«»'‘’?!.@]+\s*|\s{2,}")
# A hexadecimal token with a digit in it: an identifier (a delivery's UUID, a key's prefix).
_HEX = re.compile(r"^(?=.*\d)[0-9a-f]{4,}$")


class _Pseudo:
    """The real translation of a language, its every message wrapped."""

    def __init__(self, real: trans_real.DjangoTranslation) -> None:
        self._real = real

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def gettext(self, message: str) -> str:
        result = self._real.gettext(message)
        if not result:
            return result
        if trans_real.CONTEXT_SEPARATOR in result:
            # pgettext asks for "context\x04message": untranslated, the message alone, wrapped (and
            # without the separator, so pgettext returns it as it is).
            result = result.split(trans_real.CONTEXT_SEPARATOR, 1)[1]
        return f"{OPEN}{result}{CLOSE}"

    def ngettext(self, singular: str, plural: str, number: int) -> str:
        result = self._real.ngettext(singular, plural, number)
        if trans_real.CONTEXT_SEPARATOR in result:
            result = result.split(trans_real.CONTEXT_SEPARATOR, 1)[1]
        return f"{OPEN}{result}{CLOSE}"


@contextmanager
def pseudo_locale() -> Iterator[None]:
    """Every translation Django activates in the block wraps its messages."""
    real_translation = trans_real.translation

    def wrapped(language: str) -> _Pseudo:
        return _Pseudo(real_translation(language))

    saved_active = getattr(trans_real._active, "value", None)
    saved_default = trans_real._default
    trans_real.translation = wrapped  # type: ignore[assignment]
    trans_real._default = None
    translation.activate("en-gb")
    try:
        yield
    finally:
        trans_real.translation = real_translation  # type: ignore[assignment]
        trans_real._default = saved_default
        if saved_active is None:
            translation.deactivate()
        else:
            trans_real._active.value = saved_active


class _Text(HTMLParser):
    """The text a reader sees or hears: text nodes outside script, style and template, and the
    attributes read aloud or shown (aria-label, title, placeholder, alt, a button input's value)."""

    HIDDEN = {"script", "style", "template"}
    SPOKEN = {"aria-label", "title", "placeholder", "alt"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        values = dict(attrs)
        for name in self.SPOKEN:
            if values.get(name):
                self.texts.append(values[name] or "")
        if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
            self.texts.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.texts.append(data)


def data_corpus() -> str:
    """Every free text stored in the database (what users typed or the test made: names, titles,
    messages, addresses), joined: text found in it is data, not the site's words. Fields with
    choices are left out: they must be shown through their translated labels."""
    parts: list[str] = []
    for model in apps.get_models():
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.EmailField) and not f.choices
        ]
        if fields and model._meta.managed:
            for row in model._default_manager.values_list(*fields):
                parts.extend(str(v) for v in row if v)
    return "\n".join(parts)


def leftovers(text: str) -> list[str]:
    """The pieces of a text outside every marker (markers nest: a sentence holding a translated
    label)."""
    previous = None
    while previous != text:
        previous, text = text, _INNER.sub(" \x00 ", text)
    return [p.strip() for p in text.split("\x00") if p.strip()]


def untranslated(html: str, corpus: str, extra: Iterable[str] = ()) -> list[str]:
    """The visible text of a page that is neither marked nor data: a piece outside the markers is
    data if the corpus holds it whole, else each of its words must be data, a code or no word."""
    parser = _Text()
    parser.feed(html)
    allowed = UNIVERSAL | set(extra)
    data_words = _words(corpus)
    found: list[str] = []
    # One stream in document order, the nodes apart: a message may hold markup (a link in a
    # sentence), so its markers open in one text node and close in another.
    stream = _NODE.join(" ".join(text.split()) for text in parser.texts)
    for text in leftovers(stream):
        for piece in (p.strip() for p in text.split(_NODE) if p.strip()):
            if piece in allowed or piece in corpus:
                continue
            for part in _SEPARATORS.split(piece):
                if part.strip() in allowed or (len(part.strip()) > 3 and part.strip() in corpus):
                    continue
                words = [w for w in part.split() if not (_NO_WORDS.match(w) or _CODE.match(w) or _HEX.match(w))]
                if any(w not in data_words and w not in allowed for w in words):
                    found.append(piece)
                    break
    return sorted(set(found))


@cache
def _words(corpus: str) -> frozenset[str]:
    return frozenset(re.split(r"[\s·•|,;:()\[\]/—–…\"“”„«»'‘’?!.]+", corpus))


@cache
def _sources() -> list[tuple[Path, str]]:
    files = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("templates/**/*.txt")]
    for app in ROOT.iterdir():
        if (app / "apps.py").exists() or app.name == "marketplace":
            files.extend(p for p in app.rglob("*.py") if "migrations" not in p.parts)
    return [(p, p.read_text(encoding="utf-8", errors="replace")) for p in files]


def origin(text: str) -> list[str]:
    """The templates and modules whose source holds ``text`` (or, failing that, its longest word
    run), relative to the project: where to mark it."""
    needles = [text, *sorted(re.findall(r"[^\W\d_][^\W\d_ ']*(?: [^\W\d_][^\W\d_']*)*", text), key=len, reverse=True)]
    for needle in needles:
        if len(needle) < 3:
            continue
        hits = [str(p.relative_to(ROOT)) for p, source in _sources() if needle in source]
        if hits:
            return hits[:4]
    return ["(not found in the source: built from pieces?)"]
