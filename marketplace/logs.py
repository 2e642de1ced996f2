"""Log lines for operators: one JSON object per line on stdout, or readable lines in development.

Every line, from our code, Django, Celery or gunicorn, carries ``time`` (UTC,
ISO 8601), ``level``, ``logger`` and ``event``; lines written while a request
or a task runs also carry its ``request_id`` (django-structlog binds it from
nginx's ``X-Request-ID``, or makes one, and passes it to every task the
request publishes, whose lines carry it with their ``task_id``). Fields given
with ``extra=`` are kept as fields.

No Django import here: gunicorn's configuration (``gunicorn.conf.py``) builds
its logging from this module before Django is set up.
"""

from __future__ import annotations

import re
from typing import Any

import structlog

FORMATS = ("json", "console")

# What every line gets, whether it came through structlog or the standard library.
_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
]


# Tracebacks as data, without the frames' local variables (they hold passwords and card details).
_JSON_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


def _renderer(fmt: str) -> Any:
    if fmt == "json":
        return structlog.processors.JSONRenderer(sort_keys=False, default=str)
    return structlog.dev.ConsoleRenderer(colors=False)


def formatters() -> dict[str, dict[str, Any]]:
    return {
        fmt: {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _JSON_TRACEBACKS if fmt == "json" else structlog.processors.format_exc_info,
                _renderer(fmt),
            ],
            "foreign_pre_chain": _SHARED,
        }
        for fmt in FORMATS
    }


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` of the settings (and, loggers aside, gunicorn's ``logconfig_dict``)."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT={fmt!r}: use json or console")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters(),
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": fmt, "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # django-structlog's own request_started/finished lines repeat gunicorn's access log
            # (failures still log); its task_started/task_succeeded lines, with durations, stay.
            "django_structlog.middlewares": {"level": "WARNING"},
        },
    }


def configure_structlog() -> None:
    """Loggers made with ``structlog.get_logger`` go through the standard library's handlers."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def gunicorn_logconfig(fmt: str, level: str) -> dict[str, Any]:
    """gunicorn's error and access logs in the same format, on stdout."""
    config = logging_config(fmt, level)
    config["loggers"] = {
        "gunicorn.error": {"handlers": ["stdout"], "level": level, "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    }
    return config


# Paths whose last part is a credential (a calendar feed's token: whoever reads the log could read
# the feed), written with the secret replaced.
_SECRET_PATHS = re.compile(r"^(/calendar/)[^/]+(\.ics)$")


def loggable_path(path: str) -> str:
    return _SECRET_PATHS.sub(r"\1[token]\2", path)


def access_fields(status: str | int, method: str, path: str, environ: dict, seconds: float, sent: int | None) -> dict:
    """One access line's fields: what an operator filters and graphs on."""
    return {
        "method": method,
        "path": loggable_path(path),
        "status": int(str(status).split(None, 1)[0]),
        "duration_ms": round(seconds * 1000, 1),
        "bytes": sent,
        "request_id": environ.get("HTTP_X_REQUEST_ID"),
        "client": environ.get("HTTP_X_REAL_IP") or environ.get("REMOTE_ADDR"),
        "user_agent": environ.get("HTTP_USER_AGENT"),
    }
