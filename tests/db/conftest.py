from tests.backends import backend  # noqa: F401 - the fixture that runs a test on PostgreSQL and on SQLite
