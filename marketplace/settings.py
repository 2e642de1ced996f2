"""Settings for the milestone marketplace.

Everything an operator may change comes from the environment (see the README's
configuration table). With nothing set, the project runs embedded: SQLite under
``.data/`` and a Celery broker on the filesystem, so ``make run`` needs no
server. With ``DATABASE_URL`` and ``REDIS_URL`` set it uses PostgreSQL and Redis.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy, pgettext_lazy
from kombu import Queue

from marketplace.env import (
    env_bool,
    env_decimal,
    env_duration,
    env_durations,
    env_int,
    env_list,
    env_str,
    installation_secret,
    redis_url,
)
from marketplace.logs import FORMATS, configure_structlog, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / ".data")))

DEBUG = env_bool("DEBUG", False)

_INSECURE_KEY = "django-insecure-embedded-development-key-never-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _INSECURE_KEY if DEBUG else "")
if not DEBUG and (not SECRET_KEY or SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters when DEBUG is off "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )

# Rotation: the new key in SECRET_KEY, the old ones here until sessions and reset links signed with them expire.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

# The address `make run` serves (run_embedded binds to it): ADDR, else PORT on 127.0.0.1. The Makefile exports
# both, so the settings of seed_demo, the web, the worker and beat agree on where the site answers.
RUN_ADDR = env_str("ADDR") or f"127.0.0.1:{env_str('PORT') or '8000'}"
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", sorted({"127.0.0.1", "localhost", RUN_ADDR.rpartition(":")[0] or "127.0.0.1"}) if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Where people and providers reach the site: every link in an e-mail and every address handed to a provider
# (webhooks, return pages) starts with it. Embedded, the address `make run` serves; with DEBUG off it must be
# set (checked below with the other required values): a worker has no request to take it from.
SITE_URL = (env_str("SITE_URL") or (f"http://{RUN_ADDR}" if DEBUG else "")).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "djmoney",
    "django_fsm",
    "axes",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_structlog",
    "marketplace",
    "notifications",
    "webhooks",
    "accounts",
    "gigs",
    "orders",
    "payments",
    "inbox",
    "milestones",
    "dashboards",
    "demo",
    "sandbox",
    "reviews",
    "calendar_feed",
    "requests_board",
    "privacy",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
]

MIDDLEWARE = [
    # /livez, /readyz, /healthz: answered before the Host check and the HTTPS redirect.
    "marketplace.health.HealthHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "marketplace.uploads.UploadSizeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A request id on every log line of the request and of the tasks it publishes.
    "django_structlog.middlewares.RequestMiddleware",
    "marketplace.http.RequestIdMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # The reader's language: the profile's for a signed-in user, else the footer's choice (a
    # cookie), else the browser's Accept-Language. After the session and the user, before any
    # view renders a word.
    "accounts.middleware.LanguageMiddleware",
    "accounts.middleware.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.StaffTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

_loaders: list = [
    "django.template.loaders.filesystem.Loader",
    "django.template.loaders.app_directories.Loader",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.navigation",
            ],
            # The cached loader everywhere but in development, where edits
            # must show without a restart.
            "loaders": _loaders if DEBUG else [("django.template.loaders.cached.Loader", _loaders)],
        },
    }
]

# --- Database -----------------------------------------------------------------
# PostgreSQL from DATABASE_URL, or from separate DB_* variables: a password with "/", "@" or "#"
# needs no quoting there (in a URL it must be percent-encoded). Neither: embedded SQLite.
DATABASE_URL = env_str("DATABASE_URL")
DB_NAME = env_str("DB_NAME")
if DATABASE_URL or DB_NAME:
    _conn_max_age = env_int("CONN_MAX_AGE", 60)
    if DATABASE_URL:
        _database = dj_database_url.parse(DATABASE_URL, conn_max_age=_conn_max_age, conn_health_checks=True)
    else:
        _database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DB_NAME,
            "USER": env_str("DB_USER", "postgres"),
            "PASSWORD": env_str("DB_PASSWORD"),
            "HOST": env_str("DB_HOST", "127.0.0.1"),
            "PORT": env_str("DB_PORT", "5432"),
            "CONN_MAX_AGE": _conn_max_age,
            "CONN_HEALTH_CHECKS": True,
        }
    DATABASES = {"default": _database}
    # Every connection's limits, in milliseconds (0 turns one off): a runaway query, a wait on a
    # lock held by a stuck transaction, or a transaction a crashed request left open cannot hold
    # the site up. `migrate` lifts the statement limit for its own session (backfills take time).
    DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT_MS", 30_000)
    DB_LOCK_TIMEOUT_MS = env_int("DB_LOCK_TIMEOUT_MS", 10_000)
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = env_int("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60_000)
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS} -c lock_timeout={DB_LOCK_TIMEOUT_MS} "
        f"-c idle_in_transaction_session_timeout={DB_IDLE_IN_TRANSACTION_TIMEOUT_MS}"
    )
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "marketplace.sqlite3"),
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue up
            # instead of one failing with "database is locked" halfway through.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_duration("AXES_COOLOFF", "15m")
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# How many reverse proxies in front of the app append to X-Forwarded-For (nginx: 1).
# The client's address is taken from there (marketplace.http.client_ip) for the
# login throttle and allauth's rate limits; 0 trusts only the socket's address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "marketplace.http.client_ip"
# allauth's login form posts the username as "login" and authenticates with "username".
AXES_USERNAME_CALLABLE = "accounts.adapter.axes_username"

# django-allauth: sign-up, log in, password reset, e-mail verification, two-factor.
# Log in by username; the e-mail must be verified before paying or withdrawing
# (accounts.services.require_verified_email), not before browsing or messaging.
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_UNIQUE_EMAIL = True
# No e-mail enumeration: sign-up, "Add e-mail" and reset answer the same whether or not an address has an
# account. "strict" lets a sign-up with a taken address through, unconfirmed; its owner is e-mailed that
# someone tried (accounts.adapter.AccountAdapter.send_confirmation_mail), and an unconfirmed address can
# neither pay nor withdraw (accounts.services.require_verified_email) nor be confirmed by the newcomer.
ACCOUNT_PREVENT_ENUMERATION = "strict"
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = True
# Adding, changing or removing an e-mail address asks for the password (or the second factor) again
# when the last one was over ACCOUNT_REAUTHENTICATION_TIMEOUT (5 minutes) ago; changing the password
# asks for the current one anyway. Each change is e-mailed to the account (and written to the security log).
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Milestone Marketplace] "
ACCOUNT_FORMS = {
    "signup": "accounts.forms.SignupForm",
    "login": "accounts.forms.LoginForm",
    "change_password": "accounts.forms.ChangePasswordForm",
    "reset_password_from_key": "accounts.forms.ResetPasswordKeyForm",
}
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# Failed logins are throttled by django-axes (per username and address); allauth's own limit is off
# so that one rule, with one lockout page, applies. Its other limits (reset e-mails, sign-ups) stay.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
ACCOUNT_PASSWORD_INPUT_RENDER_VALUE = False
# Users who signed up before allauth (a database upgraded from the first layout) get a primary
# EmailAddress from accounts migration 0007, confirmed when this is true: they signed up when no
# confirmation was asked. False makes each confirm by link before paying or withdrawing again.
# Read once, by that migration.
UPGRADE_EMAILS_VERIFIED = env_bool("UPGRADE_EMAILS_VERIFIED", True)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Staff sessions end sooner than members' (seconds; default 8 hours): a staff session left open
# reads everyone's orders (accounts.middleware.shorten_staff_session).
STAFF_SESSION_AGE = env_int("STAFF_SESSION_AGE", 8 * 3600)
MFA_FORMS = {"authenticate": "accounts.forms.TwoFactorForm"}
MFA_TOTP_ISSUER = "Milestone Marketplace"

# --- Internationalisation -----------------------------------------------------
# English (the source language of every message), Spanish and German, each complete: `make lint`
# fails when a catalogue is out of date or a message is untranslated (marketplace/i18n.py). URLs are
# the same in every language; the reader's language is chosen by accounts.middleware.LanguageMiddleware.
LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en-gb", "English"), ("es", "Español"), ("de", "Deutsch")]
# The catalogues: locale/<language>/LC_MESSAGES/django.po, compiled by `make run`, `make test` and
# the image (manage.py compile_catalogues, with Babel: no GNU gettext needed to run the site). The
# English one holds the site's own words where a library's differ (allauth's Title Case buttons).
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and numbers as each language writes them (marketplace/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["marketplace.formats"]
LANGUAGE_COOKIE_NAME = "language"
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
# Deliverables are never served from MEDIA_URL: a view checks the viewer is a
# party to the order and sends them as attachments (marketplace/storage.py).
MEDIA_URL = "/media-not-served/"
STORAGES: dict[str, dict] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# With a bucket named, uploads go to S3 (or MinIO, or any S3-compatible
# store), so web processes on several machines share them. Objects stay
# private: a download is a redirect, after the permission check, to a
# presigned URL that expires in AWS_QUERYSTRING_EXPIRE seconds
# (marketplace/storage.py).
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 60)
if AWS_STORAGE_BUCKET_NAME:
    _endpoint_url = env_str("AWS_S3_ENDPOINT_URL")
    _s3_options: dict[str, object] = {
        "bucket_name": AWS_STORAGE_BUCKET_NAME,
        "default_acl": None,
        "file_overwrite": False,
        "querystring_auth": True,
        "querystring_expire": AWS_QUERYSTRING_EXPIRE,
        # boto3 still presigns with the deprecated SigV2 in us-east-1; MinIO
        # and the newer AWS regions accept only SigV4.
        "signature_version": env_str("AWS_S3_SIGNATURE_VERSION", "s3v4"),
    }
    # Each is optional: left out, boto3 finds it itself (AWS's own endpoint,
    # the region and keys of ~/.aws, the environment or an instance role).
    for _option, _value in {
        "endpoint_url": _endpoint_url,
        "region_name": env_str("AWS_S3_REGION_NAME"),
        "access_key": env_str("AWS_ACCESS_KEY_ID"),
        "secret_key": env_str("AWS_SECRET_ACCESS_KEY"),
        # MinIO and most self-hosted stores want path-style addressing.
        "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE", "path" if _endpoint_url else ""),
    }.items():
        if _value:
            _s3_options[_option] = _value
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options}

# --- E-mail -------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds a mail server may take to answer before the send fails (and the e-mail sweep retries).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# A mail provider's API instead of SMTP through django-anymail: EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend
# (mailgun, postmark, sendgrid, amazon_ses, brevo, ...) and its keys as ANYMAIL_<KEY>, e.g. ANYMAIL_MAILGUN_API_KEY.
ANYMAIL = {name.removeprefix("ANYMAIL_"): value for name, value in os.environ.items() if name.startswith("ANYMAIL_")}
# A failed send is retried by the e-mail sweep after EMAIL_RETRY_SECONDS, doubling each time (at most
# six hours apart), EMAIL_MAX_ATTEMPTS times in all; then it waits for staff (the admin, /metrics).
EMAIL_RETRY_SECONDS = env_int("EMAIL_RETRY_SECONDS", 60)
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 8)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Milestone Marketplace <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security -----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # /healthz is probed over plain HTTP by load balancers.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Celery -------------------------------------------------------------------
# A password for Redis may come apart from the URL (REDIS_PASSWORD), in any characters.
REDIS_URL = redis_url(env_str("REDIS_URL"), env_str("REDIS_PASSWORD"))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 1,
        "socket_timeout": 1,
        "max_retries": 1,
    }
else:
    # The embedded default: a broker on the filesystem, so that timed work
    # really runs with nothing but `make run`.
    _broker_dir = DATA_DIR / "celery-broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        # The exchange tables too (kombu's default is ./control in the working
        # directory, which is how a stray control/ once got committed).
        "control_folder": str(_broker_dir / "control"),
    }
# Three queues, so e-mail can never starve the sweeps: beat's ticks (and the ledger's
# seal) on "sweeps", e-mail on "email", the rest (payouts and refunds, webhooks, provider
# sessions) on "celery". A worker started without -Q consumes all three; an operator
# may give each its own workers (`celery -A marketplace worker -Q sweeps`).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("sweeps"), Queue("email"), Queue("webhooks"))
CELERY_TASK_ROUTES = {
    "*.sweeps.sweep_*": {"queue": "sweeps"},
    "payments.tasks.seal_ledger": {"queue": "sweeps"},
    "privacy.tasks.prune_old_data": {"queue": "sweeps"},
    "notifications.tasks.send_notification_email*": {"queue": "email"},
    "notifications.tasks.send_outgoing_email": {"queue": "email"},
    # A slow receiver of a user's webhook must not hold up e-mail or payouts.
    "webhooks.tasks.*": {"queue": "webhooks"},
}
# A task past its soft limit gets SoftTimeLimitExceeded (its transaction rolls back, the row stays
# due); past the hard limit its process is replaced. Sweeps stop themselves after one interval.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Publishing must never hang a web request when the broker is away: the
# database is the source of truth and the sweeps catch up afterwards.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# Workers and beat ride out a broker outage: they retry the connection for as
# long as it takes (None: no limit; Celery backs off up to a couple of seconds
# between tries) and resume by themselves when Redis is back. With a limit, a
# worker exited for good about 2 s into an outage. Publishing from web
# requests is bounded separately (marketplace/queue.py: one try, no wait).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Celery's file-backed scheduler, recording a heartbeat that sweeps_status and /metrics read.
CELERY_BEAT_SCHEDULER = "marketplace.beat:HeartbeatScheduler"
# Beat opens its schedule file at start; a DATA_DIR that does not exist yet made it die there.
# (On a read-only filesystem beat says so itself.)
with contextlib.suppress(OSError):
    Path(CELERY_BEAT_SCHEDULE_FILENAME).parent.mkdir(parents=True, exist_ok=True)
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 30)
SWEEP_BATCH_SIZE = env_int("SWEEP_BATCH_SIZE", 500)

# Retention (privacy.retention, hourly): login attempts and read notices are deleted after these.
LOGIN_RECORD_RETENTION = env_duration("LOGIN_RECORD_RETENTION", "30d")
READ_NOTICE_RETENTION = env_duration("READ_NOTICE_RETENTION", "90d")

# --- Caches -------------------------------------------------------------------
# Both in each web process's own memory: no page waits on Redis, and a restart (a deploy) starts
# empty. "default" holds allauth's rate limits; "pages" the rendered parts of the order page, the
# dashboards and the earnings page (marketplace.pages), reused while what they show is unchanged, for at most
# PAGE_CACHE_SECONDS (0: always render). A LocMemCache's LOCATION names its store.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 15)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"},
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pages",
        "TIMEOUT": PAGE_CACHE_SECONDS,
        # About 125 KB for a 50-milestone order, 20 KB for a dashboard or the earnings; none kept over
        # 256 KB (marketplace.pages.LARGEST_KEPT): some 50 MB per process at most.
        "OPTIONS": {"MAX_ENTRIES": 200},
    },
}

# --- Processes ----------------------------------------------------------------
# Python's cyclic garbage collector runs once per this many new objects (its default is 700);
# what is loaded at start is frozen out of its scans (marketplace.apps.tune_gc). 0: Python's default.
GC_GEN0_THRESHOLD = env_int("GC_GEN0_THRESHOLD", 10_000)

# --- Business rules -----------------------------------------------------------
MARKETPLACE_CURRENCIES = env_list("MARKETPLACE_CURRENCIES", ["USD", "EUR", "GBP"])
MARKETPLACE_DEFAULT_CURRENCY = env_str("MARKETPLACE_DEFAULT_CURRENCY", "USD")
CURRENCIES = MARKETPLACE_CURRENCIES
DEFAULT_CURRENCY = MARKETPLACE_DEFAULT_CURRENCY

# Seller commission, taken from the milestone amount at release.
SELLER_COMMISSION_RATE = env_decimal("SELLER_COMMISSION_RATE", "0.20")
# Buyer service fee, charged on top of the milestone amount at funding.
BUYER_SERVICE_FEE_RATE = env_decimal("BUYER_SERVICE_FEE_RATE", "0.055")
MILESTONE_MIN_AMOUNT = env_decimal("MILESTONE_MIN_AMOUNT", "5.00")
MILESTONE_MAX_AMOUNT = env_decimal("MILESTONE_MAX_AMOUNT", "100000.00")
# The categories a gig is filed under: (stored value, label). A fixed list, not
# read from the environment; gigs store the value, so keep the values once used.
# "other" is the default, and what gigs from before categories got.
# The labels are marked for translation (lazy: read in the reader's language).
GIG_CATEGORIES = (
    ("design", gettext_lazy("Design")),
    ("development", gettext_lazy("Programming & Tech")),
    ("writing", gettext_lazy("Writing & Translation")),
    ("marketing", gettext_lazy("Digital Marketing")),
    ("video", gettext_lazy("Video & Animation")),
    ("other", pgettext_lazy("category", "Other")),
)

# How long approved money waits before the seller may withdraw it.
CLEARANCE_PERIODS = {
    "instant": env_duration("CLEARANCE_INSTANT", "0"),
    "paypal": env_duration("CLEARANCE_PAYPAL", "3d"),
    "bank_transfer": env_duration("CLEARANCE_BANK_TRANSFER", "14d"),
}
# Seller levels, judged nightly (``reviews.sweeps.sweep_seller_levels``): a seller holds the highest
# level whose thresholds they meet, and every level's below it. Orders, earnings, the rating and the
# account's age are all time; the rates are of the last 60 days, and a rate with nothing to count in
# them passes. Earnings are the net of releases and tips, per currency: the shares of each currency's
# threshold add up (200 USD and 185 EUR are Level 1's whole). Not read from the environment.
SELLER_LEVEL_THRESHOLDS: dict[str, dict[str, Any]] = {
    "level_1": {
        "account_age": timedelta(days=60),
        "completed_orders": 10,
        "earnings": {"USD": Decimal("400"), "EUR": Decimal("370"), "GBP": Decimal("320")},
        "rating": Decimal("4.7"),
        "on_time_rate": 90,
        "response_rate": 90,
        "cancellation_rate": 10,
    },
    "level_2": {
        "account_age": timedelta(days=120),
        "completed_orders": 50,
        "earnings": {"USD": Decimal("2000"), "EUR": Decimal("1850"), "GBP": Decimal("1600")},
        "rating": Decimal("4.7"),
        "on_time_rate": 90,
        "response_rate": 90,
        "cancellation_rate": 10,
    },
    "top_rated": {
        "account_age": timedelta(days=180),
        "completed_orders": 100,
        "earnings": {"USD": Decimal("20000"), "EUR": Decimal("18500"), "GBP": Decimal("16000")},
        "rating": Decimal("4.8"),
        "on_time_rate": 95,
        "response_rate": 95,
        "cancellation_rate": 5,
    },
}
# How long an earning waits by the seller's level; the wait is the shorter of this and the
# withdrawal method's (CLEARANCE_PERIODS), fixed when the earning is released.
CLEARANCE_BY_LEVEL = {
    "new": timedelta(days=14),
    "level_1": timedelta(days=14),
    "level_2": timedelta(days=14),
    "top_rated": timedelta(days=7),
}
# A buyer who stays silent this long after a submission approves it.
AUTO_APPROVE_PERIOD = env_duration("AUTO_APPROVE_PERIOD", "7d")
# Reminders to the buyer before auto-approval, and to the seller before a deadline.
REVIEW_REMINDERS = env_durations("REVIEW_REMINDERS", "3d,1d")
# Reviews of a completed order: open this long, double-blind until both are in or it closes.
REVIEW_WINDOW = env_duration("REVIEW_WINDOW", "10d")
# Reminders to a party who has not reviewed, before the review window closes.
REVIEW_WINDOW_REMINDERS = env_durations("REVIEW_WINDOW_REMINDERS", "3d,1d")
DEADLINE_REMINDER = env_duration("DEADLINE_REMINDER", "24h")
# A deadline extension the buyer leaves unanswered this long lapses, as declined.
EXTENSION_RESPONSE_PERIOD = env_duration("EXTENSION_RESPONSE_PERIOD", "48h")
# A cancellation request left unanswered this long is accepted (as on Fiverr).
CANCELLATION_RESPONSE_PERIOD = env_duration("CANCELLATION_RESPONSE_PERIOD", "48h")
# What the dispute form promises: staff look at a new dispute within this many days.
DISPUTE_RESPONSE_DAYS = env_int("DISPUTE_RESPONSE_DAYS", 3)
# Reminders to the other party before an unanswered cancellation request is accepted.
CANCELLATION_REMINDERS = env_durations("CANCELLATION_REMINDERS", "24h,2h")
# A seller's proposed changes to a milestone awaiting acceptance lapse this long unanswered (terms stay).
CHANGES_RESPONSE_PERIOD = env_duration("CHANGES_RESPONSE_PERIOD", "48h")
# A seller's offer of a new milestone expires this long unanswered.
OFFER_EXPIRY = env_duration("OFFER_EXPIRY", "7d")
# A buyer's request closes by itself this long after it was posted (issue 36).
REQUEST_EXPIRY = env_duration("REQUEST_EXPIRY", "30d")
# An order whose milestones are all closed (one approved, none open, offered or unpaid)
# completes by itself this long after the last one closed.
ORDER_AUTO_COMPLETE = env_duration("ORDER_AUTO_COMPLETE", "3d")
# An ordered package's next planned step left unfunded this long after the previous one closed
# stops the order (its planned steps cancelled, no money moved); the buyer is reminded before.
CONTINUE_PERIOD = env_duration("CONTINUE_PERIOD", "8d")
CONTINUE_REMINDERS = env_durations("CONTINUE_REMINDERS", "2d,1d")
# After a milestone is approved, the buyer may tip its seller (once, up to its amount) for this long.
TIP_WINDOW = env_duration("TIP_WINDOW", "14d")

# Deliverable uploads.
DELIVERABLE_MAX_FILE_SIZE = env_int("DELIVERABLE_MAX_FILE_SIZE", 25 * 1024 * 1024)
DELIVERABLE_MAX_FILES = env_int("DELIVERABLE_MAX_FILES", 10)
DELIVERABLE_ALLOWED_EXTENSIONS = env_list(
    "DELIVERABLE_ALLOWED_EXTENSIONS",
    ["pdf", "png", "jpg", "jpeg", "gif", "webp", "zip", "txt", "md", "csv", "docx", "xlsx"],
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Each file is counted as it streams in; past DELIVERABLE_MAX_FILE_SIZE none of it is kept
# (marketplace.uploads.FileSizeLimitHandler) and the form names it with its size.
FILE_UPLOAD_HANDLERS = [
    "marketplace.uploads.FileSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# A gig's images (gigs/images.py): the largest file a seller may upload, and the most pixels its
# picture may have once decoded (a small file can unpack to gigabytes: a decompression bomb).
GIG_IMAGE_MAX_BYTES = env_int("GIG_IMAGE_MAX_BYTES", 5 * 1024 * 1024)
GIG_IMAGE_MAX_PIXELS = env_int("GIG_IMAGE_MAX_PIXELS", 40_000_000)

# --- Payment provider (payments/providers) -----------------------------------------
# "sandbox" needs no network and serves its own hosted page under /sandbox/;
# "stripe" uses Stripe Checkout, Refunds and Connect payouts.
PAYMENT_PROVIDER = env_str("PAYMENT_PROVIDER") or "sandbox"
# The sandbox signs its webhooks with this (Stripe's scheme): from the environment, or random per
# installation (DATA_DIR/secrets/), never derived from a public value such as DEBUG's SECRET_KEY,
# which would let anyone who reaches a `make run` instance sign a "payment".
SANDBOX_WEBHOOK_SECRET = env_str("SANDBOX_WEBHOOK_SECRET") or (
    installation_secret(DATA_DIR, "sandbox-webhook-secret", prefix="whsec_sandbox_")
    if PAYMENT_PROVIDER == "sandbox"
    else ""
)
# The sandbox sends an event again while it is not answered 2xx, after each of these waits in turn
# (about 2.7 days in all, as Stripe retries for up to three days), then gives up.
SANDBOX_WEBHOOK_RETRY_SCHEDULE = env_durations("SANDBOX_WEBHOOK_RETRY_SCHEDULE", "1m,5m,30m,2h,5h,10h,10h,12h,12h,12h")
# The key of the ledger's MACs (marketplace/mac.py): from the environment, never in the database.
# Set it apart from SECRET_KEY in production, so SECRET_KEY can be rotated without it;
# unset (only allowed with DEBUG on), it is derived from SECRET_KEY.
LEDGER_MAC_KEY = env_str("LEDGER_MAC_KEY", "") or hashlib.sha256(("ledger-mac:" + SECRET_KEY).encode()).hexdigest()
# How often beat seals the ledger with a checkpoint (payments.integrity.ledger_seal).
LEDGER_SEAL_INTERVAL_SECONDS = env_int("LEDGER_SEAL_INTERVAL_SECONDS", 300)
# Where the sandbox posts its webhooks; empty: the site the buyer paid on.
SANDBOX_WEBHOOK_URL = env_str("SANDBOX_WEBHOOK_URL", "")
# Outgoing webhooks (webhooks/): only https URLs whose every address is public, unless this is on
# (development and tests: a receiver on 127.0.0.1, http allowed). Off by default; `make run` (DEBUG)
# turns it on unless told otherwise.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", DEBUG)
# A delivery not answered 2xx is tried again after WEBHOOKS_RETRY_BASE, doubling (at most 12 hours),
# until WEBHOOKS_RETRY_PERIOD after the event; then it has failed and its endpoint is disabled, as it is
# after WEBHOOKS_DISABLE_AFTER failures in a row.
WEBHOOKS_RETRY_BASE = env_duration("WEBHOOKS_RETRY_BASE", "1m")
WEBHOOKS_RETRY_PERIOD = env_duration("WEBHOOKS_RETRY_PERIOD", "3d")
WEBHOOKS_DISABLE_AFTER = env_int("WEBHOOKS_DISABLE_AFTER", 50)
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 10)
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
# An unpaid milestone's checkout closes after this; the milestone closes with no money moved.
CHECKOUT_EXPIRY = env_duration("CHECKOUT_EXPIRY", "24h")
# Payouts and refunds to card: attempts before a command waits for staff, and the first backoff.
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
OUTBOX_RETRY_SECONDS = env_int("OUTBOX_RETRY_SECONDS", 30)
# A worker holds a command this long while it calls the provider; then another may retry it.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 300)
PAYMENT_PROVIDERS = ("sandbox", "stripe")
if PAYMENT_PROVIDER not in PAYMENT_PROVIDERS:
    raise ImproperlyConfigured(f"PAYMENT_PROVIDER={PAYMENT_PROVIDER!r}: use one of {', '.join(PAYMENT_PROVIDERS)}.")
if not DEBUG:
    # Production starts only with every secret it needs, and never on the sandbox by default:
    # a deployment that forgot PAYMENT_PROVIDER would take orders and move no money.
    _missing = [
        why
        for name, why in (
            ("LEDGER_MAC_KEY", "LEDGER_MAC_KEY (a random value apart from SECRET_KEY; it keys the ledger's MACs)"),
            ("PAYMENT_PROVIDER", "PAYMENT_PROVIDER (stripe; or sandbox, named, for a site that moves no real money)"),
            *(
                (name, f"{name} (PAYMENT_PROVIDER is stripe)")
                for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
                if PAYMENT_PROVIDER == "stripe"
            ),
            ("ALLOWED_HOSTS", "ALLOWED_HOSTS (the site's host names, comma-separated)"),
            ("SITE_URL", "SITE_URL (the site's public address, e.g. https://market.example.com: links in e-mails)"),
        )
        if not env_str(name)
    ]
    if _missing:
        raise ImproperlyConfigured("With DEBUG off these must be set: " + "; ".join(_missing) + ".")
if PAYMENT_PROVIDER == "stripe":
    # The buyer's browser is redirected to Stripe's page after posting our form.
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] += [
        "https://checkout.stripe.com",
        "https://connect.stripe.com",
    ]

# --- The REST API (api/) ------------------------------------------------------------
# Requests per token (per signed-in session, per address when anonymous) and period: "300/minute",
# "5000/hour". Counted in the default cache, so per web process with the local-memory cache.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "300/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "api.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "api.permissions.TokenScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.NewestFirstCursor",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Milestone Marketplace API",
    "DESCRIPTION": (
        "Your orders, milestones, messages and notices, as on the site: every write goes through the "
        "same rules. Authenticate with a personal access token from your profile's API tokens page: "
        "`Authorization: Bearer <token>`. Errors are `application/problem+json`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MilestoneStateEnum": "milestones.models.MilestoneState",
        "ProposalStateEnum": "milestones.models.ProposalState",
    },
}

# Who may read /metrics (dashboards/metrics.py): networks, comma-separated; anyone else gets a 404.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"])

# --- Logs and errors ------------------------------------------------------------------
# JSON lines on stdout in production, readable lines in development (marketplace/logs.py).
LOG_FORMAT = env_str("LOG_FORMAT") or ("console" if DEBUG else "json")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
if LOG_FORMAT not in FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use json or console")
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
configure_structlog()
# A request's id reaches the tasks it publishes (and their lines); addresses are bound by us,
# from the proxy's header as TRUSTED_PROXY_COUNT says (accounts.receivers), not guessed by ipware.
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
# The user's id is bound from the session by marketplace.http.RequestIdMiddleware: django-structlog's
# own binding loads the user row, a query the live pages' polls do not otherwise make.
DJANGO_STRUCTLOG_USER_ID_FIELD = None

# Errors to Sentry (or any Sentry-compatible service) when SENTRY_DSN is set: Django and Celery.
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    # Only with a DSN: the SDK and its integrations are loaded where errors are reported, nowhere else.
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        release=env_str("SENTRY_RELEASE") or None,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
        traces_sample_rate=float(env_decimal("SENTRY_TRACES_SAMPLE_RATE", "0")),
        # No user's e-mail, address or cookies leave the site.
        send_default_pii=False,
    )
