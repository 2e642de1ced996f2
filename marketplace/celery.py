"""The Celery application: workers run thin tasks over services (see tasks.py).

Beat (exactly one per deployment) runs every sweep every
``SWEEP_INTERVAL_SECONDS``. The schedule is static, here in code. Ticks go to
their own queue ("sweeps", settings ``CELERY_TASK_ROUTES``), so e-mail and
other work never hold them back, and they do not expire: a tick is never
dropped unrun. If the workers were away, the ticks that queued meanwhile are
cheap: the first does everything due (sweeps select by "due by now", not
"due exactly now") and the rest find nothing. A sweep that stops at its time
budget with rows left publishes itself again at once (``sweep_tick``).
"""

import os

from celery import Celery
from celery.signals import setup_logging
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
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


SWEEP_TASKS = {
    "clearance": "payments.tasks.sweep_clearance",
    "auto_approve": "milestones.tasks.sweep_auto_approve",
    "reminders": "milestones.tasks.sweep_reminders",
    "late": "milestones.tasks.sweep_late",
    "outbox": "payments.tasks.sweep_outbox",
    "checkouts": "milestones.tasks.sweep_checkouts",
    "proposals": "milestones.tasks.sweep_proposals",
    "offers": "milestones.tasks.sweep_offers",
    "orders": "milestones.tasks.sweep_orders",
    "reviews": "reviews.tasks.sweep_reviews",
    "emails": "notifications.tasks.sweep_emails",
    "sandbox_webhooks": "sandbox.tasks.sweep_webhooks",
}


def _beat_schedule() -> dict:
    from django.conf import settings

    interval = float(settings.SWEEP_INTERVAL_SECONDS)
    schedule = {f"sweep-{name}": {"task": task, "schedule": interval} for name, task in SWEEP_TASKS.items()}
    # Not a sweep of due rows: a checkpoint of the ledger every few minutes (payments.integrity).
    seal = float(settings.LEDGER_SEAL_INTERVAL_SECONDS)
    schedule["seal-ledger"] = {"task": "payments.tasks.seal_ledger", "schedule": seal}
    # Retention: expired sessions, old login records, old read notices (privacy.retention).
    schedule["prune-old-data"] = {"task": "privacy.tasks.prune_old_data", "schedule": 3600.0}
    return schedule


app.conf.beat_schedule = _beat_schedule()
