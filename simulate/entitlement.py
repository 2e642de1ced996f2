"""Who may receive money (issue 40): every ledger transaction the simulation
sees is traced to the act that entitles it, checked against a model the
simulation keeps from the actions it took itself, never read back from the
app's tables (``Simulation`` tells the model what it did; the model reads only
the new transactions and their entries, as the thing to check).

* a release to a seller only after the buyer approved, auto-approval of a
  delivery the buyer left unanswered past the review period, a cancellation
  or split the buyer agreed to (or left unanswered where the silence rule
  allows: a seller's request refunding everything, a buyer's while no
  delivery awaits review), or a staff decision on a dispute;
* a refund to a buyer only from a milestone the buyer paid, for at most what
  they paid (the amount and the service fee) in all;
* a credit from the provider (a posting out of ``gateway``) only for a charge
  the simulation made on the provider's page, of that amount and reference,
  once;
* a payout only of the holder's own available balance, as they asked;
* a tip only from the milestone's buyer to its seller, once, as asked;
* nothing credited to a closed account that was not theirs already.

A posting with no entitling act is an ``Unentitled`` breach naming the step,
the actors and the missing act.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")


class Unentitled(AssertionError):
    """A posting no act of the model entitles."""


@dataclass
class Delivery:
    at: datetime  # when the seller delivered (the app's clock): auto-approval after the review period


@dataclass
class Request:
    """A cancellation request as the simulation made it."""

    pk: int
    proposer: str  # "buyer" or "seller"
    refund: Decimal
    amount: Decimal
    respond_by: datetime
    state: str = "pending"  # pending, agreed, lapsed, accepted by silence, closed


@dataclass
class Stake:
    """What the model knows of one milestone from the simulation's own acts."""

    buyer: int
    seller: int
    paid: Decimal = ZERO  # what the buyer put in, amount and service fee (entitled fundings)
    fee: Decimal = ZERO  # of which the service fee still held
    refunded: Decimal = ZERO  # what went back to the buyer
    delivery: Delivery | None = None  # a delivery awaiting the buyer's review
    grants: list[tuple[int | None, str, Decimal | None]] = field(default_factory=list)  # (actor, act, seller gross)
    requests: list[Request] = field(default_factory=list)
    fundings: int = 0  # fundings from the balance the buyer asked for
    tip: Decimal | None = None  # the tip the buyer asked to give
    tipped: bool = False
    charges: list[tuple[str, Decimal]] = field(default_factory=list)  # (payment reference, amount) not yet used


