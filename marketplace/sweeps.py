"""The machinery of the beat sweeps, and the registry of every app's sweeps.

The database is the clock (docs/ARCHITECTURE.md, "Rules every write
follows", rule 2): rows carry the time they fall due, and Celery beat runs
every sweep every ``SWEEP_INTERVAL_SECONDS``.
A sweep selects the rows due *by now* (``<= now``, never "exactly now", so a
missed tick is caught up by the next), and hands each one to the same service
the browser uses.

How a sweep walks its rows, and why:

* Candidates are read in pages of ``SWEEP_BATCH_SIZE``, oldest due first, by
  keyset (due time, id), so a row skipped in this run is not read again in it.
* Each row is then *claimed* in its own short transaction with
  ``select_for_update(skip_locked=True)``, taking the locks in the fixed order
  (order, then milestone; or the earning/withdrawal row it owns; see
  docs/ARCHITECTURE.md, "Lock order"). A row someone else holds (a user
  clicking, a second worker, a second beat) is skipped, not waited for: the
  next tick gets it.
* The claim re-checks the due condition under the lock, and the service
  checks it again: a row done meanwhile is a no-op. So a sweep run twice, or
  two at once, changes nothing twice; a sweep killed halfway has committed
  the rows it finished and the next run does the rest.
* One transaction per row keeps locks short (a user's click waits at most for
  one row) and limits what a crash throws away to one row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Min, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from marketplace.errors import DomainError
from marketplace.queue import publish

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    """What one run of one sweep did, for logs and ``run_sweeps``."""

    name: str
    done: int = 0
    # Held by someone else (skipped, the next tick retries) or no longer due.
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Stopped at its time budget with rows left; the next run goes on.
    unfinished: bool = False

    def __str__(self) -> str:
        text = f"{self.name}: {self.done} done, {self.skipped} skipped, {self.failed} failed ({self.seconds:.2f}s)"
        if self.unfinished:
            text += "; stopped at its time budget, the next run goes on"
        for error in self.errors[:5]:
            text += f"\n  - {error}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "unfinished": self.unfinished,
        }


@dataclass(frozen=True)
class DueSet:
    """Rows of one kind that are due, for ``sweeps_status``.

    The due time of a row is ``<time_field> - offset`` (a reminder falls due
    ``offset`` before the event it announces).
    """

    label: str
    queryset: QuerySet
    time_field: str
    offset: timedelta = timedelta(0)

    def count(self) -> int:
        return self.queryset.count()

    def oldest(self) -> datetime | None:
        first = self.queryset.aggregate(first=Min(self.time_field))["first"]
        return None if first is None else first - self.offset

    def count_due_before(self, moment: datetime) -> int:
        return self.queryset.filter(**{f"{self.time_field}__lt": moment + self.offset}).count()


def now_or(now: datetime | None) -> datetime:
    return now or timezone.now()


def task_deadline() -> float:
    """When a sweep run by beat stops taking new rows (``time.monotonic()``).

    One interval: sweeps stay short, a backlog drains over several ticks
    instead of one task holding a worker for an hour (past the broker's
    visibility timeout, which would deliver it a second time).
    """
    return time.monotonic() + settings.SWEEP_INTERVAL_SECONDS


def sweep_tick(task: Any, run: Callable[..., SweepResult]) -> dict[str, Any]:
    """One run of a sweep as beat's task: until ``task_deadline``; if rows were
    left (``unfinished``), the task is published again at once, so a backlog
    drains at the sweep's own pace instead of one interval per slice, and
    other sweeps' ticks get their turn in between on the ``sweeps`` queue."""
    result = run(until=task_deadline())
    if result.unfinished:
        publish(task)
    return result.as_dict()


def candidates(queryset: QuerySet, *, time_field: str, batch_size: int | None = None) -> Iterator[int]:
    """Primary keys of the due rows, oldest due first, page by page (keyset).

    Unlocked on purpose: the caller claims each row with ``skip_locked``.
    """
    size = batch_size or settings.SWEEP_BATCH_SIZE
    after: tuple[datetime, int] | None = None
    while True:
        page = queryset.order_by(time_field, "pk")
        if after is not None:
            moment, pk = after
            page = page.filter(Q(**{f"{time_field}__gt": moment}) | Q(**{time_field: moment, "pk__gt": pk}))
        rows = list(page.values_list(time_field, "pk")[:size])
        yield from (pk for _, pk in rows)
        if len(rows) < size:
            return
        after = rows[-1]


def merge_results(name: str, results: list[SweepResult]) -> SweepResult:
    """One result for a sweep that walked several kinds of rows."""
    merged = SweepResult(name=name)
    for result in results:
        merged.done += result.done
        merged.skipped += result.skipped
        merged.failed += result.failed
        merged.errors += result.errors
        merged.seconds += result.seconds
        merged.unfinished = merged.unfinished or result.unfinished
    return merged


