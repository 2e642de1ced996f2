"""One migrated template database per run, cloned for each xdist worker.

Migrating from nothing takes each worker 6 to 10 seconds of CPU, and every worker did it. As
Zulip does, the first worker to arrive migrates one database, named after a hash of every
migration file, and each worker then copies it (``CREATE DATABASE ... TEMPLATE``, a file copy
inside PostgreSQL, well under a second). The template stays between runs: a later run whose
migrations hash the same skips migrating altogether; a change to any migration (or to this file)
names a new template and the old one is dropped.

Two workers arriving together take a PostgreSQL advisory lock named after the template: one
builds (into ``<name>_new``, renamed when complete, so an interrupted build is never used), the
other waits and clones. ``--create-db`` rebuilds the template once per run (the workers of one
run share xdist's run id); ``--reuse-db`` keeps each worker's copy at the end instead of dropping
it. On another backend, or with ``--nomigrations``, pytest-django's own set-up runs.

Tests that run ``manage.py`` on a database of their own that must start migrated, but do not test
migrating from nothing, start from copies too: ``migrated_postgres`` clones the same template,
``migrated_sqlite`` copies an SQLite file migrated once per migrations hash (SQLite's full migrate
costs some 13 CPU-seconds, most of it Django rendering the migration states). Migrating SQLite from
nothing stays tested where ``make run`` does it (tests/foundation/test_settings.py, ``seeded``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import DatabaseError

# The workers of one xdist run share its id: a --create-db run rebuilds the template once.
_RUN = re.sub(r"\W", "", os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex)


def migrations_key() -> str:
    """A hash of everything that decides what a migrated database holds."""
    import django
    from django.apps import apps

    import marketplace.migration_ops

    digest = hashlib.sha256(django.get_version().encode())
    files = [("plugin", Path(__file__)), ("ops", Path(marketplace.migration_ops.__file__))]
    for app in apps.get_app_configs():
        folder = Path(app.path) / "migrations"
        if folder.is_dir():
            files += [(f"{app.label}/{path.relative_to(folder)}", path) for path in sorted(folder.rglob("*.py"))]
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


# The template this process's test database was cloned from (``_clone_from_template``).
_template: list[str] = []


def migrated_postgres(maintenance_url: str, name: str) -> bool:
    """Create database ``name`` as a copy of this run's migrated template (under the template's
    lock: nobody may be connected to it while it is copied). False when this run has no template
    (another backend, ``--nomigrations``): the caller then migrates the new database itself."""
    import psycopg

    if not _template:
        return False
    template = _template[0]
    lock = int.from_bytes(hashlib.sha256(template.encode()).digest()[:8], "big", signed=True)
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [lock])
        try:
            conn.execute(f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(template)}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [lock])
    return True


def migrated_sqlite(path: Path) -> None:
    """Write at ``path`` an SQLite database with every migration applied, as ``manage.py migrate``
    leaves it under the test settings: a copy of one migrated once per migrations hash and kept
    between runs (in the temporary folder; two workers building it together each build their own
    and the second rename wins, the two being the same)."""
    cache = Path(tempfile.gettempdir()) / "marketplace-tests" / f"migrated-{migrations_key()}.sqlite3"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache.parent) as scratch:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "marketplace.settings_test",
                "DATABASE_URL": "",
                "REDIS_URL": "",
                "DATA_DIR": scratch,
            }
            env.pop("PYTHONPATH", None)
            root = Path(__file__).resolve().parents[1]
            done = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--verbosity=0"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, f"migrate on SQLite exited {done.returncode}\n{done.stdout}\n{done.stderr}"
            built = Path(scratch) / "built.sqlite3"
            _sqlite_copy(Path(scratch) / "marketplace.sqlite3", built)
            os.replace(built, cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(cache, path)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's own backup: a consistent copy whatever its journal holds."""
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _quote(name: str) -> str:
    assert re.fullmatch(r"[A-Za-z0-9_]+", name), name
    return f'"{name}"'


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return cursor.fetchone() is not None


def _drop(cursor, name: str) -> None:
    # WITH (FORCE): a worker killed mid-run can leave a session behind on its own copy.
    cursor.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")


