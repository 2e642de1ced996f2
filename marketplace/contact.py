"""Spotting a way to talk off the platform in a message: an e-mail address, a
phone number, or an outside messenger. Such a message is kept as written; both
parties see a notice and staff see a flag (the product description: outside
tools are not monitored, so a dispute cannot rely on them)."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# Seven or more digits, allowing spaces, dots, dashes, brackets and a leading +: "+44 20 7946 0958".
_PHONE = re.compile(r"(?<![\w.])\+?\d(?:[\s().-]{0,2}\d){6,}(?![\w])")
_MESSENGERS = re.compile(
    r"\b(whats\s?app|wa\.me|telegram|t\.me/|signal\s+(?:me|app)|skype|wechat|viber|discord|line\s+id|imessage)\b"
    r"|(?<![\w@])@[a-z][\w.]{3,}(?=\s|$|[,;!?])",
    re.IGNORECASE,
)
_MONEY_OR_DATE = re.compile(r"^\d{1,4}([.,/-])\d{1,2}\1\d{1,4}$")

# The notice shown under a flagged message, one whole sentence per flag (``contact_found``: the
# flag is stored in English, the notice is worded in the reader's language).
NOTICES = {
    "an e-mail address": gettext_lazy(
        "Keep the conversation here: this message contains an e-mail address. Talks outside the marketplace are "
        "not monitored and cannot be relied on in a dispute."
    ),
    "a phone number": gettext_lazy(
        "Keep the conversation here: this message contains a phone number. Talks outside the marketplace are not "
        "monitored and cannot be relied on in a dispute."
    ),
    "an outside messenger": gettext_lazy(
        "Keep the conversation here: this message contains an outside messenger. Talks outside the marketplace are "
        "not monitored and cannot be relied on in a dispute."
    ),
}
NOTICE = gettext_lazy(
    "Keep the conversation here: this message contains {what}. Talks outside the marketplace are not "
    "monitored and cannot be relied on in a dispute."
)


def contact_found(text: str) -> str:
    """What in ``text`` looks like contact details off the platform ("an
    e-mail address", "a phone number", "an outside messenger"), or ""."""
    if _EMAIL.search(text):
        return "an e-mail address"
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) >= 7 and not _MONEY_OR_DATE.match(match.group().strip()):
            return "a phone number"
    if _MESSENGERS.search(text):
        return "an outside messenger"
    return ""


def contact_notice(what: str) -> str:
    if not what:
        return ""
    return str(NOTICES[what]) if what in NOTICES else str(NOTICE).format(what=what)
