"""Typed text as the services store it."""

from __future__ import annotations

import unicodedata


def clean_text(value: str | None) -> str:
    """Stripped of surrounding whitespace, and empty if nothing in it is
    visible: a message of zero-width spaces (format characters) is no message."""
    text = (value or "").strip()
    if all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text):
        return ""
    return text
