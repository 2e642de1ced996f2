"""The Celery application: workers run thin tasks over services (see tasks.py).

Beat (exactly one per deployment) runs every sweep every
``SWEEP_INTERVAL_SECONDS``: each app registers its sweeps in its own
``sweeps.py`` (``marketplace.sweeps.register_sweep``), and the schedule is
built from them as Django starts (``beat_schedule``). Ticks go to
their own queue ("sweeps", settings ``CELERY_TASK_ROUTES``), so e-mail and
other work never hold them back, and they do not expire: a tick is never
dropped unrun. If the workers were away, the ticks that queued meanwhile are
cheap: the first does everything due (sweeps select by "due by now", not
"due exactly now") and the rest find nothing. A sweep that stops at its time
budget with rows left publishes itself again at once (``sweep_tick``).
"""

import os
from collections.abc import Mapping
from logging.config import dictConfig
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from django.conf import settings
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each task's lines carry its task_id and the request_id of the request that published it.
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def _log_as_django_does(**kwargs) -> None:
    """Workers and beat log through the settings' LOGGING (JSON lines), not Celery's own format."""
    dictConfig(settings.LOGGING)


def beat_schedule(sweep_tasks: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Beat's schedule: each sweep's task (``sweep_tasks``: name to task, from
    ``marketplace.sweeps.all_sweeps``) every ``SWEEP_INTERVAL_SECONDS``, and the two checkpoints
    below. ``MarketplaceConfig.ready`` sets it once the apps' sweeps are discovered, before beat
    reads it."""
    interval = float(settings.SWEEP_INTERVAL_SECONDS)
    schedule = {f"sweep-{name}": {"task": task, "schedule": interval} for name, task in sweep_tasks.items()}
    # Not a sweep of due rows: a checkpoint of the ledger every few minutes (payments.integrity).
    seal = float(settings.LEDGER_SEAL_INTERVAL_SECONDS)
    schedule["seal-ledger"] = {"task": "payments.tasks.seal_ledger", "schedule": seal}
    # Retention: expired sessions, old login records, old read notices (privacy.retention).
    schedule["prune-old-data"] = {"task": "privacy.tasks.prune_old_data", "schedule": 3600.0}
    return schedule