def _migrate_into(connection, name: str, verbosity: int) -> None:
    """Django's own test-database creation (migrate, cache tables), into ``name``."""
    from django.conf import settings

    original_name = connection.settings_dict["NAME"]
    original_test_name = connection.settings_dict["TEST"]["NAME"]
    connection.settings_dict["TEST"]["NAME"] = name
    try:
        connection.creation.create_test_db(verbosity=verbosity, autoclobber=True, serialize=False, keepdb=False)
    finally:
        connection.close()
        connection.settings_dict["TEST"]["NAME"] = original_test_name
        connection.settings_dict["NAME"] = original_name
        settings.DATABASES[connection.alias]["NAME"] = original_name


def _clone_from_template(connection, *, rebuild: bool, verbosity: int) -> str:
    """Make this worker's test database a copy of the template; return its name."""
    creation = connection.creation
    worker_database = creation._get_test_db_name()
    worker_id = os.environ.get("PYTEST_XDIST_WORKER")
    base = worker_database.removesuffix(f"_{worker_id}") if worker_id else worker_database
    template = f"{base[:40]}_tmpl_{migrations_key()}"
    _template[:] = [template]
    lock = int.from_bytes(hashlib.sha256(template.encode()).digest()[:8], "big", signed=True)
    with creation._nodb_cursor() as cursor:
        # The other worker may be migrating: wait as long as that takes (settings.py limits every
        # statement and lock wait of a connection).
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SET lock_timeout = 0")
        cursor.execute("SELECT pg_advisory_lock(%s)", [lock])
        try:
            built_by = None
            if _exists(cursor, template):
                cursor.execute(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [template]
                )
                built_by = cursor.fetchone()[0]
            if built_by is None or (rebuild and built_by != f"run {_RUN}"):
                _drop(cursor, template)
                _drop(cursor, f"{template}_new")
                _migrate_into(connection, f"{template}_new", verbosity)
                cursor.execute(f"ALTER DATABASE {_quote(template + '_new')} RENAME TO {_quote(template)}")
                cursor.execute(f"COMMENT ON DATABASE {_quote(template)} IS 'run {_RUN}'")
                # Templates of older migrations: nobody clones them again.
                cursor.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname NOT LIKE %s",
                    [f"{base[:40]}\\_tmpl\\_%", f"{template}%"],
                )
                for (stale,) in cursor.fetchall():
                    # Another run may be copying it right now; the next build drops it then.
                    with contextlib.suppress(DatabaseError):
                        cursor.execute(f"DROP DATABASE IF EXISTS {_quote(stale)}")
            _drop(cursor, worker_database)
            cursor.execute(f"CREATE DATABASE {_quote(worker_database)} TEMPLATE {_quote(template)}")
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock])
    return worker_database


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's fixture of the same name, with the test database cloned from a template."""
    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup

    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    verbosity = request.config.option.verbose
    connection = connections["default"]
    templated = (
        django_db_use_migrations
        and list(settings.DATABASES) == ["default"]
        and connection.vendor == "postgresql"
        and connection.settings_dict["TEST"].get("MIGRATE", True)
    )
    with django_db_blocker.unblock():
        if templated:
            original_name = connection.settings_dict["NAME"]
            worker_database = _clone_from_template(connection, rebuild=django_db_createdb, verbosity=verbosity)
            connection.close()
            settings.DATABASES["default"]["NAME"] = worker_database
            connection.settings_dict["NAME"] = worker_database
            if "default" in serialized_aliases:
                connection._test_serialized_contents = connection.creation.serialize_db_to_string()
            connection.ensure_connection()
            old_config = [(connection, original_name, True)]
        else:
            if not django_db_use_migrations:
                _disable_migrations()
            keepdb = django_db_keepdb and not django_db_createdb
            old_config = setup_databases(
                verbosity=verbosity,
                interactive=False,
                aliases=aliases,
                serialized_aliases=serialized_aliases,
                keepdb=keepdb,
            )
    yield
    with django_db_blocker.unblock():
        try:
            teardown_databases(old_config, verbosity=verbosity, keepdb=django_db_keepdb)
        except Exception as exc:
            request.node.warn(pytest.PytestWarning(f"Error when trying to teardown test databases: {exc!r}"))
