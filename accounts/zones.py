"""The time zones a person chooses from: the canonical IANA zones, one name per place, grouped
by region; never the ~600 raw names ``zoneinfo.available_timezones()`` lists, which include the
old aliases ("Africa/Asmera", "GB-Eire", "US/Pacific", "Etc/GMT+3").

The canonical list is the time zone database's own ``zone.tab`` (a zone per country and region;
``zone1970.tab`` is shorter but leaves out zones merged since 1970, such as Europe/Oslo, which a
Norwegian then would not find), read where ``zoneinfo`` reads its data: the system's
``/usr/share/zoneinfo`` (``zoneinfo.TZPATH``), else the ``tzdata`` package. Aliases map to the
zone they link to (``tzdata.zi``'s ``L`` lines, or the alias file being a symbolic link), so a
saved alias, or one a browser reports ("Asia/Calcutta"), selects its canonical zone; one that
maps to nothing is still accepted and shown as it is (``zone_choices``).
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import zoneinfo
from pathlib import Path
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.zone_names import ZONE_WORDS

REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")
# Each region's heading in the list, in the reader's language.
REGION_LABELS = {
    "Africa": gettext_lazy("Africa"),
    "America": gettext_lazy("America"),
    "Antarctica": gettext_lazy("Antarctica"),
    "Arctic": gettext_lazy("Arctic"),
    "Asia": gettext_lazy("Asia"),
    "Atlantic": gettext_lazy("Atlantic"),
    "Australia": gettext_lazy("Australia"),
    "Europe": gettext_lazy("Europe"),
    "Indian": gettext_lazy("Indian"),
    "Pacific": gettext_lazy("Pacific"),
}
UTC = "UTC"
# Names for UTC itself (and for GMT, the same clock): they select UTC.
UTC_NAMES = frozenset(
    {"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu"}
    | {"Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "Etc/Greenwich", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich"}
)


def _data_file(name: str) -> str:
    """A file of the time zone database, from the first place ``zoneinfo`` would read it; "" if none has it."""
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / name
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")
    try:
        return importlib.resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return ""


@functools.cache
def canonical_zones() -> frozenset[str]:
    """Every zone offered: ``zone.tab``'s, those this machine has, and UTC. Without ``zone.tab``
    (a stripped system), the region zones of ``available_timezones()`` (aliases included: better
    a longer list than none)."""
    available = zoneinfo.available_timezones()
    listed = {
        line.split("\t")[2].strip()
        for line in _data_file("zone.tab").splitlines()
        if line and not line.startswith("#") and line.count("\t") >= 2
    }
    zones = listed & available or {name for name in available if name.split("/", 1)[0] in REGIONS}
    return frozenset(zones | {UTC})


@functools.cache
def zone_aliases() -> dict[str, str]:
    """Alias → the canonical zone it stands for, for every alias whose target is offered."""
    canonical = canonical_zones()
    links: dict[str, str] = {}
    for line in _data_file("tzdata.zi").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L":
            links[parts[2]] = parts[1]
    for directory in zoneinfo.TZPATH:
        # Where the database is installed as files, an alias may be a symbolic link to its zone.
        for name in zoneinfo.available_timezones() - canonical - set(links):
            path = os.path.join(directory, name)
            if os.path.islink(path):
                links[name] = os.path.relpath(os.path.realpath(path), os.path.realpath(directory))
    aliases: dict[str, str] = {}
    for alias, target in links.items():
        seen = {alias}
        while target in links and target not in canonical and target not in seen:  # a link to a link
            seen.add(target)
            target = links[target]
        if target in UTC_NAMES:
            target = UTC
        if target in canonical and alias not in canonical:
            aliases[alias] = target
    aliases.update((name, UTC) for name in UTC_NAMES & zoneinfo.available_timezones())
    return aliases


def canonical_zone(name: str) -> str:
    """The offered zone ``name`` is, or stands for; ``name`` itself if it maps to none."""
    if name in canonical_zones():
        return name
    return zone_aliases().get(name, name)


def _label(name: str) -> str:
    """ "America/Argentina/Buenos_Aires" → "Argentina / Buenos Aires" (the region is the group)."""
    return name.partition("/")[2].replace("_", " ").replace("/", " / ") or name


def _shown(name: str) -> Any:
    """``_label`` in the reader's language, each place by its name there ("Argentina / Buenos Aires")."""
    words = [ZONE_WORDS.get(word, word) for word in _label(name).split(" / ")]
    return words[0] if len(words) == 1 else format_lazy(" / ".join(["{}"] * len(words)), *words)


@functools.cache
def _region_groups() -> tuple[tuple[Any, tuple[tuple[str, Any], ...]], ...]:
    zones = canonical_zones()
    groups: list[tuple[Any, tuple[tuple[str, Any], ...]]] = []
    for region in REGIONS:
        names = sorted((name for name in zones if name.startswith(region + "/")), key=_label)
        if names:
            groups.append((REGION_LABELS[region], tuple((name, _shown(name)) for name in names)))
    others = sorted(zones - {name for _, members in groups for name, _ in members} - {UTC})
    if others:  # the fallback's odd names, if any: still offered, under their own heading
        groups.append((gettext_lazy("Other"), tuple((name, name) for name in others)))
    groups.append((UTC, ((UTC, UTC),)))
    return tuple(groups)


def zone_choices(saved: str = "") -> list:
    """The choices of a time-zone ``<select>``, one ``<optgroup>`` per region, UTC last. A saved
    zone that is neither offered nor an alias of one (an alias whose zone this machine lacks) comes
    first, as it is, so its owner keeps it until they choose another."""
    choices: list = [(region, list(members)) for region, members in _region_groups()]
    if saved and canonical_zone(saved) not in canonical_zones():
        choices.insert(0, (_("Your saved zone"), [(saved, saved.replace("_", " "))]))
    return choices
