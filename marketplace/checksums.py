"""The check digits of account numbers people type: a card's (Luhn) and an IBAN's (ISO 13616,
mod 97). A typo in either fails its check, so it is refused before anything is sent."""

from __future__ import annotations

import re

# Country code, two check digits, then the account (letters and digits); 15 to 34 characters in all.
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def luhn_valid(number: str) -> bool:
    """Whether ``number`` (digits only, 12 to 19 of them) passes the card check digit."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Whether ``iban`` (upper case, no spaces) has its shape and check digits right: moved to the
    end, with each letter as two digits (A = 10 … Z = 35), it leaves 1 modulo 97."""
    if not _IBAN.fullmatch(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1
