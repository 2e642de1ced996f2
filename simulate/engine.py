"""A seeded fault simulation of the whole money path (issue 15, item 9).

Buyers, sellers and staff act at random through the same services the pages
call: milestones paid from the balance or by card on the sandbox's hosted
page, offers, changes, extensions, cancellations, deliveries, approvals,
disputes and their resolutions, tips, withdrawals, completed orders; time
passes and the sweeps run. Faults are injected as the world would inject them:

* webhooks duplicated, delayed and delivered out of order (they wait in a
  list and are picked at random, some more than once);
* the broker: every task the code publishes lands in a simulated queue that
  a simulated worker takes from in any order, runs twice, or loses when the
  broker is down (then only the sweeps do the work);
* a worker killed mid-task: a payout or refund claimed and never finished
  (its lease runs out and the outbox sweep sends it again, same key);
* a transaction rolled back at a random point (an action inside a block that
  then fails): nothing of it may remain;
* two tabs racing: two conflicting actions on the same milestone, or two
  withdrawals, at once in two threads against PostgreSQL.

After every step it checks what is cheap to check at once: the ledger sums
to zero, the transactions written in the step match their MACs and shapes,
the accounts they touched show the balance their entries give, and every
milestone the step touched is in the state its history ends in. Every
``full_every`` steps and at the end, after sealing the ledger: the whole
``ledger_audit`` (MACs, shapes, records, seals and every invariant) and
``payments_reconcile`` (every provider record against the ledger).

Who may receive money (issue 40): every transaction the step wrote is also
traced to the act that entitles it by ``simulate.entitlement.Model``, which the
simulation tells of its own acts (an approval, a delivery, a cancellation asked
or agreed, a staff decision, a charge made on the provider's page, a tip or a
withdrawal asked for), never read back from the app's tables. Dishonest actors
try what issue 32 found: a seller asks to cancel keeping the money and waits, a
buyer asks for everything back once a delivery awaits review and waits, forged
but validly signed provider events with invented references and amounts, a
milestone and a tip aimed at a closed account, a buyer's withdrawal raced
against a tip or a funding from the same balance. The summary counts the
postings checked by kind and the dishonest attempts by how each ended.

The same seed gives the same sequence of choices (``random.Random(seed)``);
races between threads are the one thing a seed cannot fix.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from unittest import mock

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from djmoney.money import Money

from marketplace.sums import ExactSum
from simulate.entitlement import Delivery, Model, Request, Unentitled

logger = logging.getLogger("simulate")

SITE = "http://simulation.invalid"
CURRENCY = "USD"
LEAVER_PASSWORD = "leaving-now-1"  # noqa: S105 - a simulated user's, on the simulation's own database


class Breach(AssertionError):
    """An invariant broken: the simulation stops and names the step."""


class _Rollback(Exception):
    pass


@dataclass
class Stats:
    seed: int
    steps: int = 0
    actions: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    full_checks: int = 0
    seconds: float = 0.0
    postings: Counter = field(default_factory=Counter)
    dishonest: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        lines = [
            f"seed {self.seed}: {self.steps} steps in {self.seconds:.1f}s, {self.full_checks} full audits, 0 breaches",
            "actions: " + ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items())),
            "refused (a rule said no, nothing changed): "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.refused.items())),
            "faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())),
            f"postings checked against the entitlement model ({sum(self.postings.values())}): "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.postings.items())),
            f"dishonest attempts ({sum(self.dishonest.values())}), by kind and how each ended:",
            *(f"  {k}: {v}" for k, v in sorted(self.dishonest.items())),
        ]
        return "\n".join(lines)


class Simulation:
    def __init__(self, seed: int, *, full_every: int = 100, buyers: int = 6, sellers: int = 4) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.full_every = full_every
        self.n_buyers, self.n_sellers = buyers, sellers
        self.stats = Stats(seed=seed)
        self.offset = timedelta(0)
        self.broker_down = False
        self.queue: list[tuple[str, tuple]] = []
        self.events: list[int] = []
        self.lock = threading.Lock()
        self.started = timezone.now()
        self.last_txn = 0
        self.last_activity = 0
        self.touched: set[int] = set()
        # Issue 40: who may receive money, from the simulation's own acts (``simulate.entitlement``).
        self.model = Model()
        self.stats.postings = self.model.checked
        self.held_back: dict[int, tuple[str, int]] = {}  # milestone -> (dishonest kind, proposal) left alone
        self.leaver: Any = None  # the seller who closes the account (``act_close``)
        self.leaver_orders: list = []

    # --- the world --------------------------------------------------------------------------

    def now(self) -> datetime:
        return timezone.now() + self.offset

    def setup(self) -> None:
        from accounts.models import User, WithdrawalMethod
        from accounts.payouts import payout_details_parse, payout_tokenize
        from accounts.services import email_mark_verified, user_update_profile
        from gigs.services import gig_create
        from orders.services import order_create

        tag = f"s{self.seed}x{uuid.uuid4().hex[:4]}"
        methods = [WithdrawalMethod.INSTANT, WithdrawalMethod.PAYPAL, WithdrawalMethod.BANK_TRANSFER]

        def user(name: str, **extra: Any) -> User:
            u = User.objects.create_user(username=f"{tag}{name}", email=f"{tag}{name}@example.com", **extra)
            email_mark_verified(u)
            return u

        # Payout accounts as the profile keeps them: checked, tokenized by the sandbox, masked. Written
        # here without the profile's notice and security-log entry, which would only add noise.
        accounts = {
            WithdrawalMethod.INSTANT: "4000 0566 5566 5556",
            WithdrawalMethod.PAYPAL: "seller@paypal.example",
            WithdrawalMethod.BANK_TRANSFER: "GB33BUKB20201555555555",
        }
        self.sellers = []
        for i in range(self.n_sellers):
            # The sandbox refuses payouts to the last one's account: failed payouts come back to the balance.
            method = WithdrawalMethod.BANK_TRANSFER if i == self.n_sellers - 1 else methods[i % 3]
            number = "000111111116" if i == self.n_sellers - 1 else accounts[method]
            details = payout_details_parse(method=method, raw=number)
            self.sellers.append(
                user(
                    f"seller{i}",
                    withdrawal_method=method,
                    withdrawal_method_chosen_at=timezone.now(),
                    payout_account=details.shown,
                    payout_token=payout_tokenize(details),
                )
            )
        self.buyers = [user(f"buyer{i}") for i in range(self.n_buyers)]
        for buyer in self.buyers:
            # Every balance can leave (issue 32): buyers withdraw their refunds too.
            user_update_profile(
                user=buyer,
                bio="",
                withdrawal_method=WithdrawalMethod.PAYPAL,
                payout_account=accounts[WithdrawalMethod.PAYPAL],
            )
        self.staff = user("staff", is_staff=True)
        self.orders = []
        self.gigs = {}
        for seller in self.sellers:
            gig = self.gigs[seller.pk] = gig_create(
                seller=seller,
                title="Design and build, one phase at a time",
                description="Each phase a milestone.",
                starting_price=Money("50.00", CURRENCY),
                delivery_days=7,
            )
            for buyer in self.rng.sample(self.buyers, 3):
                self.orders.append(order_create(buyer=buyer, gig=gig, title="A project", brief="In phases."))
        # A seller who will close the account: works at first, then stops taking work and leaves.
        self.leaver = user("leaver", password=LEAVER_PASSWORD)
        user_update_profile(
            user=self.leaver,
            bio="",
            withdrawal_method=WithdrawalMethod.INSTANT,
            payout_account=accounts[WithdrawalMethod.INSTANT],
        )
        gig = self.gigs[self.leaver.pk] = gig_create(
            seller=self.leaver,
            title="Short jobs",
            description="One at a time.",
            starting_price=Money("50.00", CURRENCY),
            delivery_days=7,
        )
        self.leaver_orders = [
            order_create(buyer=buyer, gig=gig, title="A job", brief="Quick.") for buyer in self.buyers[:2]
        ]
        self.orders += self.leaver_orders

    # --- the broker and the provider's webhooks -------------------------------------------------

    def _publish(self, task: Any, *args: Any) -> bool:
        name = task if isinstance(task, str) else task.name
        with self.lock:
            if name == "sandbox.tasks.deliver_event":
                # The provider's own delivery, with its own retries: our broker being down does not lose it.
                self.events.append(args[0])
                return True
            if self.broker_down:
                self.stats.faults["task lost, broker down"] += 1
                return False
            self.queue.append((name, args))
        return True

    def _deliver(self, event_pk: int) -> str:
        from payments.providers import sign_payload
        from payments.webhooks import webhook_receive
        from sandbox.models import SandboxEvent
        from sandbox.services import event_payload_bytes

        payload = event_payload_bytes(SandboxEvent.objects.get(pk=event_pk))
        status, outcome = webhook_receive(
            provider="sandbox", payload=payload, signature=sign_payload(payload, settings.SANDBOX_WEBHOOK_SECRET)
        )
        if status != 200:
            raise Breach(f"webhook {event_pk} answered {status}: {outcome}")
        return outcome

    def act_webhook(self) -> None:
        if not self.events:
            return
        # Out of order: any waiting event, not the oldest.
        event = self.events.pop(self.rng.randrange(len(self.events)))
        if self.rng.random() < 0.3:
            self.events.append(event)  # delivered again later
            self.stats.faults["webhook duplicated"] += 1
        if len(self.events) > 1:
            self.stats.faults["webhook reordered"] += 1
        self._deliver(event)

    def act_worker(self) -> None:
        """The worker takes any queued task; sometimes it runs it twice, or dies in it."""
        from marketplace.celery import app as current_app

        if not self.queue:
            return
        name, args = self.queue.pop(self.rng.randrange(len(self.queue)))
        if name == "payments.tasks.execute_command" and self.rng.random() < 0.2:
            from payments.outbox import _claim

            _claim(args[0], timezone.now())  # claimed, then the worker is killed: the lease must run out
            self.stats.faults["worker killed mid-task"] += 1
            return
        task = current_app.tasks[name]
        runs = 2 if self.rng.random() < 0.1 else 1
        if runs == 2:
            self.stats.faults["task run twice"] += 1
        for _ in range(runs):
            task(*args)

    def act_broker(self) -> None:
        self.broker_down = not self.broker_down
        self.stats.faults["broker down" if self.broker_down else "broker back"] += 1

    # --- picking things --------------------------------------------------------------------------

    def _milestone(self, *states: str):
        from milestones.models import Milestone

        # This run's own: the same seed must make the same choices whatever else the database holds.
        mine = [buyer.pk for buyer in self.buyers]
        ids = [
            pk
            for pk in Milestone.objects.filter(state__in=states, order__buyer_id__in=mine).values_list("pk", flat=True)
            if pk not in self.held_back and pk in self.model.stakes
        ]
        if not ids:
            return None
        return Milestone.objects.select_related("order__buyer", "order__seller").get(pk=self.rng.choice(ids))

    def _open_order(self):
        """An order to add a milestone to; a completed one is followed by a new
        order of the same buyer from the same seller, as a returning buyer does."""
        from orders.models import OrderStatus
        from orders.services import order_create

        index = self.rng.randrange(len(self.orders))
        order = self.orders[index]
        order.refresh_from_db()
        if order.status == OrderStatus.COMPLETED:
            gig = self.gigs[order.seller_id]
            order = self.orders[index] = order_create(buyer=order.buyer, gig=gig, title="Again", brief="More.")
        return order

    def _money(self, low: int, high: int) -> Money:
        return Money(Decimal(self.rng.randint(low * 100, high * 100)) / 100, CURRENCY)

    def _deadline(self) -> datetime:
        return timezone.now() + timedelta(days=self.rng.randint(3, 30))

    def _pay_by_card(self, milestone) -> None:
        """The buyer goes to the sandbox's page and pays; the webhook is queued.
        Half the time they also come back to our return page."""
        from demo.checkout import pay_in_sandbox
        from sandbox.models import SandboxSession

        checkout = pay_in_sandbox(milestone, site=SITE, sync=self.rng.random() < 0.5)
        # The provider's record of the charge it made: what may be credited from it, once.
        session = SandboxSession.objects.get(session_id=checkout.session_id)
        if session.payment_status == "paid":
            self._stake(milestone).charges.append((session.payment_reference, session.amount.amount))

    def _stake(self, milestone):
        order = milestone.order
        return self.model.milestone(milestone.pk, buyer=order.buyer_id, seller=order.seller_id)

    # --- the users' actions ----------------------------------------------------------------------

    def act_create(self) -> None:
        from milestones.services.creation import milestone_create
        from payments.services import FundingSource

        order = self._open_order()
        by_card = self.rng.random() < 0.7
        milestone = milestone_create(
            order=order,
            actor=order.buyer,
            title="Phase",
            description="The next phase.",
            deadline=self._deadline(),
            amount=self._money(5, 400),
            source=FundingSource(method="checkout" if by_card else "balance"),
            idempotency_key=uuid.uuid4().hex,
        )
        self.touched.add(milestone.pk)
        stake = self._stake(milestone)
        if not by_card:
            stake.fundings += 1  # the buyer asked to pay from their balance
        if by_card and self.rng.random() < 0.85:
            self._pay_by_card(milestone)

    def act_offer(self) -> None:
        from milestones.services.offers import offer_create

        order = self._open_order()
        milestone = offer_create(
            order=order,
            actor=order.seller,
            title="Add-on",
            description="Something more.",
            deadline=self._deadline(),
            amount=self._money(5, 300),
            idempotency_key=uuid.uuid4().hex,
        )
        self.touched.add(milestone.pk)
        self._stake(milestone)

    def act_answer_offer(self) -> None:
        from milestones.services.offers import offer_accept, offer_decline, offer_withdraw
        from payments.services import FundingSource

        m = self._milestone("offered")
        if m is None:
            return
        self.touched.add(m.pk)
        roll = self.rng.random()
        if roll < 0.5:
            by_card = self.rng.random() < 0.6
            source = FundingSource(method="checkout" if by_card else "balance")
            m = offer_accept(milestone=m, actor=m.order.buyer, source=source)
            if not by_card:
                self._stake(m).fundings += 1
            if by_card:
                self._pay_by_card(m)
        elif roll < 0.8:
            offer_decline(milestone=m, actor=m.order.buyer, reason="Not now")
        else:
            offer_withdraw(milestone=m, actor=m.order.seller)

    def act_flow(self) -> None:
        """One step of a milestone's life, by the party whose turn it is."""
        from milestones.services.disputes import dispute_resolve, milestone_open_dispute
        from milestones.services.lifecycle import (
            milestone_accept,
            milestone_approve,
            milestone_cancel,
            milestone_decline,
            milestone_request_revision,
            milestone_submit,
        )

        m = self._milestone(
            "awaiting_acceptance", "accepted", "in_progress", "in_review", "revision_requested", "disputed"
        )
        if m is None:
            return
        self.touched.add(m.pk)
        buyer, seller, r = m.order.buyer, m.order.seller, self.rng.random()
        model = self.model
        stake = self._stake(m)
        if m.state == "awaiting_acceptance":
            if r < 0.7:
                milestone_accept(milestone=m, actor=seller)
            elif r < 0.85:
                milestone_decline(milestone=m, actor=seller, reason="Too busy")
                model.grant(m.pk, seller.pk, "the seller declined", Decimal(0))
            else:
                milestone_cancel(milestone=m, actor=buyer, refund_to=self.rng.choice(["balance", "card"]))
                model.grant(m.pk, buyer.pk, "the buyer cancelled before work", Decimal(0))
        elif m.state == "accepted":
            milestone_cancel(milestone=m, actor=buyer)
            model.grant(m.pk, buyer.pk, "the buyer cancelled before work", Decimal(0))
        elif m.state in ("in_progress", "revision_requested"):
            if r < 0.8:
                at = timezone.now()
                milestone_submit(milestone=m, actor=seller, message="Done.", links=["https://example.com/w"])
                stake.delivery = Delivery(at=at)
            else:
                milestone_open_dispute(milestone=m, actor=self.rng.choice([buyer, seller]), reason="Stuck")
                model.answered(m.pk)
        elif m.state == "in_review":
            if r < 0.6:
                milestone_approve(milestone=m, actor=buyer)
                model.grant(m.pk, buyer.pk, "the buyer approved", None)
            elif r < 0.85:
                milestone_request_revision(milestone=m, actor=buyer, feedback="Bigger logo")
                model.answered(m.pk)
            else:
                milestone_open_dispute(milestone=m, actor=buyer, reason="Not as agreed")
                model.answered(m.pk)
        elif m.state == "disputed":
            outcome = self.rng.choice(["release", "refund", "split"])
            amount = self._money(0, int(m.amount.amount)) if outcome == "split" else None
            dispute_resolve(dispute=m.dispute, actor=self.staff, outcome=outcome, seller_amount=amount)
            gross = {"release": None, "refund": Decimal(0)}.get(outcome, amount.amount if amount else None)
            model.grant(m.pk, self.staff.pk, f"staff decided the dispute: {outcome}", gross)

    def act_ask(self) -> None:
        """A change of terms: other terms before acceptance, more time, a cancellation by agreement."""
        from milestones.services.changes import changes_request
        from milestones.services.proposals import extension_request

        m = self._milestone("awaiting_acceptance", "in_progress", "in_review", "revision_requested")
        if m is None:
            return
        self.touched.add(m.pk)
        buyer, seller = m.order.buyer, m.order.seller
        if m.state == "awaiting_acceptance":
            changes_request(
                milestone=m,
                actor=seller,
                new_deadline=self._deadline(),
                new_amount=self._money(5, 500),
                new_description="",
            )
        elif m.state in ("in_progress", "revision_requested") and self.rng.random() < 0.5:
            extension_request(milestone=m, actor=seller, new_deadline=None, reason="More time")
        else:
            refund = self._money(0, int(m.amount.amount))
            who = self.rng.choice([buyer, seller])
            self._ask_cancel(m, who, refund)

    def _ask_cancel(self, m, who, refund: Money) -> int:
        from milestones.services.proposals import cancellation_request

        at = timezone.now()
        proposal = cancellation_request(milestone=m, actor=who, refund=refund, reason="Plans changed")
        self._stake(m).requests.append(
            Request(
                pk=proposal.pk,
                proposer="buyer" if who.pk == m.order.buyer_id else "seller",
                refund=refund.amount,
                amount=m.amount.amount,
                respond_by=at + settings.CANCELLATION_RESPONSE_PERIOD,
            )
        )
        return proposal.pk

    def act_answer(self) -> None:
        from milestones.models import Proposal
        from milestones.services.changes import changes_accept
        from milestones.services.proposals import proposal_accept, proposal_decline, proposal_withdraw

        held = {p for _, p in self.held_back.values()}
        ids = [pk for pk in Proposal.objects.filter(state="pending").values_list("pk", flat=True) if pk not in held]
        if not ids:
            return
        p = Proposal.objects.select_related("milestone__order__buyer", "milestone__order__seller").get(
            pk=self.rng.choice(ids)
        )
        order = p.milestone.order
        self.touched.add(p.milestone_id)
        other = order.seller if p.proposer_id == order.buyer_id else order.buyer
        r = self.rng.random()
        stake = self._stake(p.milestone)
        request = next((q for q in stake.requests if q.pk == p.pk), None)
        if r < 0.55:
            if p.kind == "changes":
                more = p.new_amount is not None and p.new_amount > p.milestone.amount
                changes_accept(proposal=p, actor=other, method="balance")
                if more:
                    stake.fundings += 1  # the difference, from the balance the buyer chose
                else:
                    self.model.grant(p.milestone_id, other.pk, "a lower amount agreed", None)
            else:
                proposal_accept(proposal=p, actor=other)
                if request is not None:
                    request.state = "agreed"
                    gross = request.amount - request.refund
                    self.model.grant(p.milestone_id, other.pk, f"the {request.proposer}'s cancellation agreed", gross)
        elif r < 0.85:
            proposal_decline(proposal=p, actor=other)
            if request is not None:
                request.state = "declined"
        else:
            proposal_withdraw(proposal=p, actor=order.buyer if other == order.seller else order.seller)
            if request is not None:
                request.state = "withdrawn"

    def act_tip(self) -> None:
        from milestones.services.tips import tip_leave

        m = self._milestone("approved")
        if m is None:
            return
        self.touched.add(m.pk)
        amount = self._money(1, 20)
        tip_leave(milestone=m, actor=m.order.buyer, amount=amount, method="balance")
        self._stake(m).tip = amount.amount

    def act_withdraw(self) -> None:
        from payments.models import Account

        seller = self.rng.choice(self.sellers + self.buyers)
        held = sum(
            Account.objects.filter(kind__in=["seller_available", "buyer_balance"], user=seller).values_list(
                "balance", flat=True
            ),
            Decimal(0),
        )
        if held <= 0:
            return
        share = Decimal(self.rng.randint(10, 120)) / 100
        amount = Money((held * share).quantize(Decimal("0.01")) or Decimal("0.01"), CURRENCY)
        self._withdraw(seller, amount)

    def _withdraw(self, user, amount: Money) -> None:
        from payments.services import withdrawal_request

        withdrawal_request(seller=user, amount=amount, key=uuid.uuid4().hex)
        self.model.withdrawals[user.pk].append(amount.amount)

    def act_complete(self) -> None:
        from milestones.services.completion import order_complete

        order = self.rng.choice(self.orders)
        order.refresh_from_db()
        order_complete(order=order, actor=order.buyer)

    def act_time(self) -> None:
        """Time passes (hours to days) and every sweep runs, as beat would."""
        from marketplace.sweeps import all_sweeps

        self.offset += timedelta(hours=self.rng.choice([1, 6, 24, 72, 24 * 8]))
        self.model.sweeps_at(self.now(), settings.AUTO_APPROVE_PERIOD)
        for sweep in all_sweeps():
            sweep.run(now=self.now())
        self._dishonest_outcomes()

    # --- the dishonest ---------------------------------------------------------------------------

    def dishonest_seller_cancel(self) -> None:
        """A seller asks to cancel an undelivered milestone keeping some or all of the money,
        then waits for the buyer's silence (the buyer is left to stay silent)."""
        m = self._milestone("in_progress", "revision_requested")
        if m is None:
            return
        self.touched.add(m.pk)
        keep = self.rng.choice([Decimal(0), (m.amount.amount / 2).quantize(Decimal("0.01"))])
        pk = self._ask_cancel(m, m.order.seller, Money(keep, CURRENCY))
        self.held_back[m.pk] = ("a seller asks to cancel keeping money, and waits", pk)

    def dishonest_buyer_refund(self) -> None:
        """A buyer asks for everything back once a delivery awaits their review, and waits."""
        m = self._milestone("in_review")
        if m is None:
            return
        self.touched.add(m.pk)
        pk = self._ask_cancel(m, m.order.buyer, m.amount)
        self.held_back[m.pk] = ("a buyer asks for a refund after a delivery, and waits", pk)

    def _dishonest_outcomes(self) -> None:
        """After the sweeps: how each dishonest request left unanswered ended, by the app."""
        from milestones.models import Milestone, Proposal

        for milestone_id, (kind, proposal_id) in list(self.held_back.items()):
            state = Proposal.objects.values_list("state", flat=True).get(pk=proposal_id)
            if state == "pending":
                continue
            milestone = Milestone.objects.values_list("state", flat=True).get(pk=milestone_id)
            self.stats.dishonest[f"{kind}: request {state}, milestone {milestone}"] += 1
            del self.held_back[milestone_id]

    def dishonest_forge(self) -> None:
        """A provider event signed with the sandbox's secret (the simulation holds it) for one of
        our checkouts or an invented one, with an invented payment and amount."""
        from payments.models import Checkout
        from payments.providers import sign_payload
        from payments.webhooks import webhook_receive

        ids = list(Checkout.objects.exclude(session_id="").values_list("session_id", flat=True)[:500])
        session_id = self.rng.choice(ids) if ids and self.rng.random() < 0.85 else f"cs_forged_{uuid.uuid4().hex[:12]}"
        amount = self.rng.randint(100, 99900)
        payload = {
            "id": f"evt_forged_{uuid.uuid4().hex[:20]}",
            "object": "event",
            "type": "checkout.session.completed",
            "livemode": False,
            "data": {
                "object": {
                    "id": session_id,
                    "object": "checkout.session",
                    "status": "complete",
                    "payment_status": "paid",
                    "payment_intent": f"pi_forged_{uuid.uuid4().hex[:16]}",
                    "amount_total": amount,
                    "currency": CURRENCY.lower(),
                }
            },
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        status, outcome = webhook_receive(
            provider="sandbox", payload=body, signature=sign_payload(body, settings.SANDBOX_WEBHOOK_SECRET)
        )
        self.stats.dishonest[f"forged signed payment event: answered {status}, {outcome[:60]}"] += 1

    def act_close(self) -> None:
        """The leaving seller stops taking work, withdraws what is left, and closes the account
        once nothing blocks it; then buyers aim a milestone and a tip at the closed account."""
        from marketplace.errors import DomainError
        from payments.models import Account
        from privacy.services import account_delete

        leaver = self.leaver
        leaver.refresh_from_db()
        if leaver.is_active:
            from milestones.models import Milestone

            if not Milestone.objects.filter(order__seller=leaver, state="approved").exists():
                return  # leaves only after some work was approved: there is something to tip
            self.orders = [o for o in self.orders if o not in self.leaver_orders]  # no new work
            held = Account.objects.filter(kind="seller_available", user=leaver).values_list("balance", flat=True)
            if held and held[0] > 0:
                self._withdraw(leaver, Money(held[0], CURRENCY))
            account_delete(user=leaver, password=LEAVER_PASSWORD)
            self.model.closed.add(leaver.pk)
            self.stats.dishonest["a seller closed the account"] += 1
            return
        order = self.rng.choice(self.leaver_orders)
        for kind, attempt in (
            ("a milestone aimed at a closed account", lambda: self._create_on(order)),
            ("a tip aimed at a closed account", lambda: self._tip_on(order)),
        ):
            try:
                done = attempt()
            except DomainError as error:
                self.stats.dishonest[f"{kind}: refused ({type(error).__name__})"] += 1
            else:
                if done:
                    self.stats.dishonest[f"{kind}: went through"] += 1

    def _create_on(self, order) -> bool:
        from milestones.services.creation import milestone_create
        from payments.services import FundingSource

        order.refresh_from_db()
        milestone = milestone_create(
            order=order,
            actor=order.buyer,
            title="After they left",
            description="Phase.",
            deadline=self._deadline(),
            amount=self._money(5, 50),
            source=FundingSource(method="checkout"),
            idempotency_key=uuid.uuid4().hex,
        )
        self._stake(milestone)
        return True

    def _tip_on(self, order) -> bool:
        from milestones.models import Milestone
        from milestones.services.tips import tip_leave

        # Any approved milestone of the closed seller's, on any order: its buyer tips.
        m = (
            Milestone.objects.filter(order__seller_id=order.seller_id, state="approved")
            .select_related("order__buyer", "order__seller")
            .order_by("?")
            .first()
        )
        if m is None:
            self.stats.dishonest["a tip aimed at a closed account: nothing approved to tip"] += 1
            return False
        amount = self._money(1, 10)
        tip_leave(milestone=m, actor=m.order.buyer, amount=amount, method="balance")
        self._stake(m).tip = amount.amount
        return True

    # --- faults that wrap an action --------------------------------------------------------------

    DB_ONLY = ("act_flow", "act_ask", "act_answer", "act_tip", "act_withdraw", "act_offer")

    def fault_rollback(self) -> None:
        """An action inside a block that then fails: nothing of it may remain."""
        from payments.providers import ProviderInTransaction

        before = self.footprint()
        action = getattr(self, self.rng.choice(self.DB_ONLY))
        queued, events, orders = len(self.queue), len(self.events), list(self.orders)
        model, held_back = copy.deepcopy(self.model), dict(self.held_back)
        try:
            with transaction.atomic():
                action()
                raise _Rollback
        except (_Rollback, ProviderInTransaction):
            pass
        except Exception as exc:
            from marketplace.errors import DomainError

            if not isinstance(exc, DomainError):
                raise
        self.orders = orders  # a new order opened inside the block is gone with it
        self.model, self.held_back = model, held_back  # and so are the acts the model was told of
        self.stats.postings = self.model.checked
        self.stats.faults["transaction rolled back"] += 1
        after = self.footprint()
        if after != before:
            raise Breach(f"a rolled-back action left something behind: {before} -> {after}")
        if len(self.queue) != queued or len(self.events) != events:
            raise Breach("a rolled-back action published a task")

    def fault_race(self) -> None:
        """Two tabs: conflicting actions at once, in two threads."""
        from milestones.services.disputes import milestone_open_dispute
        from milestones.services.lifecycle import (
            milestone_accept,
            milestone_approve,
            milestone_cancel,
            milestone_submit,
        )
        from payments.models import Account

        m = self._milestone("in_review", "awaiting_acceptance", "in_progress")
        seller = self.rng.choice(self.sellers)
        available = Account.objects.filter(kind="seller_available", user=seller).first()
        pairs: list[tuple[Callable[[], Any], Callable[[], Any]]] = []
        model = self.model
        if m is not None:
            self.touched.add(m.pk)
            buyer, ms = m.order.buyer, m.order.seller
            stake = self._stake(m)
            at = timezone.now()

            # Each side tells the model what it did once it went through.
            def approve() -> None:
                milestone_approve(milestone=m, actor=buyer)
                model.grant(m.pk, buyer.pk, "the buyer approved", None)

            def dispute_by(actor) -> Callable[[], None]:
                def dispute() -> None:
                    milestone_open_dispute(milestone=m, actor=actor, reason="Race")
                    model.answered(m.pk)

                return dispute

            def cancel() -> None:
                milestone_cancel(milestone=m, actor=buyer)
                model.grant(m.pk, buyer.pk, "the buyer cancelled before work", Decimal(0))

            def submit() -> None:
                milestone_submit(milestone=m, actor=ms, message="Done.", links=[])
                stake.delivery = Delivery(at=at)

            if m.state == "in_review":
                pairs.append((approve, dispute_by(ms)))
            elif m.state == "awaiting_acceptance":
                pairs.append((lambda: milestone_accept(milestone=m, actor=ms), cancel))
            else:
                pairs.append((submit, dispute_by(buyer)))
        if available is not None and available.balance > 0:
            amount = Money(available.balance, CURRENCY)
            pairs.append((lambda: self._withdraw(seller, amount), lambda: self._withdraw(seller, amount)))
        pairs += self._withdrawal_races()
        if not pairs:
            return
        first, second = self.rng.choice(pairs)
        errors: list[BaseException] = []
        barrier = threading.Barrier(2)

        def run(call: Callable[[], Any]) -> None:
            from marketplace.errors import DomainError

            try:
                barrier.wait(10)
                call()
            except DomainError:
                pass
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(c,)) for c in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.stats.faults["two tabs racing"] += 1
        if errors:
            raise Breach(f"a racing action failed: {errors[0]!r}") from errors[0]

    def _withdrawal_races(self) -> list[tuple[Callable[[], Any], Callable[[], Any]]]:
        """A buyer withdraws their whole balance in one tab while tipping, or funding a new
        milestone from the same balance, in another: one wins, nothing is spent twice."""
        from milestones.models import Milestone
        from milestones.services.creation import milestone_create
        from milestones.services.tips import tip_leave
        from payments.models import Account
        from payments.services import FundingSource

        balance = (
            Account.objects.filter(kind="buyer_balance", balance__gt=0, user__in=self.buyers)
            .select_related("user")
            .order_by("?")
            .first()
        )
        if balance is None:
            return []
        buyer, amount = balance.user, Money(balance.balance, CURRENCY)
        assert buyer is not None
        whole = (lambda: self._withdraw(buyer, amount), "withdraw the whole balance")
        tippable = (
            Milestone.objects.filter(order__buyer=buyer, state="approved", tip__isnull=True)
            .exclude(pk__in=list(self.held_back))
            .select_related("order__buyer", "order__seller")
            .first()
        )
        pairs: list[tuple[Callable[[], Any], Callable[[], Any]]] = []
        if tippable is not None:
            stake = self._stake(tippable)
            tip = Money(min(balance.balance, Decimal("20.00")), CURRENCY)

            def tipping() -> None:
                tip_leave(milestone=tippable, actor=buyer, amount=tip, method="balance")
                stake.tip = tip.amount

            pairs.append(self._raced("withdrawal raced against a tip", whole[0], tipping))
        orders = [o for o in self.orders if o.buyer_id == buyer.pk and o not in self.leaver_orders]
        if orders:
            order = self.rng.choice(orders)
            price = Money(max(Decimal("5.00"), (balance.balance * Decimal("0.8")).quantize(Decimal("0.01"))), CURRENCY)

            def funding() -> None:
                milestone = milestone_create(
                    order=order,
                    actor=buyer,
                    title="Phase",
                    description="Paid from the balance.",
                    deadline=self._deadline(),
                    amount=price,
                    source=FundingSource(method="balance"),
                    idempotency_key=uuid.uuid4().hex,
                )
                self._stake(milestone).fundings += 1

            pairs.append(self._raced("withdrawal raced against funding from the balance", whole[0], funding))
        return pairs

    def _raced(self, kind: str, first: Callable[[], Any], second: Callable[[], Any]):
        """Both sides of a race, each counted by how it ended."""
        from marketplace.errors import DomainError

        def side(call: Callable[[], Any], name: str) -> Callable[[], Any]:
            def run() -> None:
                try:
                    call()
                except DomainError as error:
                    with self.lock:
                        self.stats.dishonest[f"{kind}: {name} refused ({type(error).__name__})"] += 1
                    raise
                with self.lock:
                    self.stats.dishonest[f"{kind}: {name} went through"] += 1

            return run

        return side(first, "the withdrawal"), side(second, "the other")

    # --- the checks ------------------------------------------------------------------------------

    def footprint(self) -> tuple:
        from milestones.models import Milestone, Proposal
        from payments.models import Entry, Transaction, Withdrawal

        states = tuple(Milestone.objects.order_by("pk").values_list("pk", "state", "amount"))
        proposals = tuple(Proposal.objects.order_by("pk").values_list("pk", "state"))
        return (
            Transaction.objects.count(),
            Entry.objects.count(),
            Withdrawal.objects.count(),
            hash(states),
            hash(proposals),
        )

    def check_step(self) -> None:
        from milestones.models import Milestone
        from orders.models import Activity
        from payments.integrity import TRANSACTION_HEAD, transaction_faults
        from payments.models import GUARDED_KINDS, Account, Entry, Transaction

        for row in Entry.objects.values("amount_currency").annotate(total=ExactSum("amount")).order_by():
            if row["total"] != 0:
                raise Breach(f"the ledger sums to {row['total']} {row['amount_currency']}")
        new = list(
            Transaction.objects.filter(pk__gt=self.last_txn).order_by("pk").values("id", "mac", *TRANSACTION_HEAD)
        )
        if new:
            self.last_txn = new[-1]["id"]
            lines: dict[int, list] = {t["id"]: [] for t in new}
            owned: dict[int, list] = {t["id"]: [] for t in new}
            touched_accounts: set[int] = set()
            for txn_id, account_id, amount, currency, kind, user_id in Entry.objects.filter(
                transaction_id__in=list(lines)
            ).values_list(
                "transaction_id", "account_id", "amount", "amount_currency", "account__kind", "account__user_id"
            ):
                lines[txn_id].append((account_id, amount, currency, kind))
                owned[txn_id].append((user_id, kind, amount))
                touched_accounts.add(account_id)
            for t in new:
                if sum(line[1] for line in lines[t["id"]]) != 0:
                    raise Breach(f"transaction {t['id']} does not sum to zero")
                faults = transaction_faults(t, lines[t["id"]])
                if faults:
                    raise Breach("; ".join(faults))
                try:
                    # Who may receive it: the act that entitles it, by the model (issue 40).
                    self.model.check(self.stats.steps + 1, t, owned[t["id"]])
                except Unentitled as error:
                    raise Breach(f"unentitled posting: {error}") from error
            sums = dict(
                Entry.objects.filter(account_id__in=touched_accounts)
                .values("account_id")
                .annotate(total=ExactSum("amount"))
                .values_list("account_id", "total")
            )
            for account in Account.objects.filter(pk__in=touched_accounts, kind__in=sorted(GUARDED_KINDS)):
                if account.balance != sums.get(account.pk, 0) or account.balance < 0:
                    raise Breach(f"account {account.pk} shows {account.balance}, its entries {sums.get(account.pk)}")
            self.touched |= {t["milestone_id"] for t in new if t["milestone_id"] is not None}
        news = Activity.objects.filter(pk__gt=self.last_activity, milestone__isnull=False)
        latest = news.order_by("-pk").values_list("pk", flat=True).first()
        if latest is not None:
            self.touched |= set(news.values_list("milestone_id", flat=True))
            self.last_activity = latest
        if self.touched:
            self.check_history(Milestone.objects.filter(pk__in=self.touched), Activity)
            self.touched = set()

    @staticmethod
    def check_history(milestones, activity_model) -> None:
        """Each milestone is in the state its history ends in, and each change
        in its history starts where the one before ended."""
        chains: dict[int, list[tuple[str, str]]] = {}
        for milestone_id, before, after in (
            activity_model.objects.filter(milestone__in=milestones)
            .exclude(to_state="")
            .order_by("pk")
            .values_list("milestone_id", "from_state", "to_state")
        ):
            chains.setdefault(milestone_id, []).append((before, after))
        for milestone in milestones.only("pk", "state"):
            chain = chains.get(milestone.pk, [])
            if not chain:
                raise Breach(f"milestone {milestone.pk} is {milestone.state} with no history at all")
            for (_, previous), (before, _) in pairwise(chain):
                if before and before != previous:
                    raise Breach(f"milestone {milestone.pk}: its history jumps from {previous} to {before}")
            if chain[-1][1] != milestone.state:
                raise Breach(f"milestone {milestone.pk} is {milestone.state} but its history ends in {chain[-1][1]}")

    def check_full(self) -> None:
        from milestones.models import Milestone
        from orders.models import Activity
        from payments.audit import ledger_audit
        from payments.integrity import ledger_seal
        from payments.reconcile import payments_reconcile

        ledger_seal()
        report = ledger_audit()
        if not report.ok:
            raise Breach(report.summary())
        reconciliation = payments_reconcile(since=self.started - timedelta(minutes=1))
        if not reconciliation.ok:
            raise Breach("the provider's records and the ledger differ: " + "; ".join(reconciliation.mismatches[:5]))
        self.check_history(Milestone.objects.filter(Q(pk__gt=0)), Activity)
        self.stats.full_checks += 1

    # --- the run ---------------------------------------------------------------------------------

    WEIGHTS = {
        "act_create": 14,
        "act_offer": 4,
        "act_answer_offer": 5,
        "act_flow": 30,
        "act_ask": 6,
        "act_answer": 6,
        "act_tip": 2,
        "act_withdraw": 5,
        "act_complete": 2,
        "act_time": 5,
        "act_webhook": 10,
        "act_worker": 12,
        "act_broker": 1,
        "fault_rollback": 3,
        "fault_race": 3,
        "dishonest_seller_cancel": 2,
        "dishonest_buyer_refund": 2,
        "dishonest_forge": 2,
        "act_close": 1,
    }

    def step(self) -> None:
        from marketplace.errors import DomainError

        names = list(self.WEIGHTS)
        name = self.rng.choices(names, weights=[self.WEIGHTS[n] for n in names])[0]
        self.stats.actions[name.removeprefix("act_")] += 1
        try:
            getattr(self, name)()
        except DomainError as exc:
            self.stats.refused[name.removeprefix("act_")] += 1
            self.stats.reasons[f"{name}: {str(exc)[:70]}"] += 1
            logger.debug("%s refused: %s", name, exc)

    def run(self, steps: int) -> Stats:
        from marketplace.celery import app
        from sandbox.services import CardRefused

        app.loader.import_default_modules()  # every app's tasks, as a worker has them
        started = time.monotonic()
        from milestones.models import Milestone
        from payments.models import Transaction

        # The model knows only this run's acts: earlier runs' postings on this database are not checked.
        self.last_txn = Transaction.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.model.before = Milestone.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        # The sandbox's own sends (its first, and its sweep's re-sends) would reach for the fake site
        # over the network and wait on a DNS failure each time; the simulation delivers the provider's
        # events itself (``act_webhook``: late, twice, out of order), so those sends go nowhere at once.
        unreachable = (False, "unreachable: the simulation delivers webhooks itself")
        with (
            mock.patch("marketplace.queue.publish", self._publish),
            mock.patch("sandbox.delivery._post", lambda event: unreachable),
        ):
            self.setup()
            for n in range(1, steps + 1):
                try:
                    self.step()
                except CardRefused:
                    self.stats.refused["card refused"] += 1
                except Breach as breach:
                    raise Breach(f"step {n} (seed {self.seed}): {breach}") from breach
                try:
                    self.check_step()
                    if n % self.full_every == 0 or n == steps:
                        # A quiet moment first: broker back, tasks run, webhooks in, a day passes.
                        self.drain()
                        self.check_step()  # what the quiet moment posted, against the model too
                        self.check_full()
                except Breach as breach:
                    raise Breach(f"after step {n} (seed {self.seed}): {breach}") from breach
                self.stats.steps = n
        self.stats.seconds = time.monotonic() - started
        return self.stats

    def drain(self) -> None:
        """A quiet moment: the broker is back, every queued task and webhook is
        handled, time passes beyond every lease and checkout, and the sweeps
        run, until nothing is left in flight."""
        from marketplace.celery import app
        from marketplace.sweeps import all_sweeps

        self.broker_down = False
        wait = max(settings.OUTBOX_LEASE_SECONDS, settings.CHECKOUT_EXPIRY.total_seconds()) + 1
        for _ in range(10):
            while self.queue or self.events:
                if self.events:
                    self._deliver(self.events.pop(0))
                if self.queue:
                    name, args = self.queue.pop(0)
                    app.tasks[name](*args)
            self.offset += timedelta(seconds=wait)
            self.model.sweeps_at(self.now(), settings.AUTO_APPROVE_PERIOD)
            for sweep in all_sweeps():
                sweep.run(now=self.now())
            self._dishonest_outcomes()
            if not self.queue and not self.events:
                return
        raise Breach("work still in flight after ten quiet rounds")
