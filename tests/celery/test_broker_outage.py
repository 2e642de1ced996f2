"""A worker and beat left running through a Redis outage: they wait for the
broker, resume by themselves when it is back, and do the work that fell due
meanwhile, with no restart (issue 15: they used to exit for good about 2 s in)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from deploy.processes import stop_process
from milestones.models import MilestoneState
from payments.models import Withdrawal, WithdrawalStatus
from payments.services import withdrawal_request
from tests.celery.conftest import wait_until
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def _paid(withdrawal: Withdrawal) -> bool:
    return Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.PAID


def test_a_running_worker_and_beat_resume_by_themselves_after_redis_is_killed_and_restarted(
    broker, worker_factory, audit
):
    payee = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT)
    milestone_in(MilestoneState.APPROVED, order=OrderFactory(seller=payee), amount="50.00")
    worker = worker_factory(beat=True)

    before = withdrawal_request(seller=payee, amount=Money(Decimal("10.00"), "USD"), key="before-outage")
    wait_until(lambda: _paid(before), timeout=45, what="a payout before the outage")

    broker.kill()
    time.sleep(8)  # well past the point where a worker used to give up
    assert worker.process.poll() is None, f"the worker exited during the outage:\n{worker.output()[-3000:]}"
    during = withdrawal_request(seller=payee, amount=Money(Decimal("10.00"), "USD"), key="during-outage")
    assert not _paid(during)

    broker.start()
    wait_until(lambda: _paid(during), timeout=60, what="the payout due during the outage, with no restart")
    assert worker.process.poll() is None, "the same worker, never restarted"
    assert worker.output().count(" ready.") == 1
    audit()


def test_beat_starts_with_a_data_dir_that_does_not_exist_yet(broker, tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings

    data_dir = tmp_path / "not" / "there" / "yet"
    database = django_settings.DATABASES["default"]
    # The production settings (the test settings make folders of their own under DATA_DIR).
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "DEBUG": "true",
        "STATIC_ROOT": str(tmp_path / "static"),
        "DATA_DIR": str(data_dir),
        "REDIS_URL": broker.url,
        "CELERY_BROKER_URL": broker.url,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"
        ),
    }
    log = tmp_path / "beat.log"
    with log.open("wb") as out:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "marketplace", "beat", "--loglevel=INFO"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: beat.poll() is not None or any(data_dir.glob("celerybeat-schedule*")),
            timeout=30,
            what="beat to open its schedule",
        )
        time.sleep(2)
        assert beat.poll() is None, log.read_text(errors="replace")[-3000:]
        assert "beat: Starting" in log.read_text(errors="replace")
    finally:
        stop_process(beat, wait=15, name="beat")
