"""The sandbox's webhook secret: random per installation, never derived from a
public value. DEBUG's SECRET_KEY is printed in the source, so a secret derived
from it let anyone who could reach a `make run` instance sign a "payment"."""

from __future__ import annotations

import hashlib
import stat
import threading

from django.conf import settings

from marketplace.env import installation_secret


def test_made_once_per_installation_and_kept(tmp_path):
    first = installation_secret(tmp_path, "sandbox-webhook-secret", prefix="whsec_sandbox_")
    assert first.startswith("whsec_sandbox_") and len(first) == len("whsec_sandbox_") + 64
    assert installation_secret(tmp_path, "sandbox-webhook-secret", prefix="whsec_sandbox_") == first
    path = tmp_path / "secrets" / "sandbox-webhook-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_two_installations_have_different_secrets(tmp_path):
    assert installation_secret(tmp_path / "a", "s") != installation_secret(tmp_path / "b", "s")


def test_processes_starting_together_agree(tmp_path):
    """The web, worker and beat of `make run` start at once: every one reads the same secret."""
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(installation_secret(tmp_path, "s"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len(set(seen)) == 1


def test_the_configured_secret_is_not_derived_from_the_secret_key():
    derived = "whsec_sandbox_" + hashlib.sha256(("sandbox:" + settings.SECRET_KEY).encode()).hexdigest()[:32]
    assert settings.SANDBOX_WEBHOOK_SECRET and derived != settings.SANDBOX_WEBHOOK_SECRET
    assert settings.SECRET_KEY[:12] not in settings.SANDBOX_WEBHOOK_SECRET