def sweep(name: str, pks: Iterator[int], handle: Callable[[int], bool], *, until: float | None = None) -> SweepResult:
    """Run ``handle(pk)`` for each candidate; it returns True if it did the work.

    ``until`` (a ``time.monotonic()`` value) stops it taking new rows then.

    A ``DomainError`` (the state moved on under us) counts as skipped; any
    other exception is logged, counted and does not stop the others: the
    row stays due and the next tick tries it again.
    """
    result = SweepResult(name=name)
    started = time.monotonic()
    for pk in pks:
        if until is not None and time.monotonic() >= until:
            result.unfinished = True
            break
        try:
            if handle(pk):
                result.done += 1
            else:
                result.skipped += 1
        except DomainError as exc:
            result.skipped += 1
            logger.info("sweep %s: row %s refused: %s", name, pk, exc.message)
        except Exception as exc:
            result.failed += 1
            result.errors.append(f"row {pk}: {exc.__class__.__name__}: {exc}")
            logger.exception("sweep %s: row %s failed; it stays due for the next tick", name, pk)
    result.seconds = time.monotonic() - started
    if result.done or result.failed:
        logger.info("%s", result)
    return result


def sweep_in_batches(
    name: str,
    pks: Iterator[int],
    handle_batch: Callable[[list[int]], list[int]],
    handle_one: Callable[[int], bool],
    *,
    batch_size: int = 200,
    until: float | None = None,
) -> SweepResult:
    """Like ``sweep``, for a service that can take many rows in one
    transaction (``handle_batch`` returns the ids it did).

    Fewer, larger transactions trade a longer lock (a batch, not a row) for
    throughput. If a batch fails, its rows are retried one by one with
    ``handle_one``, so one bad row still cannot hold back the others.
    """
    result = SweepResult(name=name)
    started = time.monotonic()
    batch: list[int] = []

    def run(ids: list[int]) -> None:
        try:
            done = handle_batch(ids)
        except Exception:  # noqa: BLE001 - the rows are retried one by one below
            logger.warning("sweep %s: a batch of %d failed; retrying row by row", name, len(ids), exc_info=True)
            one = sweep(name, iter(ids), handle_one)
            result.done += one.done
            result.skipped += one.skipped
            result.failed += one.failed
            result.errors += one.errors
        else:
            result.done += len(done)
            result.skipped += len(ids) - len(done)

    for pk in pks:
        if until is not None and time.monotonic() >= until:
            result.unfinished = True
            break
        batch.append(pk)
        if len(batch) >= batch_size:
            run(batch)
            batch = []
    if batch:
        run(batch)
    result.seconds = time.monotonic() - started
    if result.done or result.failed:
        logger.info("%s", result)
    return result


# --- the registry: each app's ``sweeps.py`` registers its own; beat, the worker and the operator commands read it ---


@dataclass(frozen=True)
class Sweep:
    name: str
    run: Callable[..., SweepResult]
    due: Callable[[datetime], list[DueSet]]

    @property
    def task(self) -> str:
        """The Celery task beat publishes every interval, named after the function it runs
        (``payments.sweeps.sweep_clearance``); ``CELERY_TASK_ROUTES`` sends ``*.sweeps.sweep_*`` to
        the ``sweeps`` queue."""
        return f"{self.run.__module__}.{self.run.__name__}"


_registry: dict[str, Sweep] = {}

Run = TypeVar("Run", bound=Callable[..., SweepResult])


def register_sweep(name: str, *, due: Callable[[datetime], list[DueSet]]) -> Callable[[Run], Run]:
    """Make the decorated function a sweep: ``run(*, now=None, until=None) -> SweepResult``,
    with ``due(now)``, what is due for ``sweeps_status``. Used in an app's ``sweeps.py``, the one
    place a sweep is written down: ``discover_sweeps`` imports every app's ``sweeps`` module as
    Django starts, and the kernel makes the beat task, the schedule (``marketplace.celery``) and the
    operator commands' list from here, without importing the apps above it.
    """

    def decorate(run: Run) -> Run:
        sweep = Sweep(name, run, due)
        known = _registry.get(name)
        if known is not None and known.task != sweep.task:
            raise ImproperlyConfigured(f"Two sweeps are named {name!r}: {known.task} and {sweep.task}.")
        _registry[name] = sweep
        _beat_task(sweep)
        return run

    return decorate


def _beat_task(sweep: Sweep) -> Any:
    """The Celery task of one sweep: a run until ``task_deadline`` (``sweep_tick``), acknowledged
    late and safe to run twice, as every task here."""

    def tick() -> dict[str, Any]:
        return sweep_tick(task, sweep.run)

    tick.__doc__ = f"Beat's tick of the {sweep.name} sweep."
    task = shared_task(name=sweep.task, acks_late=True)(tick)
    return task


def discover_sweeps() -> None:
    """Import every installed app's ``sweeps`` module, whose ``register_sweep`` calls fill the
    registry (``MarketplaceConfig.ready``)."""
    autodiscover_modules("sweeps")


def all_sweeps() -> list[Sweep]:
    """Every registered sweep, in the order of ``INSTALLED_APPS``, then of each app's module."""
    return list(_registry.values())


def sweep_names() -> list[str]:
    return list(_registry)
