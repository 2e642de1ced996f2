"""Stopping a process we started (``deploy.processes``): SIGTERM, a bounded wait, SIGKILL.

A child that traps SIGTERM is gone soon after the wait, and the result says
the wait was cut and when; its group goes with it; a polite child is not cut.
No database: these are plain processes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from deploy.processes import kill_process, stop_process, stop_processes

# Ignores SIGTERM (and so does every process it starts: an ignored signal stays ignored across exec),
# optionally starts a grandchild, prints the pids and says it is ready, then sleeps.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pids = []
if "--grandchild" in sys.argv:
    pids.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]).pid)
print("ready", *pids, flush=True)
time.sleep(120)
"""
# Exits on SIGTERM (the default action), after starting a grandchild that outlives it unless stopped.
POLITE_WITH_ORPHAN = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print("ready", child.pid, flush=True)
time.sleep(120)
"""


def _start(script: str, *args: str, session: bool = False) -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, start_new_session=session
    )
    assert proc.stdout is not None
    words = proc.stdout.readline().split()  # its handler is in place before we signal it
    assert words[0] == "ready", words
    return proc, [int(pid) for pid in words[1:]]


def _gone(pid: int, timeout: float = 5) -> bool:
    """The pid no longer runs (absent, or a zombie waiting for init to reap it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_a_child_that_traps_sigterm_is_killed_when_the_wait_runs_out_and_the_cut_is_reported(caplog):
    proc, _ = _start(STUBBORN)
    stopped = stop_process(proc, wait=0.5, name="stubborn")
    assert stopped.signalled and stopped.cut and stopped.gone
    assert stopped.returncode == -9
    assert 0.5 <= stopped.seconds < 5
    assert "outlasted the 0s wait after SIGTERM: SIGKILL" in stopped.describe()
    assert "process stop cut: stubborn" in caplog.text


def test_its_whole_group_goes_when_it_leads_its_own_session():
    proc, (grandchild,) = _start(STUBBORN, "--grandchild", session=True)
    stopped = stop_process(proc, wait=0.5)
    assert stopped.cut and stopped.returncode == -9
    assert _gone(grandchild), "the grandchild outlived its group's SIGKILL"


def test_a_child_that_exits_on_sigterm_is_not_cut():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    stopped = stop_process(proc, wait=10)
    assert stopped.signalled and not stopped.cut
    assert stopped.returncode == -15
    assert stopped.seconds < 5
    assert "stopped" in stopped.describe() and "SIGKILL" not in stopped.describe()


def test_sigterm_to_the_leader_alone_and_nothing_left_behind_in_its_group():
    # The leader exits on SIGTERM; its child, which got no SIGTERM, would be orphaned.
    proc, (child,) = _start(POLITE_WITH_ORPHAN, session=True)
    stopped = stop_process(proc, wait=10, term_group=False)
    assert not stopped.cut and stopped.returncode == -15
    assert _gone(child), "the leader's child was left running in its group"


def test_stopped_together_they_share_one_wait():
    stubborn = [_start(STUBBORN)[0] for _ in range(3)]
    started = time.monotonic()
    results = stop_processes(stubborn, wait=1, names=["a", "b", "c"])
    assert time.monotonic() - started < 5  # one wait of 1 s, not three
    assert [r.name for r in results] == ["a", "b", "c"]
    assert all(r.cut and r.returncode == -9 for r in results)


def test_a_process_that_already_exited_is_not_signalled():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    stopped = stop_process(proc, wait=5, name="done")
    assert not stopped.signalled and not stopped.cut and stopped.returncode == 0
    assert stopped.describe() == f"done (pid {proc.pid}) had already exited (0)"


def test_kill_process_kills_at_once():
    proc, _ = _start(STUBBORN)
    stopped = kill_process(proc)
    assert stopped.returncode == -9 and not stopped.cut
    assert stopped.seconds < 5
