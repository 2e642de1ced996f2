"""Stop `make test` at once, one line per missing piece, if what the suite needs is not there.

PostgreSQL and Redis must answer; with ``--test``, the programs the suite runs must be installed
too: Chromium (the browser tests), nginx (the production topology's test), Java and the Nu HTML
checker (vnu-jar from npm). Each line says how to start or install what is missing; the exit status is 1 if
anything is.
"""

import os
import shutil
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

SERVICES = [
    (
        "PostgreSQL",
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace"),
        5432,
        "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set DATABASE_URL)",
    ),
    (
        "Redis",
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        6379,
        'start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" (or set REDIS_URL)',
    ),
]

CHROMIUM = Path("/usr/bin/chromium")
VNU = Path(__file__).resolve().parents[1] / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
# (name, found?, what needs it, the command that installs it)
PROGRAMS = [
    ("Chromium", lambda: CHROMIUM.exists(), "the browser tests drive it", "apt-get install -y chromium"),
    (
        "nginx",
        lambda: shutil.which("nginx") is not None,
        "the production topology's test, tests/celery/test_cluster.py, runs it",
        "apt-get install -y nginx-light",
    ),
    (
        "Java",
        lambda: shutil.which("java") is not None,
        "the Nu HTML checker of tests/quality runs on it",
        "apt-get install -y default-jre-headless",
    ),
    (
        "The Nu HTML checker",
        lambda: VNU.exists(),
        "tests/quality checks every main page with it (vnu-jar, pinned in package.json)",
        "apt-get install -y npm && make install",
    ),
]


def problems(*, programs: bool) -> list[str]:
    found = []
    for name, url, default_port, how in SERVICES:
        parsed = urlparse(url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            found.append(f"{name} is not reachable at {host}:{port}; {how}")
    if programs:
        for name, present, needed_by, install in PROGRAMS:
            if not present():
                found.append(f"{name} is not installed ({needed_by}); install it with: {install}")
    return found


def main(argv: list[str]) -> int:
    missing = problems(programs="--test" in argv)
    for line in missing:
        print(f"make test: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
