"""`make test` stops before pytest starts when something the suite runs is missing, and says how to install it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_without_nginx_make_test_prints_the_install_line_and_exits_non_zero(tmp_path):
    # A PATH with everything the check could look for but nginx.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("java", "redis-server", "pg_isready"):
        for folder in os.environ.get("PATH", "").split(os.pathsep):
            if (Path(folder) / program).exists():
                (bin_dir / program).symlink_to(Path(folder) / program)
                break
    result = subprocess.run(
        [sys.executable, "scripts/check_services.py", "--test"],
        cwd=ROOT,
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "nginx is not installed" in result.stderr
    assert "apt-get install -y nginx-light" in result.stderr


def test_with_everything_there_the_check_passes_quietly():
    result = subprocess.run(
        [sys.executable, "scripts/check_services.py", "--test"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_make_test_runs_the_check_before_pytest():
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe, "the Makefile has a test target"
    lines = recipe.group(1).splitlines()
    check = next(i for i, line in enumerate(lines) if "scripts/check_services.py --test" in line)
    pytest_line = next(i for i, line in enumerate(lines) if "bin/pytest" in line)
    assert check < pytest_line
