"""``manage.py`` commands in fresh processes that start warm: a fork server for the settings probes.

A test of the settings must see what an operator sees: a process that reads its environment
once, at start-up, and loads the settings from nothing. Starting Python and importing Django,
Celery, structlog and allauth takes a second or two each time, and some tests start twenty such
processes. So one server process imports those libraries (never the project, never a settings
module) and then forks a child per command: the child takes the command's environment, working
directory and ``argv``, runs ``manage.py`` as ``python manage.py ...`` would, and exits with its
exit code. Each child loads the settings and the project's apps from nothing, as a new process.

    server = WarmPython()
    done = server.run(["manage.py", "check"], env={...}, cwd=ROOT)  # a CompletedProcess
    server.close()

Run as ``python -m tests.warm`` it is the server: one JSON request per line on stdin (``argv``,
``env``, ``cwd``), one JSON answer per line on stdout (``returncode``, ``stdout``, ``stderr``).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Libraries only: none of them reads the settings or the environment's values when imported.
PRELOAD = (
    "django.core.management",
    "django.db.models",
    "django.forms",
    "django.http",
    "django.urls",
    "django.template",
    "django.test",
    "django.contrib.admin",
    "django.db.backends.postgresql.base",
    "django.db.backends.sqlite3.base",
    "celery",
    "celery.app",
    "celery.utils.threads",
    "kombu",
    "structlog",
    "structlog.dev",
    "asgiref.sync",
    "dj_database_url",
    "psycopg",
    "fido2.server",
    "moneyed",
    "stripe",
    "sentry_sdk",
    "redis",
)


class WarmPython:
    """The client: one server process for as long as this object lives."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.warm"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, argv: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"argv": argv, "env": env, "cwd": str(cwd)}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the warm Python server exited with {self.process.wait()}")
        answer = json.loads(line)
        return subprocess.CompletedProcess(argv, answer["returncode"], answer["stdout"], answer["stderr"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def _child(request: dict, out: int, err: int) -> None:
    """In the forked child: become ``python manage.py ...`` in the request's environment. Never returns."""
    import runpy
    import traceback

    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = list(request["argv"])
    sys.path[0] = str(Path(request["cwd"], sys.argv[0]).parent)
    code = 0
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exit:
        if exit.code is None:
            code = 0
        elif isinstance(exit.code, int):
            code = exit.code
        else:
            print(exit.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def serve() -> None:
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    for name in PRELOAD:
        importlib.import_module(name)
    from django.conf import settings

    assert not settings.configured, "a preloaded library read the settings"
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            answers.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request, out.fileno(), err.fileno())
            _, status = os.waitpid(pid, 0)
            out.seek(0)
            err.seek(0)
            answer = {
                "returncode": os.waitstatus_to_exitcode(status),
                "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace"),
            }
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve()
