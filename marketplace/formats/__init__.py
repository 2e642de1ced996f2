"""Dates and numbers as each language writes them (``FORMAT_MODULE_PATH``).

Templates name a format (``|date:"DATETIME_FORMAT"``, ``|datetime_tz``) instead of spelling one, so
a German reader sees ``8. Dez. 2026, 14:30`` where an English one sees ``8 Dec 2026 14:30``. A name
not set here falls back to Django's own format for the language."""
