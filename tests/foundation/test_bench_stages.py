"""`make bench` writes what it measured whatever a stage does (issue 41): a stage that
fails is marked not finished with its reason, the stages that need it are not run,
the table and ``latest.json`` are written, and only then the exit code says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bench.__main__ as bench_run

ROOT = Path(__file__).resolve().parents[2]


def _stages(report: bench_run.Report) -> dict[str, dict]:
    return {stage["name"]: stage for stage in json.loads(report.json())["stages"]}


def test_a_failing_stage_is_recorded_and_the_rest_still_run_and_are_written(tmp_path):
    report = bench_run.Report()
    run = bench_run.Run(report)

    def pages() -> None:
        report.figure("order_page_rps", 300)
        raise SystemExit("bench: gunicorn did not start")

    def approve() -> None:
        report.figure("approve_rps", 190)

    run.stage("seed", lambda: None)
    run.stage("http", pages, needs=("seed",))
    run.stage("approve", approve, needs=("seed",))
    run.stage("needs-http", lambda: None, needs=("http",))
    bench_run.write_results(report, tmp_path)

    assert run.exit_code() == 1
    written = json.loads((tmp_path / "latest.json").read_text())
    assert written["finished"] is False
    assert written["figures"] == {"order_page_rps": 300.0, "approve_rps": 190.0}
    stages = {stage["name"]: stage for stage in written["stages"]}
    assert stages["http"]["finished"] is False
    assert stages["http"]["reason"] == "SystemExit: bench: gunicorn did not start"
    assert stages["approve"]["finished"] is True
    assert stages["needs-http"]["reason"] == "not run: it needs http"
    table = (tmp_path / "latest.md").read_text()
    assert "- http: SystemExit: bench: gunicorn did not start" in table
    assert "| approve | yes |" in table and "| http | NO |" in table


def test_ctrl_c_in_a_stage_stops_the_run_but_not_the_writing(tmp_path):
    report = bench_run.Report()
    run = bench_run.Run(report)

    def interrupted() -> None:
        raise KeyboardInterrupt

    run.stage("backlog", interrupted)
    run.stage("sweep", lambda: None)
    bench_run.write_results(report, tmp_path)

    assert run.exit_code() == 130
    stages = _stages(report)
    assert stages["backlog"]["reason"] == "interrupted (Ctrl-C)"
    assert stages["sweep"]["reason"] == "not run: the run was interrupted"
    assert json.loads((tmp_path / "latest.json").read_text())["finished"] is False


def test_main_writes_the_results_and_fails_when_the_first_stage_fails(tmp_path, monkeypatch, capsys):
    def no_tools(report: bench_run.Report) -> None:
        raise SystemExit("bench: pgbench is missing (apt-get install -y postgresql-client)")

    monkeypatch.setattr(bench_run, "setup", no_tools)
    monkeypatch.setattr(bench_run, "RESULTS", tmp_path)

    assert bench_run.main() == 1

    written = json.loads((tmp_path / "latest.json").read_text())
    reasons = {stage["name"]: stage["reason"] for stage in written["stages"]}
    assert reasons["setup"] == "SystemExit: bench: pgbench is missing (apt-get install -y postgresql-client)"
    assert reasons["seed"] == "not run: it needs setup"
    assert reasons["backlog"] == reasons["sweep"] == reasons["audit"] == "not run: it needs seed"
    assert "bench: not every stage finished: setup" in capsys.readouterr().err


def test_bench_and_cluster_start_before_any_django_settings_exist():
    # `python -m bench` sets its settings up in its first stage, `python -m deploy.cluster` never in its own
    # process: neither may import anything that reads them (the marketplace package's Celery app does).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY", "DEBUG"))}
    code = "import bench.__main__, deploy.cluster, deploy.processes, sys; assert 'django.conf' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
