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


def test_every_posting_is_checked_against_the_entitlement_model():
    """Issue 40: the short run checks who received each posting, and dishonest actors tried."""
    simulation = Simulation(seed=11, full_every=1000)
    simulation.WEIGHTS = {**Simulation.WEIGHTS, "dishonest_forge": 6, "dishonest_seller_cancel": 6, "act_time": 8}
    stats = simulation.run(150)
    assert {"fund", "release"} <= set(stats.postings), stats.postings
    assert any(k.startswith("forged signed payment event") for k in stats.dishonest), stats.dishonest
    assert "0 breaches" in stats.summary() and "postings checked against the entitlement model" in stats.summary()


def test_the_model_names_silence_paying_a_seller_for_undelivered_work(monkeypatch):
    """Planted revert of issue 32's silence rule: any cancellation request in work is accepted
    by silence. A seller asks to cancel keeping the money and waits; the release that follows
    is named as unentitled, with the request the model saw lapse."""
    from milestones.services import proposals

    monkeypatch.setattr(
        proposals,
        "silence_accepts",
        lambda milestone, proposal: proposal.kind == "cancellation" and milestone.state in proposals.CANCELLABLE_STATES,
    )
    simulation = Simulation(seed=4, full_every=1000)
    simulation.WEIGHTS = {
        "act_create": 10,
        "act_flow": 10,
        "act_webhook": 5,
        "act_worker": 3,
        "dishonest_seller_cancel": 6,
        "act_time": 4,
    }
    with pytest.raises(
        Breach,
        match=r"unentitled posting: .* by the system \(no one\); missing act: .*"
        r"the seller's cancellation request \d+ refunding [\d.]+ of [\d.]+, lapsed",
    ) as caught:
        simulation.run(300)
    print(caught.value)


def test_the_model_names_a_provider_credit_no_charge_confirmed(monkeypatch):
    """Planted revert of issue 32's confirmed-charge rule: the webhook trusts the event's own
    reference and amount (no asking the provider), and a refund the provider refuses becomes
    balance. A forged, validly signed event is named at the first posting it causes."""
    from payments import outbox, webhooks

    monkeypatch.setattr(
        webhooks,
        "_confirm",
        lambda provider, event: webhooks._session(event.object) if event.type in webhooks._SESSION_EVENTS else None,
    )
    monkeypatch.setattr(outbox, "REFUSALS_FOR_STAFF", frozenset())
    simulation = Simulation(seed=4, full_every=1000)
    simulation.WEIGHTS = {"act_create": 6, "act_webhook": 3, "act_worker": 3, "dishonest_forge": 6}
    with pytest.raises(
        Breach,
        match=r"unentitled posting: .* credited from the provider for milestone \d+ .*"
        r"with no charge the provider confirmed of that amount .*missing act: a confirmed charge",
    ) as caught:
        simulation.run(200)
    print(caught.value)
