"""Reading settings from the environment.

Every knob an operator may turn is read here, with one parser per kind of
value, so that a typo fails loudly at start-up rather than at the first
payment.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_duration(value: str) -> timedelta:
    """Parse an operator's duration: ``30s``, ``15m``, ``24h``, ``14d``, ``2w``.

    A bare ``0`` means no wait at all (instant clearance).
    """
    if value.strip() == "0":
        return timedelta(0)
    match = _DURATION_RE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration; write a number and a unit, like 30s, 15m, 24h, 14d or 2w")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit.lower()])


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_decimal(name: str, default: str) -> Decimal:
    raw = os.environ.get(name, default)
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None


def env_duration(name: str, default: str) -> timedelta:
    raw = os.environ.get(name, default)
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None


def env_durations(name: str, default: str) -> list[timedelta]:
    """A comma-separated list of durations, e.g. ``REVIEW_REMINDERS=3d,1d``."""
    raw = os.environ.get(name, default)
    try:
        return [parse_duration(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None


def redis_url(url: str, password: str) -> str:
    """``url`` with ``password`` set in it, percent-encoded (kombu and redis-py decode it)."""
    if not url or not password:
        return url
    parts = urlsplit(url)
    user = quote(parts.username or "", safe="")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def installation_secret(data_dir: Path, name: str, *, prefix: str = "") -> str:
    """A random secret made at this installation's first start and kept in
    ``DATA_DIR/secrets/<name>`` (mode 0600), read by every later process: the web,
    worker and beat of one installation share it, and nobody can derive it from a
    public value. Two processes starting at once both read the one that won the
    exclusive create."""
    folder = data_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the winner may not have written it yet
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.01)
        raise ImproperlyConfigured(f"{path} is empty: delete it, or set the secret in the environment.") from None
    value = prefix + secrets.token_hex(32)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return value
