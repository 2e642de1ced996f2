"""The production topology on one machine, without Docker (``make cluster``).

nginx (Debian's) in front with TLS (a self-signed certificate made here),
two gunicorn web processes with separate data folders, two Celery workers,
one beat, S3 served by moto; nothing shared but PostgreSQL, Redis and S3.
Everything listens on loopback ports. The same settings as production:
``DEBUG=false``, the application's own database role, JSON logs (one file per
process under the cluster's folder).

``make cluster`` uses its own database (``marketplace_cluster``: migrated,
granted, seeded with the demo) and runs until Ctrl-C.
``tests/cluster/test_cluster.py`` starts one against the test database and
kills processes under it.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from deploy import selfsigned
from deploy.processes import kill_process, stop_process

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "marketplace.conf.template"
APP_ROLE = "marketplace_cluster_app"
APP_ROLE_PASSWORD = "cluster-app-password"
WEBHOOK_SECRET = "whsec_cluster_" + secrets.token_hex(24)
BUCKET = "marketplace-cluster"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render(template: str, values: dict[str, str]) -> str:
    """``${NAME}`` filled from ``values`` (what the nginx image's envsubst does); nginx's own ``$vars`` stay."""
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)] if m.group(1) in values else m.group(0), template)


def wait_for(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return response.status == 200
    except urllib.error.HTTPError:
        return False


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    ready: object = None  # a callable that says it is up
    popen: subprocess.Popen | None = None
    # SIGTERM to its whole process group when stopped; a Celery worker wants it on its main process
    # alone, which runs the warm shutdown (a pool child that got SIGTERM would die mid-task).
    term_group: bool = True

    def start(self) -> None:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the process and its children: no goodbye, nothing finished."""
        if self.alive():
            assert self.popen is not None
            kill_process(self.popen, name=self.name)

    def stop(self) -> None:
        """SIGTERM, 30 s, then SIGKILL to the group (``deploy.processes``); a cut wait is printed."""
        if not self.alive():
            return
        assert self.popen is not None
        stopped = stop_process(self.popen, wait=30, name=self.name, term_group=self.term_group)
        if stopped.cut:
            print(f"cluster: {stopped.describe()}", file=sys.stderr)


@dataclass
class Cluster:
    folder: Path
    database_url: str
    redis_url: str
    owner_url: str = ""
    webs: int = 2
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    https_port: int = 0
    http_port: int = 0
    s3_port: int = 0

    @property
    def url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def cert(self) -> Path:
        return self.folder / "tls" / "cert.pem"

    # --- set-up ---------------------------------------------------------------------------------
    def _certificate(self) -> None:
        selfsigned.write(self.folder / "tls", ["localhost", "127.0.0.1"])

    def _app_url(self) -> str:
        """The application's role on the same server and database (trust or its password)."""
        parts = urlsplit(self.database_url)
        netloc = f"{APP_ROLE}:{APP_ROLE_PASSWORD}@{parts.hostname}:{parts.port or 5432}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def env(self, **more: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST", "DEBUG"))}
        return {
            **keep,
            "DJANGO_SETTINGS_MODULE": "marketplace.settings",
            "DEBUG": "false",
            "SECRET_KEY": "cluster-" + "Zt7rQ2mW9xK4pL8vN3cB6yH1" * 3,
            "LEDGER_MAC_KEY": os.environ.get("LEDGER_MAC_KEY") or "cluster-ledger-" + "aB3dE5fG7h" * 5,
            "PAYMENT_PROVIDER": "sandbox",
            # One secret for the cluster: each process has its own DATA_DIR, where the
            # sandbox would otherwise make a secret of its own.
            "SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SITE_URL": self.url,
            "CSRF_TRUSTED_ORIGINS": self.url,
            "TRUSTED_PROXY_COUNT": "1",
            "DATABASE_URL": self._app_url(),
            "REDIS_URL": self.redis_url,
            "STATIC_ROOT": str(self.folder / "static"),
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.s3_port}",
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_ACCESS_KEY_ID": "cluster",
            "AWS_SECRET_ACCESS_KEY": "cluster-secret",
            # The sandbox posts its webhooks through the proxy, as a provider would.
            "SANDBOX_WEBHOOK_URL": "",
            "REQUESTS_CA_BUNDLE": str(self.cert),
            "SSL_CERT_FILE": str(self.cert),
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
            **more,
        }

    def prepare(self) -> None:
        """Certificate, S3, the role's grants, static files: what a deployment's image and migrate job do."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "logs").mkdir(exist_ok=True)
        self._certificate()
        self.https_port = self.https_port or free_port()
        self.http_port = self.http_port or free_port()
        self.s3_port = free_port()
        self._add(
            "s3",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.s3_port)],
            {**os.environ},
            ready=lambda: http_ok(f"http://127.0.0.1:{self.s3_port}/moto-api/"),
        )
        self.processes["s3"].start()
        wait_for(self.processes["s3"].ready, timeout=30, what="S3 (moto)")
        owner = self.env(DATABASE_URL=self.owner_url or self.database_url, APP_DB_PASSWORD=APP_ROLE_PASSWORD)
        python = [sys.executable, "manage.py"]
        subprocess.run([*python, "db_app_role", APP_ROLE], cwd=ROOT, env=owner, check=True, capture_output=True)
        subprocess.run([*python, "collectstatic", "--noinput"], cwd=ROOT, env=owner, check=True, capture_output=True)
        create_bucket = f"import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{self.s3_port}', region_name='us-east-1', aws_access_key_id='cluster', aws_secret_access_key='cluster-secret').create_bucket(Bucket='{BUCKET}')"  # noqa: E501
        subprocess.run([sys.executable, "-c", create_bucket], check=True, capture_output=True)

    def _add(self, name: str, command: list[str], env: dict[str, str], ready=None, term_group: bool = True) -> Process:
        process = Process(name, command, env, self.folder / "logs" / f"{name}.log", ready, term_group=term_group)
        self.processes[name] = process
        return process

    def define(self) -> None:
        celery = [sys.executable, "-m", "celery", "-A", "marketplace"]
        upstreams = []
        for n in range(1, self.webs + 1):
            port = free_port()
            upstreams.append(f"server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;")
            env = self.env(
                DATA_DIR=str(self.folder / f"web{n}"), GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2"
            )
            self._add(f"web{n}", [sys.executable, "-m", "gunicorn", "marketplace.wsgi"], env,
                      ready=lambda port=port: http_ok(f"http://127.0.0.1:{port}/livez"))  # fmt: skip
        for n in range(1, self.workers + 1):
            env = self.env(DATA_DIR=str(self.folder / f"worker{n}"))
            command = [*celery, "worker", "-n", f"worker{n}@%h", "--concurrency=2", "--loglevel=INFO"]
            self._add(f"worker{n}", command, env, ready=self._log_says(f"worker{n}", " ready."), term_group=False)
        beat_dir = self.folder / "beat"
        self._add("beat", [*celery, "beat", f"--schedule={beat_dir}/celerybeat-schedule", "--loglevel=INFO"],
                  self.env(DATA_DIR=str(beat_dir)), ready=self._log_says("beat", "beat: Starting"))  # fmt: skip
        nginx_dir = self.folder / "nginx"
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (nginx_dir / "temp" / sub).mkdir(parents=True, exist_ok=True)
        site = render(
            TEMPLATE.read_text(),
            {
                "NGINX_LISTEN_HTTP": f"127.0.0.1:{self.http_port}",
                "NGINX_LISTEN_HTTPS": f"127.0.0.1:{self.https_port}",
                "NGINX_PUBLIC_HTTPS_PORT": str(self.https_port),
                "NGINX_SERVER_NAME": "localhost 127.0.0.1",
                "NGINX_UPSTREAM_SERVERS": " ".join(upstreams),
                "NGINX_CERT": str(self.cert),
                "NGINX_CERT_KEY": str(self.folder / "tls" / "key.pem"),
                "NGINX_MAX_BODY": "251m",
                "NGINX_METRICS_ALLOW": "127.0.0.1",
            },
        )
        (nginx_dir / "site.conf").write_text(site)
        temp = nginx_dir / "temp"
        (nginx_dir / "nginx.conf").write_text(
            f"""worker_processes 2;
