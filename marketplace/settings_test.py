"""Settings for the test suite: PostgreSQL and Redis, fast hashing, mail in memory."""

import os
import secrets

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 64)
os.environ.setdefault("LEDGER_MAC_KEY", "test-ledger-mac-key-" + "y" * 44)
os.environ.setdefault("PAYMENT_PROVIDER", "sandbox")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Required with DEBUG off; the processes a test starts inherit it. Links in the tests' e-mails start with it.
os.environ.setdefault("SITE_URL", "http://127.0.0.1:8000")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("DATA_DIR", "/tmp/marketplace-test-data")
# One sandbox webhook secret for a test process and the workers and servers it starts (each
# with a DATA_DIR of its own, where the sandbox would otherwise make a secret of its own).
os.environ.setdefault("SANDBOX_WEBHOOK_SECRET", "whsec_sandbox_test_" + secrets.token_hex(16))
# Some tests hold a transaction open on purpose while another thread works (races, seals).
os.environ.setdefault("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", "300000")

from marketplace.settings import *  # noqa: F403
from marketplace.settings import DATA_DIR, STATIC_ROOT, STORAGES

# WhiteNoise warns at start-up when the folder it serves from is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CONN_MAX_AGE = 0
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # A test's commit need not wait for the WAL to reach the disk: a crash of the
    # server loses the last few commits of a test database, never its consistency.
    # Tests only; production keeps PostgreSQL's durable default.
    DATABASES["default"]["OPTIONS"]["options"] += " -c synchronous_commit=off"  # noqa: F405
AXES_ENABLED = os.environ.get("AXES_ENABLED", "false") == "true"

# The SQL layer (marketplace/rows.py, marketplace/bulk.py and their callers) is tested on SQLite,
# the embedded default, as on PostgreSQL: tests/db/test_sql_layer.py runs each test on both, the
# SQLite run through this second database, made (in memory, its tables from the models: SQLite's
# migrations only create tables) only when a test asks for it.
DATABASES["sqlite"] = {  # noqa: F405
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": str(DATA_DIR / "sql-layer.sqlite3"),
    "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    "TEST": {"MIGRATE": False},
}
