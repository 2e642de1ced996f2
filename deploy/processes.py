"""Stopping a process we started: SIGTERM, a bounded wait, then SIGKILL.

Every place that starts a process and later stops it (``make run``'s
``run_embedded``, ``make bench``, ``make cluster``, the tests' workers and
servers) goes through here, so none of them can hang on a child that outlasts
its shutdown, and none of them fails with ``TimeoutExpired`` instead of
stopping it: a Celery worker in its warm shutdown waits for the task it is
running, however long that takes, and a benchmark once lost every figure it
had measured to ``proc.wait(30)`` running out (issue 41).

The three steps:

1. SIGTERM: to the whole process group when the process leads its own (it was
   started with ``start_new_session=True``), unless ``term_group=False``; to
   the process alone otherwise. A Celery worker wants SIGTERM on its main
   process only: that one runs the warm shutdown, while a pool child that got
   SIGTERM itself would die with its task half done.
2. A bounded wait, shared by all the processes stopped together.
3. SIGKILL to whatever is left: the group when the process leads its own (so
   a worker's pool children and an embedded beat go too), else the process.

The result says whether the wait was cut, and how long the stop took; a cut
wait is logged as a warning too, for the callers that do not look.

It lives in ``deploy`` (the processes of a deployment on one machine) and
imports nothing of the project: ``python -m bench`` and ``python -m
deploy.cluster`` import it before any Django settings exist, which importing
anything under ``marketplace`` (its Celery app reads them) would need.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)

Handle = subprocess.Popen | BaseProcess

# SIGKILL cannot be caught, but a process in uninterruptible sleep (a hung NFS read)
# can take a while to go: this bounds the last wait too; such a process is reported, not waited for.
KILL_WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Stopped:
    """How one process stopped."""

    name: str
    pid: int | None
    wait: float  # the seconds it was given after SIGTERM
    seconds: float  # from the first signal until it was gone, or until we gave up on it
    signalled: bool  # False: it had exited before we asked
    cut: bool  # the wait ran out and SIGKILL was sent
    returncode: int | None  # None: still there after SIGKILL (reported, never raised)

    @property
    def gone(self) -> bool:
        return self.returncode is not None

    def describe(self) -> str:
        who = f"{self.name} (pid {self.pid})"
        if not self.signalled:
            return f"{who} had already exited ({self.returncode})"
        if not self.cut:
            return f"{who} stopped {self.seconds:.1f}s after SIGTERM"
        if not self.gone:
            return f"{who} outlasted the {self.wait:.0f}s wait after SIGTERM and is still there after SIGKILL"
        return f"{who} outlasted the {self.wait:.0f}s wait after SIGTERM: SIGKILL, gone at {self.seconds:.1f}s"


def stop_process(
    proc: Handle, *, wait: float, name: str = "", term_group: bool = True, kill_wait: float = KILL_WAIT_SECONDS
) -> Stopped:
    """SIGTERM, up to ``wait`` seconds, then SIGKILL; see the module's docstring."""
    return stop_processes([proc], wait=wait, names=[name], term_group=term_group, kill_wait=kill_wait)[0]


def stop_processes(
    procs: Sequence[Handle],
    *,
    wait: float,
    names: Sequence[str] | None = None,
    term_group: bool = True,
    kill_wait: float = KILL_WAIT_SECONDS,
) -> list[Stopped]:
    """Stop several processes at once: SIGTERM to all, one shared wait of ``wait`` seconds, SIGKILL to the rest."""
    labels = [(names[i] if names and names[i] else "") or _default_name(p) for i, p in enumerate(procs)]
    # Asked before any signal: once a leader has exited and been reaped, its group can no longer be told.
    groups = [_leads_own_group(p) for p in procs]
    started = time.monotonic()
    signalled = []
    for proc, group in zip(procs, groups, strict=True):
        running = _poll(proc) is None
        signalled.append(running)
        if running:
            _signal(proc, signal.SIGTERM, group=group and term_group)
    ended: dict[int, float] = {}
    deadline = started + wait
    while True:
        for i, proc in enumerate(procs):
            if i not in ended and _poll(proc) is not None:
                ended[i] = time.monotonic() - started
        if len(ended) == len(procs) or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_SECONDS)
    cut = [i not in ended for i in range(len(procs))]
    for i, proc in enumerate(procs):
        if cut[i]:
            _signal(proc, signal.SIGKILL, group=groups[i])
        elif groups[i]:
            # The leader went by itself; a child it left behind in its group (an orphaned pool
            # process) must not keep a port or a database connection.
            _signal(proc, signal.SIGKILL, group=True)
    kill_deadline = time.monotonic() + kill_wait
    while any(i not in ended for i in range(len(procs))) and time.monotonic() < kill_deadline:
        for i, proc in enumerate(procs):
            if i not in ended and _poll(proc) is not None:
                ended[i] = time.monotonic() - started
        time.sleep(_POLL_SECONDS)
    results = []
    for i, proc in enumerate(procs):
        result = Stopped(
            name=labels[i],
            pid=proc.pid,
            wait=wait,
            seconds=ended.get(i, time.monotonic() - started) if signalled[i] else 0.0,
            signalled=signalled[i],
            cut=cut[i],
            returncode=_poll(proc),
        )
        if result.cut or not result.gone:
            log.warning("process stop cut: %s", result.describe())
        results.append(result)
    return results


def kill_process(proc: Handle, *, name: str = "", wait: float = KILL_WAIT_SECONDS) -> Stopped:
    """SIGKILL now (the group when the process leads its own): a crash on purpose, no goodbye."""
    group = _leads_own_group(proc)
    started = time.monotonic()
    running = _poll(proc) is None
    if running:
        _signal(proc, signal.SIGKILL, group=group)
    deadline = started + wait
    while _poll(proc) is None and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
    return Stopped(
        name=name or _default_name(proc),
        pid=proc.pid,
        wait=0.0,
        seconds=time.monotonic() - started if running else 0.0,
        signalled=running,
        cut=False,
        returncode=_poll(proc),
    )


def _default_name(proc: Handle) -> str:
    if isinstance(proc, subprocess.Popen):
        args = proc.args
        return os.path.basename(str(args[0] if isinstance(args, list | tuple) else args).split()[0])
    return proc.name


def _poll(proc: Handle) -> int | None:
    """The exit code once the process has exited (and reaps it), else None."""
    if isinstance(proc, subprocess.Popen):
        return proc.poll()
    return proc.exitcode


def _leads_own_group(proc: Handle) -> bool:
    if proc.pid is None or _poll(proc) is not None:
        return False
    try:
        return os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        return False


def _signal(proc: Handle, signum: signal.Signals, *, group: bool) -> None:
    if proc.pid is None:
        return
    try:
        if group:
            os.killpg(proc.pid, signum)
        elif _poll(proc) is None:
            os.kill(proc.pid, signum)
    except ProcessLookupError:
        pass  # gone between the check and the signal
