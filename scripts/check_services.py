"""Stop `make test` at once, in one line, if PostgreSQL or Redis is not there."""

import os
import socket
import sys
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


def main() -> int:
    for name, url, default_port, how in SERVICES:
        parsed = urlparse(url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            print(f"make test: {name} is not reachable at {host}:{port}; {how}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
