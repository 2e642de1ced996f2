"""docker-compose.yml, read as Docker would (it cannot run here): valid against the compose
specification's schema, every command it runs exists, every variable it passes is read by the code
and documented in the README, and only nginx publishes a port."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
RAW = (ROOT / "docker-compose.yml").read_text()
README = (ROOT / "README.md").read_text()
APP_SERVICES = ("migrate", "web", "worker", "beat")
# Where the application reads its environment.
READERS = [
    ROOT / "marketplace" / "settings.py",
    ROOT / "gunicorn.conf.py",
    *(ROOT / "marketplace" / "management" / "commands").glob("*.py"),
]


def _schema() -> dict:
    import check_jsonschema

    path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(path.read_text())


def _documented(name: str) -> bool:
    return any(line.startswith("|") and f"`{name}`" in line for line in README.splitlines())


def test_the_file_is_valid_against_the_compose_specification():
    errors = sorted(Draft7Validator(_schema()).iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_check_would_catch_a_mistake():
    broken = {**COMPOSE, "services": {**COMPOSE["services"], "web": {**COMPOSE["services"]["web"], "expose": 8000}}}
    assert list(Draft7Validator(_schema()).iter_errors(broken))


def test_only_nginx_publishes_ports_so_web_scales():
    published = {name for name, service in COMPOSE["services"].items() if service.get("ports")}
    assert published == {"nginx"}
    assert COMPOSE["services"]["web"]["expose"] == ["8000"]
    assert "web:8000" in COMPOSE["services"]["nginx"]["environment"]["NGINX_UPSTREAM_SERVERS"]


def test_every_command_exists():
    commands = get_commands()
    for name, service in COMPOSE["services"].items():
        command = service.get("command") or []
        text = " ".join(command) if isinstance(command, list) else command
        for managed in re.findall(r"manage\.py (\w+)", text):
            assert managed in commands, f"{name}: manage.py {managed} is not a command"
        if "gunicorn" in text:
            assert (ROOT / "marketplace" / "wsgi.py").exists() and "marketplace.wsgi" in text
        if text.startswith("celery"):
            assert "-A marketplace" in text
        for module in re.findall(r"python -m ([\w.]+)", text.replace('python", "-m", "', "python -m ")):
            assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module
    assert COMPOSE["services"]["tls-cert"]["command"][:3] == ["python", "-m", "deploy.selfsigned"]
    assert (ROOT / "deploy" / "selfsigned.py").exists()
    template = COMPOSE["services"]["nginx"]["volumes"][0].split(":")[0]
    assert (ROOT / template).exists()


def test_every_variable_passed_to_the_app_is_read_by_the_code_and_documented():
    sources = "\n".join(path.read_text() for path in READERS)
    for service in APP_SERVICES:
        for name in COMPOSE["services"][service]["environment"]:
            assert f'"{name}"' in sources, f"{service}: {name} is passed but nothing reads it"
            assert _documented(name), f"{service}: {name} is not in the README's configuration table"


def test_every_variable_the_operator_sets_in_env_is_documented():
    for name in set(re.findall(r"\$\{(\w+)", RAW)):
        assert _documented(name), f"${{{name}}} is not in the README's configuration table"


def test_the_secrets_are_required_not_defaulted():
    for name in ("SECRET_KEY", "LEDGER_MAC_KEY", "ALLOWED_HOSTS", "PAYMENT_PROVIDER", "APP_DB_PASSWORD",
                 "REDIS_PASSWORD", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"):  # fmt: skip
        assert re.search(rf"\$\{{{name}:\?", RAW), f"{name} must be ${{{name}:?...}}"
        assert not re.search(rf"\$\{{{name}:-", RAW), f"{name} has a default somewhere"


def test_nginx_gets_every_variable_its_template_uses():
    template = (ROOT / "deploy" / "nginx" / "marketplace.conf.template").read_text()
    used = set(re.findall(r"\$\{(\w+)\}", template))
    assert used == set(COMPOSE["services"]["nginx"]["environment"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_app_service_reads_env_and_has_a_grace_period(service):
    definition = COMPOSE["services"][service]
    assert definition["env_file"] == [".env"]
    assert definition["stop_grace_period"]
    if service != "migrate":
        assert definition["healthcheck"]["test"]
