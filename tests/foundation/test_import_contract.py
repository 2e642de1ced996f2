"""The direction of the apps (pyproject.toml, [tool.importlinter]) holds, and
the contract really catches an import that breaks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The packages the contract names (every app): read from the contract itself, so a new app is copied
# into the throwaway tree without anyone remembering to list it here.
APPS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


def _copy_of_the_apps(tmp_path: Path) -> Path:
    for app in APPS:
        shutil.copytree(ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_keeps_the_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward_import"),
    [
        ("notifications/models.py", "import accounts.models"),  # the lowest app calling up
        ("payments/services.py", "from milestones.models import Milestone"),  # money reaching for milestones
        ("orders/services.py", "from milestones.models import Milestone"),  # the old cycle
        ("marketplace/sweeps.py", "from payments import sweeps"),  # the kernel importing a domain
        ("payments/checkout.py", "from sandbox.services import session_pay"),  # money reaching into the fake provider
        ("webhooks/services.py", "import accounts.models"),  # webhooks know the user only as AUTH_USER_MODEL
        ("milestones/services/steps.py", "from api.models import ApiToken"),  # a domain reaching for the API on top
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path, module, upward_import):
    tree = _copy_of_the_apps(tmp_path)
    path = tree / module
    path.write_text(path.read_text() + f"\n{upward_import}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    assert importer in result.stdout, result.stdout
