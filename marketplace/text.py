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


def sentence(text: str) -> str:
    """``text`` ending in one full stop: someone's words quoted inside a
    notice may end in one already ("store submission."), and "submission.."
    reads like a typo."""
    text = (text or "").strip()
    if not text or text[-1] in ".!?…" or text.endswith(('."', ".”", "!”", "?”")):
        return text
    return text + "."
