"""The Spanish and German catalogues are complete and safe to use: every message translated, none
fuzzy, and every placeholder of the English kept (a translation that drops ``{amount}`` or renames
``%(title)s`` would raise or lie at run time). ``make lint`` (``manage.py check_catalogues``) checks
that they are up to date with the code; this checks them as they are, with Babel alone."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po
from django.utils import translation

from marketplace.i18n import TRANSLATED, catalogue_paths

PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*\}|%\([a-z_][a-z0-9_]*\)[sd]|%[sd]|\{\{ *[a-z_.]+ *\}\}", re.I)
CATALOGUES = [p for p in catalogue_paths() if p.parent.parent.name in TRANSLATED]


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_both_languages_have_a_catalogue():
    assert sorted(p.parent.parent.name for p in CATALOGUES) == sorted(TRANSLATED)


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_every_message_is_translated_none_fuzzy_and_every_placeholder_kept(path):
    with path.open("rb") as source:
        catalogue = read_po(source)
    problems = []
    count = 0
    for message in catalogue:
        if not message.id:
            continue
        count += 1
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        expected = _placeholders(ids[-1])
        for string in strings:
            # A plural form may say "one" in words where the English has the count ({n}).
            got = _placeholders(string)
            if got != expected and not (len(strings) > 1 and set(got) <= set(expected)):
                problems.append(f"placeholders {expected} became {got}: {ids[0]!r} → {string!r}")
    assert count > 500, f"{path}: only {count} messages"
    assert not problems, f"{path}:\n" + "\n".join(problems[:100])


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_is_the_one_django_reads(language):
    path = next(p for p in CATALOGUES if p.parent.parent.name == language)
    with path.open("rb") as source:
        expected = read_po(source).get("Orders")
    assert expected is not None and expected.string
    with translation.override(language):
        assert translation.gettext("Orders") == expected.string != "Orders"