@dataclass
class Model:
    closed: set[int] = field(default_factory=set)
    stakes: dict[int, Stake] = field(default_factory=dict)
    withdrawals: dict[int, list[Decimal]] = field(default_factory=lambda: defaultdict(list))
    # The model's own balances of user accounts, from entitled postings only: (user, kind) -> amount.
    held: dict[tuple[int, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    card_refunds: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # per buyer, in flight
    checked: Counter = field(default_factory=Counter)
    before: int = 0  # milestones up to this id are an earlier run's, on the same database: not checked

    # --- the simulation's acts -------------------------------------------------------------

    def milestone(self, pk: int, *, buyer: int, seller: int) -> Stake:
        return self.stakes.setdefault(pk, Stake(buyer=buyer, seller=seller))

    def grant(self, pk: int, actor: int | None, act: str, seller_gross: Decimal | None) -> None:
        """An act that entitles settling the escrow: ``seller_gross`` to the seller (None: all of it)."""
        self.stakes[pk].grants.append((actor, act, seller_gross))

    def answered(self, pk: int) -> None:
        """The buyer answered the delivery (approval, revision, dispute): no auto-approval of it."""
        if pk in self.stakes:
            self.stakes[pk].delivery = None

    def sweeps_at(self, now: datetime, review_period) -> None:
        """Time passed to ``now`` and the sweeps are about to run: what silence decides, by the model."""
        for stake in self.stakes.values():
            for request in stake.requests:
                if request.state != "pending" or request.respond_by > now:
                    continue
                # The seller's only if it gives everything back; the buyer's only while no delivery waits.
                allowed = request.refund == request.amount if request.proposer == "seller" else stake.delivery is None
                if allowed:
                    request.state = "accepted by silence"
                    stake.grants.append((None, "a cancellation left unanswered", request.amount - request.refund))
                else:
                    request.state = "lapsed"
            if stake.delivery is not None and stake.delivery.at + review_period <= now:
                stake.grants.append((None, "auto-approval of an unanswered delivery", None))

    # --- the check ---------------------------------------------------------------------------

    def check(self, step: int, txn: dict, lines: list[tuple[int | None, str, Decimal]]) -> None:
        """``lines``: (owner user id, account kind, amount) of one new transaction."""
        kind = txn["kind"]
        if txn["milestone_id"] is not None and txn["milestone_id"] <= self.before:
            return
        self.checked[kind] += 1
        where = f"step {step}, transaction {txn['id']} ({kind}, {txn['idempotency_key']})"
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise Unentitled(f"{where}: a {kind} posting, which the model has no act for")
        handler(where, txn, lines)
        for user, account_kind, amount in lines:
            if user is None:
                continue
            self.held[(user, account_kind)] += amount
            if self.held[(user, account_kind)] < 0:
                raise Unentitled(f"{where}: takes {-amount} from user {user}'s {account_kind}, more than they hold")

    @staticmethod
    def _sum(lines, kind: str, user: int | None = None, sign: int = 0) -> Decimal:
        return sum(
            (
                a
                for u, k, a in lines
                if k == kind and (user is None or u == user) and (sign == 0 or (a > 0) == (sign > 0))
            ),
            ZERO,
        )

    def _owners(self, lines, kind: str) -> set[int | None]:
        return {u for u, k, _ in lines if k == kind}

    def _stake(self, where: str, txn: dict) -> Stake:
        stake = self.stakes.get(txn["milestone_id"])
        if stake is None:
            raise Unentitled(f"{where}: milestone {txn['milestone_id']}, which no buyer of the simulation asked for")
        return stake

    def _no_closed(self, where: str, lines) -> None:
        for user, kind, amount in lines:
            if user in self.closed and amount > 0 and kind != "seller_withdrawing":
                raise Unentitled(f"{where}: {amount} credited to user {user}'s {kind}, a closed account")

    def _charge(self, where: str, stake: Stake, txn: dict, amount: Decimal) -> None:
        """A posting out of ``gateway``: a charge the simulation made, of that amount and reference, once."""
        for i, (reference, charged) in enumerate(stake.charges):
            if charged == amount and reference in txn["memo"]:
                del stake.charges[i]
                return
        raise Unentitled(
            f"{where}: {amount} credited from the provider for milestone {txn['milestone_id']} "
            f"(buyer {stake.buyer}) with no charge the provider confirmed of that amount "
            f"(charges made: {stake.charges or 'none'}); missing act: a confirmed charge"
        )

    def _fund(self, where: str, txn: dict, lines) -> None:
        stake = self._stake(where, txn)
        self._no_closed(where, lines)
        total = -self._sum(lines, "gateway") - self._sum(lines, "buyer_balance")
        if self._sum(lines, "gateway"):
            self._charge(where, stake, txn, total)
        else:
            if self._owners(lines, "buyer_balance") != {stake.buyer} or stake.fundings <= 0:
                raise Unentitled(f"{where}: a funding from a balance the buyer {stake.buyer} did not ask to spend")
            stake.fundings -= 1
        stake.paid += total
        stake.fee += self._sum(lines, "platform_fees")

    def _late_payment(self, where: str, txn: dict, lines) -> None:
        stake = self._stake(where, txn)
        amount = -self._sum(lines, "gateway")
        self._charge(where, stake, txn, amount)
        self.card_refunds[stake.buyer] += amount

    def _settlement(self, where: str, txn: dict, lines) -> None:
        stake = self._stake(where, txn)
        self._no_closed(where, lines)
        out = -self._sum(lines, "escrow")
        seller_net = self._sum(lines, "seller_pending")
        back = self._sum(lines, "buyer_balance") + self._sum(lines, "card_refunds")
        if self._owners(lines, "seller_pending") - {stake.seller}:
            raise Unentitled(f"{where}: pays {seller_net} to someone other than the seller {stake.seller}")
        if self._owners(lines, "buyer_balance") - {stake.buyer}:
            raise Unentitled(f"{where}: refunds {back} to someone other than the buyer {stake.buyer}")
        if stake.refunded + back > stake.paid:
            raise Unentitled(
                f"{where}: refunds {back} to buyer {stake.buyer}, who paid {stake.paid} and had {stake.refunded} "
                "back already; missing act: a payment of that much"
            )
        if txn["idempotency_key"].startswith("reduce:"):
            acts = [g for g in stake.grants if g[1] == "a lower amount agreed" and g[0] == txn["actor_id"]]
            if not acts or seller_net or back - out > stake.fee:
                raise Unentitled(f"{where}: a reduction of the escrow the buyer {stake.buyer} did not agree to")
            stake.grants.remove(acts[0])
            stake.fee -= back - out
        else:
            self._entitle_settlement(where, txn, stake, out, back, seller_net)
        stake.refunded += back
        self.card_refunds[stake.buyer] += self._sum(lines, "card_refunds")

    @staticmethod
    def _fee_share(fee: Decimal, part: Decimal, held: Decimal) -> Decimal:
        """The service fee goes back in proportion to what the buyer gets back."""
        if held <= 0 or part <= 0:
            return ZERO
        return min((fee * part / held).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), fee)

    def _entitle_settlement(
        self, where: str, txn: dict, stake: Stake, out: Decimal, back: Decimal, seller_net: Decimal
    ) -> None:
        actor = txn["actor_id"]
        for grant_actor, _act, wanted in stake.grants:
            gross = out if wanted is None else wanted
            if grant_actor != actor or not ZERO <= gross <= out or (gross > 0) != (seller_net > 0):
                continue
            expected = out - gross + self._fee_share(stake.fee, out - gross, out)
            if abs(back - expected) <= Decimal("0.01") and seller_net <= gross:
                stake.grants = []
                stake.delivery = None
                for request in stake.requests:
                    if request.state == "pending":
                        request.state = "closed"
                return
        who = "the system (no one)" if actor is None else f"user {actor}"
        missing = (
            "an approval by the buyer, an auto-approval of an unanswered delivery, a cancellation the buyer "
            "agreed to (or left unanswered where the silence rule allows) or a staff decision"
        )
        if seller_net == 0:
            missing = "a decline, a cancellation, an agreement or a staff decision refunding the buyer that much"
        requests = "; ".join(
            f"the {r.proposer}'s cancellation request {r.pk} refunding {r.refund} of {r.amount}, {r.state}"
            for r in stake.requests
        )
        raise Unentitled(
            f"{where}: {out} out of milestone {txn['milestone_id']}'s escrow, {seller_net} to seller {stake.seller} "
            f"and {back} to buyer {stake.buyer}, by {who}; missing act: {missing}"
            + (f" (the model has: {requests})" if requests else "")
            + (f" (acts: {[(a, act, g) for a, act, g in stake.grants]})" if stake.grants else "")
        )

    _release = _refund = _split = _settlement

    def _tip(self, where: str, txn: dict, lines) -> None:
        stake = self._stake(where, txn)
        self._no_closed(where, lines)
        amount = -self._sum(lines, "buyer_balance") - self._sum(lines, "gateway")
        if stake.tipped or stake.tip != amount:
            raise Unentitled(f"{where}: a tip of {amount} the buyer {stake.buyer} did not ask to give (or a second)")
        if self._owners(lines, "buyer_balance") - {stake.buyer} or self._owners(lines, "seller_pending") != {
            stake.seller
        }:
            raise Unentitled(f"{where}: a tip not from buyer {stake.buyer} to seller {stake.seller}")
        if self._sum(lines, "gateway"):
            self._charge(where, stake, txn, amount)
        stake.tipped = True

    def _clear(self, where: str, txn: dict, lines) -> None:
        if len(self._owners(lines, "seller_pending") | self._owners(lines, "seller_available")) != 1:
            raise Unentitled(f"{where}: an earning cleared into someone else's available balance")

    def _withdrawal_request(self, where: str, txn: dict, lines) -> None:
        self._no_closed(where, lines)
        (holder,) = self._owners(lines, "seller_withdrawing") or {None}
        amount = self._sum(lines, "seller_withdrawing")
        sources = self._owners(lines, "seller_available") | self._owners(lines, "buyer_balance")
        if holder is None or sources - {holder} or txn["actor_id"] != holder:
            raise Unentitled(f"{where}: a withdrawal of {amount} not of the holder's own balance")
        asked = self.withdrawals[holder]
        if amount not in asked:
            raise Unentitled(f"{where}: a withdrawal of {amount} user {holder} did not ask for")
        asked.remove(amount)

    def _withdrawal_paid(self, where: str, txn: dict, lines) -> None:
        if len(self._owners(lines, "seller_withdrawing")) != 1:
            raise Unentitled(f"{where}: a payout not of one holder's withdrawal")

    def _withdrawal_failed(self, where: str, txn: dict, lines) -> None:
        owners = {u for u, _, _ in lines}
        if len(owners) != 1:
            raise Unentitled(f"{where}: a failed payout returned to someone other than its holder")

    def _card_refund_paid(self, where: str, txn: dict, lines) -> None:
        pass  # out of card refunds in flight to the card (the guarded account cannot go below zero)

    def _card_refund_failed(self, where: str, txn: dict, lines) -> None:
        (user,) = self._owners(lines, "buyer_balance") or {None}
        amount = self._sum(lines, "buyer_balance")
        owed = self.card_refunds[user] if user is not None else ZERO
        if user is None or owed < amount:
            raise Unentitled(
                f"{where}: {amount} credited to user {user}'s balance from a refused card refund, but only "
                f"{owed} of refunds to their cards is in flight; missing act: a refund owed to them"
            )
        self.card_refunds[user] -= amount

    def _balance_to_card(self, where: str, txn: dict, lines) -> None:
        # The user's own balance sent to their cards: in flight for them.
        for user in self._owners(lines, "buyer_balance"):
            if user is not None:
                self.card_refunds[user] -= self._sum(lines, "buyer_balance", user)
