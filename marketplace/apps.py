import gc

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from marketplace.celery import app as celery_app
from marketplace.celery import beat_schedule
from marketplace.checks import hand_written_models_have_no_save_hooks
from marketplace.sweeps import all_sweeps, discover_sweeps


class MarketplaceConfig(AppConfig):
    """The project package and shared kernel: operator commands, template
    filters, the processes' heartbeats, the sweep engine, and the migration
    history of the first layout (users, gigs and notices were created here
    and moved out with their tables)."""

    name = "marketplace"
    verbose_name = "Marketplace"

    def ready(self) -> None:
        # Every app's sweeps.py registers its sweeps as it is imported; beat schedules what they registered.
        discover_sweeps()
        celery_app.conf.beat_schedule = beat_schedule({sweep.name: sweep.task for sweep in all_sweeps()})
        checks.register(hand_written_models_have_no_save_hooks, checks.Tags.models)
        tune_gc(settings.GC_GEN0_THRESHOLD)


def tune_gc(gen0_threshold: int) -> None:
    """Make the cyclic garbage collector run less often in every process of the app (web workers,
    Celery workers, commands), once Django is loaded.

    With Python's default (a young collection per 700 new objects) the collector took about a
    quarter of a clearance batch's CPU and a tenth of an approval's: the ORM makes thousands of
    short-lived objects per request, nearly all freed by reference counting anyway. What is loaded
    by now (modules, classes, settings) lives as long as the process: ``gc.freeze()`` takes it out
    of every later collection, and a forked Celery child shares those pages instead of copying
    them. ``0`` leaves Python's defaults.
    """
    if gen0_threshold <= 0:
        return
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
