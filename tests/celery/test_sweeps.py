"""How every sweep walks its rows: all that is due by now, in pages, one failure
does not stop the rest."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core.management import CommandError, call_command

from milestones.models import MilestoneState
from payments import sweeps as payment_sweeps
from payments.models import Earning, EarningStatus
from payments.sweeps import sweep_clearance
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db


@pytest.fixture
def five_earnings(settings):
    settings.CLEARANCE_PERIODS = {**settings.CLEARANCE_PERIODS, "bank_transfer": timedelta(days=3)}
    seller = UserFactory()
    return [milestone_in(S.APPROVED, order=OrderFactory(seller=seller)).earning for _ in range(5)]


def test_one_run_after_missed_ticks_does_everything_due_page_by_page(settings, five_earnings, audit):
    settings.SWEEP_BATCH_SIZE = 2
    # Days of missed ticks: every earning became due at a different time, long ago.
    result = sweep_clearance(now=max(e.clears_at for e in five_earnings) + timedelta(days=10))
    assert (result.done, result.skipped, result.failed) == (5, 0, 0)
    assert not Earning.objects.filter(status=EarningStatus.PENDING).exists()
    audit()


def test_nothing_before_its_time(five_earnings):
    assert sweep_clearance(now=min(e.clears_at for e in five_earnings) - timedelta(seconds=1)).done == 0


def test_a_row_that_fails_is_reported_and_stays_due_while_the_others_go_on(five_earnings, capsys):
    broken = five_earnings[2].pk
    real_batch = payment_sweeps.earnings_clear_batch

    def failing_batch(*, earning_ids, now):
        if broken in earning_ids:
            raise RuntimeError("gateway on fire")
        return real_batch(earning_ids=earning_ids, now=now)

    later = max(e.clears_at for e in five_earnings)
    with mock.patch.object(payment_sweeps, "earnings_clear_batch", failing_batch):
        # The batch holding the broken row fails, so its rows go one by one.
        result = sweep_clearance(now=later)
    assert (result.done, result.failed) == (4, 1)
    assert "gateway on fire" in result.errors[0]
    assert Earning.objects.get(pk=broken).status == EarningStatus.PENDING

    with (
        time_machine.travel(later, tick=False),
        mock.patch.object(payment_sweeps, "earnings_clear_batch", failing_batch),
        pytest.raises(CommandError, match="1 row"),
    ):
        call_command("run_sweeps", "--only", "clearance")
    assert "clearance: 0 done, 0 skipped, 1 failed" in capsys.readouterr().out
    assert sweep_clearance(now=later).done == 1


def test_a_sweep_past_its_time_budget_stops_and_the_next_run_goes_on(five_earnings):
    later = max(e.clears_at for e in five_earnings)
    stopped = sweep_clearance(now=later, until=time.monotonic())
    assert (stopped.done, stopped.unfinished) == (0, True)
    assert "the next run goes on" in str(stopped)
    rest = sweep_clearance(now=later, until=time.monotonic() + 60)
    assert (rest.done, rest.unfinished) == (5, False)
