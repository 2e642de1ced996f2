"""``manage.py check_catalogues`` (in ``make lint``): the Spanish and German catalogues are up to date
with the code and complete.

It runs ``makemessages`` for them (GNU gettext's ``xgettext``: ``apt-get install -y gettext``), so a
catalogue out of date is brought up to date in place, and fails naming what changed: a message added
or removed in the code since the catalogue was made, or one untranslated or fuzzy. When nothing but
the header's date changed, the files are put back as they were."""

from __future__ import annotations

from babel.messages.pofile import read_po
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from marketplace.i18n import TRANSLATED, catalogue_paths

# Not the site's words: the tests, the tools and the third-party trees.
IGNORED = [
    "tests/*",
    "bench/*",
    "simulate/*",
    "deploy/*",
    "scripts/*",
    "docs/*",
    ".venv/*",
    "node_modules/*",
    "*/migrations/*",
]


def message_keys(path) -> dict[tuple[str, str | None], tuple[bool, bool]]:
    """Each message's (id, context) → (translated, fuzzy)."""
    with open(path, "rb") as source:
        catalogue = read_po(source)
    keys = {}
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        key = (message.id if isinstance(message.id, str) else "\x00".join(message.id), message.context)
        keys[key] = (all(strings), message.fuzzy)
    return keys


def _order(key: tuple[str, str | None]) -> tuple[str, str]:
    return key[0], key[1] or ""


def make_messages() -> None:
    call_command(
        "makemessages",
        locale=list(TRANSLATED),
        extensions=["html", "txt", "py"],
        ignore_patterns=IGNORED,
        no_obsolete=True,
        add_location="file",
        verbosity=0,
    )


class Command(BaseCommand):
    help = "Fail when the es or de catalogue is out of date with the code, or has an untranslated or fuzzy message."

    def handle(self, *args, **options) -> None:
        paths = [p for p in catalogue_paths() if p.parent.parent.name in TRANSLATED]
        before = {p: message_keys(p) for p in paths}
        saved = {p: p.read_bytes() for p in paths}
        make_messages()
        problems = []
        for path in sorted(p for p in catalogue_paths() if p.parent.parent.name in TRANSLATED):
            after = message_keys(path)
            old = before.get(path, {})
            added = sorted(set(after) - set(old), key=_order)
            removed = sorted(set(old) - set(after), key=_order)
            for msgid, _context in added[:20]:
                problems.append(f"{path}: new in the code, not in the catalogue: {msgid!r}")
            for msgid, _context in removed[:20]:
                problems.append(f"{path}: in the catalogue, gone from the code: {msgid!r}")
            for (msgid, _context), (translated, fuzzy) in sorted(after.items(), key=lambda item: _order(item[0])):
                if not translated:
                    problems.append(f"{path}: untranslated: {msgid!r}")
                elif fuzzy:
                    problems.append(f"{path}: fuzzy (check and remove the flag): {msgid!r}")
            if not added and not removed and path in saved:
                path.write_bytes(saved[path])
        if problems:
            shown = "\n".join(problems[:200])
            more = f"\n… and {len(problems) - 200} more" if len(problems) > 200 else ""
            raise CommandError(f"The catalogues need work (makemessages has updated them):\n{shown}{more}")
        self.stdout.write(f"{len(paths)} catalogues up to date and complete.")
