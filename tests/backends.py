"""Running a test's code on SQLite, the embedded default, as well as on PostgreSQL.

``settings_test`` has a second database, ``sqlite``; a test marked
``django_db(databases=BOTH)`` has both, each inside its own rolled-back
transaction, and ``on_database("sqlite")`` makes the default connection that
SQLite connection for the time being: every query of the code under test (the
ORM's, a service's, the hand-written SQL's) goes there, with SQLite's SQL,
converters and features. Nothing else changes: the same models, factories and
services.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

BACKENDS = ("postgresql", "sqlite")
BOTH = [DEFAULT_DB_ALIAS, "sqlite"]
ALIAS = {"postgresql": DEFAULT_DB_ALIAS, "sqlite": "sqlite"}


@contextmanager
def on_database(alias: str) -> Iterator[None]:
    """The default connection is ``alias``'s, until the block ends."""
    if alias == DEFAULT_DB_ALIAS:
        yield
        return
    default = connections[DEFAULT_DB_ALIAS]
    connections[DEFAULT_DB_ALIAS] = connections[alias]
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = default


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test that takes it runs twice: on PostgreSQL, then on SQLite (the test must be marked
    ``django_db(databases=BOTH)``)."""
    with on_database(ALIAS[request.param]):
        yield request.param