pid {nginx_dir}/nginx.pid;
error_log {self.folder}/logs/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log {self.folder}/logs/nginx-access.log;
    client_body_temp_path {temp}/client_body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {nginx_dir}/site.conf;
}}
"""
        )
        self._add("nginx", ["nginx", "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf"), "-g", "daemon off;"],
                  {**os.environ}, ready=lambda: http_ok(f"http://127.0.0.1:{self.http_port}/livez"))  # fmt: skip

    def _log_says(self, name: str, text: str):
        def check() -> bool:
            log = self.processes[name].log
            return log.exists() and text in log.read_text(errors="replace")

        return check

    # --- running ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.prepare()
        self.define()
        for name, process in self.processes.items():
            if name != "s3":
                process.start()
        for name in self.processes:
            self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        process = self.processes[name]

        def up() -> bool:
            if not process.alive():
                raise RuntimeError(f"{name} exited:\n{process.log.read_text(errors='replace')[-2000:]}")
            return bool(process.ready())  # type: ignore[operator]

        wait_for(up, timeout=timeout, what=name)

    def restart(self, name: str) -> float:
        """Start a process again (after a kill); returns the seconds until it is ready."""
        started = time.monotonic()
        process = self.processes[name]
        if name.startswith(("worker", "beat")):
            process.log.rename(process.log.with_suffix(f".{int(time.time())}.log"))
        process.start()
        self.wait_ready(name)
        return time.monotonic() - started

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.processes[name].stop()


def _setup_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "marketplace.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(ROOT / ".data" / "cluster"))
    parser.add_argument("--https-port", type=int, default=8443)
    parser.add_argument("--http-port", type=int, default=8080)
    args = parser.parse_args()
    base = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/marketplace")
    database_url = urlunsplit((base.scheme, base.netloc, "/marketplace_cluster", "", ""))
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"
    folder = Path(args.folder)
    shutil.rmtree(folder, ignore_errors=True)
    print("cluster: a fresh database (marketplace_cluster), migrated")
    _setup_database(database_url)
    cluster = Cluster(folder, database_url, redis_url, https_port=args.https_port, http_port=args.http_port)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # `kill` stops the processes it started, as Ctrl-C does
    try:
        cluster.start()
        seed = cluster.env(DATABASE_URL=database_url)
        subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=seed, check=True)
        print(f"cluster: up at {cluster.url}/ (self-signed: {cluster.cert}); logs in {folder / 'logs'}")
        print("cluster: " + ", ".join(cluster.processes) + "; Ctrl-C stops them all")
        while all(p.alive() for p in cluster.processes.values()):
            time.sleep(1)
        dead = [name for name, p in cluster.processes.items() if not p.alive()]
        print(f"cluster: {', '.join(dead)} exited; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
