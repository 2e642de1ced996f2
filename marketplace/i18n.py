"""The catalogues of the site's words (``LOCALE_PATHS``): compiled with Babel, so the site runs on a
machine without GNU gettext (``make run``, the image); checked complete by ``make lint``
(``manage.py check_catalogues``, which needs gettext's ``xgettext`` through ``makemessages``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings

# The languages whose catalogues must be complete; English is the source (its catalogue holds only
# the site's own words where a library's differ).
TRANSLATED = ("es", "de")


def catalogue_paths() -> list[Path]:
    """Every ``django.po`` of the site's own catalogues."""
    return sorted(p for root in settings.LOCALE_PATHS for p in Path(root).glob("*/LC_MESSAGES/django.po"))


def compile_catalogues(*, force: bool = False) -> list[Path]:
    """Write each ``django.mo`` next to its ``django.po`` when the .po is newer (or ``force``),
    atomically (a temporary file renamed over it), so processes that start together (the test
    workers, the webs of ``make cluster``) never read half a file. Returns the files written."""
    written = []
    for po in catalogue_paths():
        mo = po.with_suffix(".mo")
        if not force and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalogue = read_po(source, locale=po.parent.parent.name)
        descriptor, temporary = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        with os.fdopen(descriptor, "wb") as target:
            write_mo(target, catalogue, use_fuzzy=False)
        os.replace(temporary, mo)
        written.append(mo)
    return written
