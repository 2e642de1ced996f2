"""A short run of the fault simulation (``make simulate`` runs 10,000 steps):
random users, staff and faults against PostgreSQL, every invariant checked
after every step. And proof that it finds a breach when one is planted."""

from __future__ import annotations

import pytest

from simulate.engine import Breach, Simulation

# Committed for real: the seals, the two-tab races and the rollbacks need it.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_short_fault_simulation_keeps_every_invariant():
    stats = Simulation(seed=20261203, full_every=60).run(240)
    assert stats.steps == 240 and stats.full_checks == 4
    # The run did what it is for: money moved every way, and faults came.
    for action in ("create", "flow", "webhook", "worker", "time"):
        assert stats.actions[action] > 0, action
    assert {"webhook duplicated", "transaction rolled back", "two tabs racing"} <= set(stats.faults)


def test_the_same_seed_makes_the_same_choices():
    first = Simulation(seed=5, full_every=1000).run(40)
    second = Simulation(seed=5, full_every=1000).run(40)
    assert first.actions == second.actions


def test_a_milestone_moved_without_its_history_is_named(monkeypatch):
    """A service that changed a state without logging it: the step after is a breach."""
    from milestones.services import changes, creation, disputes, lifecycle, offers, proposals, purposes, steps

    # Every module that logs a milestone's change of state, through its own name for ``steps.log``.
    for module in (steps, creation, lifecycle, offers, proposals, changes, purposes, disputes):
        monkeypatch.setattr(module, "log", lambda *args, **kwargs: None)
    with pytest.raises(Breach, match=r"with no history at all|its history ends in"):
        Simulation(seed=3, full_every=1000).run(60)


def test_a_transaction_posted_without_its_mac_is_named(monkeypatch):
    from payments import ledger

    monkeypatch.setattr(ledger, "transaction_mac", lambda txn, lines: "0" * 64)
    with pytest.raises(Breach, match="does not match its MAC"):
        Simulation(seed=3, full_every=1000).run(60)
