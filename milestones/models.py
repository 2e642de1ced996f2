"""The milestone and its state machine (ARCHITECTURE.md, "The milestone state machine").

The transitions here say *which* moves are legal and record the timestamps
that go with them. They touch nothing outside this row: locks, money, the
activity log and notifications are the job of ``milestones/services/``,
which is the only caller.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition
from djmoney.models.fields import MoneyField

from accounts.models import User
from marketplace.mac import content_mac
from marketplace.rows import Columns, for_update
from orders.models import Order


class MilestoneState(models.TextChoices):
    OFFERED = "offered", _("Offer, waiting for the buyer")
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    AWAITING_ACCEPTANCE = "awaiting_acceptance", _("Awaiting acceptance")
    ACCEPTED = "accepted", _("Accepted, queued")
    IN_PROGRESS = "in_progress", _("In progress")
    IN_REVIEW = "in_review", _("In review")
    REVISION_REQUESTED = "revision_requested", _("Revision requested")
    DISPUTED = "disputed", _("In dispute")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")
    RESOLVED = "resolved", _("Resolved by staff")
    PAYMENT_EXPIRED = "payment_expired", _("Not paid, checkout expired")
    OFFER_DECLINED = "offer_declined", _("Offer declined")
    OFFER_EXPIRED = "offer_expired", _("Offer expired")
    # A later step of an ordered package: agreed when the seller accepted the order, not funded
    # yet. The buyer funds it ("Continue to next milestone") or stops the order before it.
    PLANNED = "planned", _("Planned")


S = MilestoneState
CLOSED_STATES = frozenset(
    {S.APPROVED, S.DECLINED, S.CANCELLED, S.RESOLVED, S.PAYMENT_EXPIRED, S.OFFER_DECLINED, S.OFFER_EXPIRED}
)
# Offered by the seller, or created with its checkout not paid yet: no money
# held, so it counts in no total, no progress and no sequence. Paid, a buyer's
# milestone awaits the seller's acceptance; a seller's offer starts or queues.
UNPAID_STATES = frozenset({S.OFFERED, S.AWAITING_PAYMENT, S.PLANNED})
# Never paid and closed: no money was ever held.
NEVER_PAID_STATES = frozenset({S.PAYMENT_EXPIRED, S.OFFER_DECLINED, S.OFFER_EXPIRED})
OPEN_STATES = frozenset(set(S) - CLOSED_STATES - UNPAID_STATES)
# States in which the seller is working on it, or its work is being judged.
IN_WORK_STATES = frozenset({S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED, S.DISPUTED})
DISPUTABLE_STATES = (S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED)
# States in which the seller owes work before the deadline.
DEADLINE_STATES = (S.IN_PROGRESS, S.REVISION_REQUESTED)


class MilestoneQuerySet(models.QuerySet["Milestone"]):
    def open(self) -> MilestoneQuerySet:
        return self.filter(state__in=OPEN_STATES)

    def closed(self) -> MilestoneQuerySet:
        return self.filter(state__in=CLOSED_STATES)


# The lists the dashboards show (``dashboards.selectors``): one party's milestones in
# some states, in one order. Each has its own partial index on the party, so a
# seller with 10,000 closed orders reads ten rows as one with ten orders does.
# A dashboard section names its index here and takes its states and order from it
# (``dashboards.selectors.Section``); ``tests/db/test_milestone_parties.py`` checks the plans.
PARTY_LISTS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (index name, party, states, order)
    ("ms_b_review", "buyer", (S.IN_REVIEW,), ("auto_approve_at", "id")),
    ("ms_b_work", "buyer", (S.IN_PROGRESS, S.REVISION_REQUESTED, S.ACCEPTED), ("deadline", "id")),
    ("ms_b_accept", "buyer", (S.AWAITING_ACCEPTANCE,), ("created_at", "id")),
    ("ms_b_dispute", "buyer", (S.DISPUTED,), ("created_at", "id")),
    ("ms_b_offer", "buyer", (S.OFFERED,), ("offer_expires_at", "id")),
    ("ms_b_unpaid", "buyer", (S.AWAITING_PAYMENT,), ("created_at", "id")),
    ("ms_s_accept", "seller", (S.AWAITING_ACCEPTANCE,), ("created_at", "id")),
    ("ms_s_work", "seller", (S.IN_PROGRESS, S.ACCEPTED), ("deadline", "id")),
    ("ms_s_revision", "seller", (S.REVISION_REQUESTED,), ("deadline", "id")),
    ("ms_s_review", "seller", (S.IN_REVIEW,), ("auto_approve_at", "id")),
    ("ms_s_dispute", "seller", (S.DISPUTED,), ("created_at", "id")),
    ("ms_s_offer", "seller", (S.OFFERED,), ("offer_expires_at", "id")),
)

# index name -> (party, states, order)
PARTY_LIST_BY_NAME = {name: (party, states, order) for name, party, states, order in PARTY_LISTS}


def party_list_indexes() -> list[models.Index]:
    """One partial index per dashboard section: its page and its count read it alone."""
    return [
        models.Index(fields=[party, *order], name=name, condition=Q(state__in=states))
        for name, party, states, order in PARTY_LISTS
    ]


def milestone_url(order_id: int, milestone_id: int) -> str:
    """A milestone's place on its order's page."""
    return f"{reverse('order_detail', args=[order_id])}#milestone-{milestone_id}"


def is_overdue(state: str, deadline: datetime) -> bool:
    """Still to deliver, and past its deadline: what pages mark as late."""
    return state in DEADLINE_STATES and deadline < timezone.now()


class Milestone(ConcurrentTransitionMixin, models.Model):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="milestones")
    # The order's parties, copied here by ``milestone_create`` (and checked by a
    # PostgreSQL trigger, ``milestones 0011``) so the dashboards find a user's
    # milestones on one index instead of joining every one of their orders.
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField("description of deliverables", max_length=10000)
    deadline = models.DateTimeField()
    amount = MoneyField(max_digits=14, decimal_places=2)
    # The buyer's service fee charged at funding, rounded once and stored.
    buyer_fee = MoneyField(max_digits=14, decimal_places=2)
    # The seller's commission taken at release, rounded once and stored.
    seller_fee = MoneyField(max_digits=14, decimal_places=2, null=True, blank=True)
    state = FSMField(default=S.AWAITING_ACCEPTANCE, choices=S.choices, protected=True)
    # The idempotency key of the form that created and funded it.
    funding_key = models.CharField(max_length=64, unique=True)

    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    auto_approve_at = models.DateTimeField(null=True, blank=True)
    late_flagged_at = models.DateTimeField(null=True, blank=True)
    revision_count = models.PositiveIntegerField(default=0)
    # Revisions the price includes (a package step's "Revisions included"); empty: unlimited, as
    # for milestones created by hand. Used up, the buyer may buy one ("Buy a revision").
    # (A SmallIntegerField: the range is the CHECK ``milestone_revisions_included_range``, added
    # NOT VALID and validated, instead of the column CHECK a Positive field brings.)
    revisions_included = models.SmallIntegerField(null=True, blank=True)
    decline_reason = models.TextField(blank=True, max_length=2000)
    # A seller's offer: unanswered by then, it expires. Set only on offers, and
    # kept after the buyer pays, so the milestone still reads as one.
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    # The buyer allowed the approved work in the seller's public portfolio (off by default; they may withdraw it).
    portfolio_allowed_at = models.DateTimeField(null=True, blank=True)

    objects = MilestoneQuerySet.as_manager()

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=S.values), name="milestone_state_valid"),
            models.UniqueConstraint(fields=["order", "position"], name="milestone_position_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="milestone_amount_positive"),
            models.CheckConstraint(condition=Q(buyer_fee__gte=0), name="milestone_buyer_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(revisions_included__isnull=True) | Q(revisions_included__gte=0, revisions_included__lte=20),
                name="milestone_revisions_included_range",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "auto_approve_at"], name="milestone_auto_approve"),
            models.Index(fields=["state", "deadline"], name="milestone_deadline"),
            *party_list_indexes(),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_state_display()})"

    def get_absolute_url(self) -> str:
        """The milestone's place on its order's page (no query: ``order_id`` only)."""
        return milestone_url(self.order_id, self.pk)

    # --- derived ---------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_closed(self) -> bool:
        return self.state in CLOSED_STATES

    @property
    def is_late(self) -> bool:
        """Was late at some point (for records: exports, disputes), or is now."""
        return self.late_flagged_at is not None or self.is_overdue

    @property
    def is_overdue(self) -> bool:
        """Still to deliver, and past its deadline: what pages mark as late."""
        return is_overdue(self.state, self.deadline)

    @property
    def total_charged(self):
        return self.amount + self.buyer_fee

    @property
    def planned_length(self) -> timedelta:
        """A planned step's own length (its days). While planned, ``deadline`` holds the day it
        would be due if it started when it was created, so the length is ``deadline - created_at``
        (rounded to whole days); ``fund_planned`` sets the real deadline from the start."""
        created = self.created_at or timezone.now()
        return timedelta(days=max(1, round((self.deadline - created).total_seconds() / 86400)))

    @property
    def revisions_left(self) -> int | None:
        """Revisions still included in the price; None: unlimited (a milestone made by hand)."""
        if self.revisions_included is None:
            return None
        return max(0, self.revisions_included - self.revision_count)

    @property
    def is_offer(self) -> bool:
        """The seller proposed it: once paid, it starts as if accepted."""
        return self.offer_expires_at is not None

    # --- transitions (called only by milestones/services/) -------------
    @transition(
        field=state,
        source=[S.OFFERED, S.AWAITING_PAYMENT],
        target=RETURN_VALUE(S.AWAITING_ACCEPTANCE, S.ACCEPTED, S.IN_PROGRESS),
    )
    def fund(self, *, start_now: bool, at: datetime) -> str:
        """Paid: the money is in escrow. A buyer's milestone now awaits the
        seller's answer; a seller's offer is accepted already, so it starts,
        or queues behind an open one."""
        if not self.is_offer:
            return S.AWAITING_ACCEPTANCE
        self.accepted_at = at
        if start_now:
            self.started_at = at
            return S.IN_PROGRESS
        return S.ACCEPTED

    @transition(field=state, source=S.PLANNED, target=RETURN_VALUE(S.IN_PROGRESS, S.ACCEPTED))
    def fund_planned(self, *, start_now: bool, at: datetime) -> str:
        """A planned step of an ordered package is paid ("Continue to next milestone"): the seller
        accepted the plan with the order, so it starts at once (or queues behind an open one),
        due its own days from now."""
        self.deadline = at + self.planned_length
        self.accepted_at = at
        if start_now:
            self.started_at = at
            return S.IN_PROGRESS
        return S.ACCEPTED

    @transition(field=state, source=S.PLANNED, target=S.CANCELLED)
    def stop_planned(self, *, at: datetime) -> None:
        """The buyer stopped the order before this step (or its continue period ran out): it
        closes unfunded; no money was ever held."""
        self.closed_at = at

    @transition(field=state, source=S.OFFERED, target=S.AWAITING_PAYMENT)
    def offer_checkout(self) -> None:
        """The buyer accepted the offer and pays by card on the provider's page."""

    @transition(field=state, source=S.OFFERED, target=S.OFFER_DECLINED)
    def decline_offer(self, *, reason: str, at: datetime) -> None:
        self.decline_reason = reason
        self.closed_at = at

    @transition(field=state, source=S.OFFERED, target=S.OFFER_EXPIRED)
    def expire_offer(self, *, at: datetime) -> None:
        self.closed_at = at

    @transition(field=state, source=S.OFFERED, target=S.CANCELLED)
    def withdraw_offer(self, *, at: datetime) -> None:
        self.closed_at = at

    @transition(field=state, source=S.AWAITING_PAYMENT, target=S.PAYMENT_EXPIRED)
    def expire_payment(self, *, at: datetime) -> None:
        self.closed_at = at

    @transition(field=state, source=S.AWAITING_ACCEPTANCE, target=RETURN_VALUE(S.IN_PROGRESS, S.ACCEPTED))
    def accept(self, *, start_now: bool, at: datetime) -> str:
        self.accepted_at = at
        if start_now:
            self.started_at = at
            return S.IN_PROGRESS
        return S.ACCEPTED

    @transition(field=state, source=S.AWAITING_ACCEPTANCE, target=S.DECLINED)
    def decline(self, *, reason: str, at: datetime) -> None:
        self.decline_reason = reason
        self.closed_at = at

    @transition(field=state, source=[S.AWAITING_PAYMENT, S.AWAITING_ACCEPTANCE, S.ACCEPTED], target=S.CANCELLED)
    def cancel(self, *, at: datetime) -> None:
        self.closed_at = at

    @transition(field=state, source=[S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED, S.DISPUTED], target=S.CANCELLED)
    def cancel_agreed(self, *, at: datetime) -> None:
        """Both parties agreed to stop; the escrow splits as they agreed. From a dispute too: the
        parties may settle it between themselves, which withdraws it (``_cancellation_apply``)."""
        self.closed_at = at
        self.auto_approve_at = None

    @transition(field=state, source=S.ACCEPTED, target=S.IN_PROGRESS)
    def activate(self, *, at: datetime) -> None:
        self.started_at = at

    @transition(field=state, source=[S.IN_PROGRESS, S.REVISION_REQUESTED], target=S.IN_REVIEW)
    def submit(self, *, at: datetime, auto_approve_at: datetime) -> None:
        self.submitted_at = at
        self.auto_approve_at = auto_approve_at

    @transition(field=state, source=S.IN_REVIEW, target=S.REVISION_REQUESTED)
    def request_revision(self, *, at: datetime) -> None:
        self.revision_count += 1
        self.auto_approve_at = None

    @transition(field=state, source=S.IN_REVIEW, target=S.APPROVED)
    def approve(self, *, at: datetime) -> None:
        self.approved_at = at
        self.closed_at = at
        self.auto_approve_at = None

    @transition(field=state, source=list(DISPUTABLE_STATES), target=S.DISPUTED)
    def open_dispute(self, *, at: datetime) -> None:
        # Timers stop while staff look at it.
        self.auto_approve_at = None

    @transition(field=state, source=S.DISPUTED, target=S.RESOLVED)
    def resolve(self, *, at: datetime) -> None:
        self.closed_at = at


def deliverable_upload_to(instance: DeliveryFile, filename: str) -> str:
    # The stored name is random: the user's name never reaches the filesystem
    # (no traversal, no collisions); it is kept in original_name for download.
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"deliverables/{instance.delivery.milestone.order_id}/{uuid.uuid4().hex}{suffix}"


class Delivery(models.Model):
    """One submission for review; kept forever, even after a revision."""

    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="deliveries")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    message = models.TextField(blank=True, max_length=10000)
    links = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["milestone", "number"]
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["milestone", "number"], name="delivery_number_unique")]

    def __str__(self) -> str:
        return f"Delivery {self.number} of {self.milestone.title}"


class DeliveryFile(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="files")
    file = models.FileField(upload_to=deliverable_upload_to, max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.original_name


class RevisionRequest(models.Model):
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="revision_requests")
    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, null=True, related_name="revision_requests")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    feedback = models.TextField(max_length=10000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["milestone", "created_at"]

    def __str__(self) -> str:
        return self.feedback[:50]


class MilestoneReminder(models.Model):
    """A reminder or flag that has been sent; the unique key makes each one once."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=40)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["milestone", "kind"], name="milestone_reminder_once")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.milestone_id}"


class ProposalKind(models.TextChoices):
    EXTENSION = "extension", _("Deadline extension")
    CANCELLATION = "cancellation", _("Cancellation")
    CHANGES = "changes", _("Change of terms")


class ProposalState(models.TextChoices):
    PENDING = "pending", _("Waiting for an answer")
    ACCEPTED = "accepted", pgettext_lazy("request", "Accepted")
    DECLINED = "declined", pgettext_lazy("request", "Declined")
    WITHDRAWN = "withdrawn", pgettext_lazy("request", "Withdrawn")
    EXPIRED = "expired", _("Lapsed unanswered")


P = ProposalState


class Proposal(ConcurrentTransitionMixin, models.Model):
    """A change of a milestone's terms that one party asks and the other answers.

    One pending proposal of a kind per milestone (a partial unique index).
    Its own machine: pending → accepted / declined / withdrawn / expired.
    ``milestones/services/`` is the only caller of the transitions; what an
    accepted proposal does to the milestone happens there, under its locks.
    """

    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="proposals")
    kind = models.CharField(max_length=20, choices=ProposalKind.choices)
    state = FSMField(default=P.PENDING, choices=P.choices, protected=True)
    proposer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(max_length=2000, blank=True)
    new_deadline = models.DateTimeField(null=True, blank=True)
    # A cancellation: what goes back to the buyer (the rest of the escrow is released to the seller).
    refund_amount = MoneyField(max_digits=14, decimal_places=2, null=True, blank=True)
    # A cancellation the buyer asked: where their refund goes ("balance" or "card"); empty, where
    # their profile says refunds go (as when the seller asked).
    refund_to = models.CharField(max_length=10, blank=True, default="")
    # Changes before acceptance: the new amount and description (with ``new_deadline``).
    new_amount = MoneyField(max_digits=14, decimal_places=2, null=True, blank=True)
    new_description = models.TextField(max_length=10000, blank=True)
    # A higher amount paid by card: the checkout of the difference.
    checkout = models.OneToOneField(
        "payments.Checkout", on_delete=models.PROTECT, null=True, blank=True, related_name="proposal"
    )
    # Unanswered by then, it lapses (``sweep_proposals``).
    respond_by = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects: models.Manager[Proposal] = models.Manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=P.values), name="proposal_state_valid"),
            models.CheckConstraint(condition=Q(kind__in=ProposalKind.values), name="proposal_kind_valid"),
            models.UniqueConstraint(
                fields=["milestone", "kind"], condition=Q(state="pending"), name="proposal_one_pending_per_kind"
            ),
        ]
        indexes = [models.Index(fields=["respond_by"], name="proposal_due", condition=Q(state="pending"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.milestone_id} ({self.get_state_display()})"

    @property
    def is_pending(self) -> bool:
        return self.state == P.PENDING

    @transition(field=state, source=P.PENDING, target=P.ACCEPTED)
    def accept(self, *, by, at: datetime) -> None:
        self.decided_by, self.decided_at = by, at

    @transition(field=state, source=P.PENDING, target=P.DECLINED)
    def decline(self, *, by, at: datetime) -> None:
        self.decided_by, self.decided_at = by, at

    @transition(field=state, source=P.PENDING, target=P.WITHDRAWN)
    def withdraw(self, *, by, at: datetime) -> None:
        self.decided_by, self.decided_at = by, at

    @transition(field=state, source=P.PENDING, target=P.EXPIRED)
    def expire(self, *, at: datetime) -> None:
        self.decided_at = at


class DisputeState(models.TextChoices):
    OPEN = "open", pgettext_lazy("dispute", "Open")
    RESOLVED = "resolved", pgettext_lazy("dispute", "Resolved")
    # The parties settled it between themselves (a cancellation by agreement) before staff decided.
    WITHDRAWN = "withdrawn", _("Withdrawn: settled by the parties")


class DisputeOutcome(models.TextChoices):
    RELEASE = "release", _("Released to seller")
    REFUND = "refund", _("Refunded to buyer")
    SPLIT = "split", pgettext_lazy("dispute outcome", "Split")


class Dispute(ConcurrentTransitionMixin, models.Model):
    milestone = models.OneToOneField(Milestone, on_delete=models.PROTECT, related_name="dispute")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(max_length=10000)
    state = FSMField(default=DisputeState.OPEN, choices=DisputeState.choices, protected=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=DisputeOutcome.choices, blank=True)
    seller_amount = MoneyField(max_digits=14, decimal_places=2, null=True, blank=True)
    buyer_amount = MoneyField(max_digits=14, decimal_places=2, null=True, blank=True)
    resolution_note = models.TextField(blank=True, max_length=10000)
    # A keyed MAC of the outcome (``marketplace.mac``), set at resolution; a trigger freezes it all then.
    outcome_mac = models.CharField(max_length=64, blank=True, editable=False)

    objects: models.Manager[Dispute] = models.Manager()

    class Meta:
        ordering = ["opened_at"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=DisputeState.values), name="dispute_state_valid"),
        ]
        indexes = [models.Index(fields=["state", "opened_at"])]

    def __str__(self) -> str:
        return f"Dispute on {self.milestone.title}"

    @transition(field=state, source=DisputeState.OPEN, target=DisputeState.RESOLVED)
    def resolve(self, *, by, outcome: str, seller_amount, buyer_amount, note: str, at: datetime) -> None:
        self.resolved_by = by
        self.resolved_at = at
        self.outcome = outcome
        self.seller_amount = seller_amount
        self.buyer_amount = buyer_amount
        self.resolution_note = note
        self.outcome_mac = self.expected_outcome_mac()

    @transition(field=state, source=DisputeState.OPEN, target=DisputeState.WITHDRAWN)
    def withdraw(self, *, at: datetime) -> None:
        # No outcome, no amounts: the cancellation the parties agreed moved the money.
        self.resolved_at = at

    def expected_outcome_mac(self) -> str:
        parts = [self.milestone_id, self.outcome, self.seller_amount, self.buyer_amount]
        return content_mac("dispute", [*parts, self.resolved_by_id, self.resolved_at])


def dispute_upload_to(instance: DisputeStatement, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"disputes/{instance.dispute_id}/{uuid.uuid4().hex}{suffix}"


class DisputeStatement(models.Model):
    """Either party's side of the story, with an optional file."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="statements")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=10000)
    attachment = models.FileField(upload_to=dispute_upload_to, blank=True, max_length=300)
    attachment_name = models.CharField(max_length=255, blank=True)
    # As for order messages: the same form sent twice adds one statement.
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:50]


# --- locks -----------------------------------------------------------------------


def lock_milestone(milestone_id: int) -> Milestone:
    """Lock a milestone and, first, its order (the lock order: order, then
    milestone, then ledger accounts). Returns the fresh milestone with the
    locked order attached, and the order's buyer and seller with it (read, not locked).

    Every write on a milestone starts here, an approval among them: the two
    statements are written out (``marketplace.rows``), which costs less than
    half of what the same two ORM queries did (the order through its milestone
    with its parties, then ``select_for_update().get``; docs/ARCHITECTURE.md,
    "When to write SQL"). Raises ``Order.DoesNotExist`` when there is no such
    milestone, as the ORM's did.
    """
    o, b, s, m = _lock_columns()
    with connection.cursor() as cursor:
        # The order found through the milestone and locked in one statement (its milestone row is not locked by it).
        cursor.execute(
            f"SELECT {o}, {b}, {s} FROM {o.table} "  # noqa: S608 - names from _meta
            f"JOIN {b.table} ON {b.ref('pk')} = {o.ref('buyer')} JOIN {s.table} ON {s.ref('pk')} = {o.ref('seller')} "
            f"WHERE {o.ref('pk')} = (SELECT {m.ref('order')} FROM {m.table} WHERE {m.ref('pk')} = %s)"
            + for_update(of=[o]),
            [milestone_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Order.DoesNotExist("Order matching query does not exist.")
    order = o.instance(row)
    order.buyer = b.instance(row, o.width)
    order.seller = s.instance(row, o.width + b.width)
    found = _lock_milestones(order, f"{m.ref('pk')} = %s", [milestone_id])
    if not found:
        raise Milestone.DoesNotExist("Milestone matching query does not exist.")
    return found[0]


def lock_open_milestones(order: Order) -> list[Milestone]:
    """The order's open milestones in their order (``position``), locked, each saving only what changes
    (``save_changed``). Caller holds the order lock, which serialises every write on them already.
    Written out as ``lock_milestone`` is: every close of a milestone reads them, to start the next one."""
    states = sorted(OPEN_STATES)
    m = _lock_columns()[3]
    return _lock_milestones(
        order, f"{m.ref('order')} = %s AND {m.ref('state')} IN ({', '.join(['%s'] * len(states))})", [order.pk, *states]
    )


def lock_planned_milestones(order: Order) -> list[Milestone]:
    """The order's planned steps by ``position``, locked; caller holds the order lock (as above)."""
    m = _lock_columns()[3]
    return _lock_milestones(order, f"{m.ref('order')} = %s AND {m.ref('state')} = %s", [order.pk, S.PLANNED])


def _lock_milestones(order: Order, where: str, params: list[Any]) -> list[Milestone]:
    """The order's milestones that ``where`` finds, by ``position``, locked, with the order attached
    and what each row held when locked (``save_changed`` writes only what changed since)."""
    m = _lock_columns()[3]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {m} FROM {m.table} WHERE {where} ORDER BY {m.ref('position')}" + for_update(),  # noqa: S608 - as above
            params,
        )
        milestones = [m.instance(row) for row in cursor.fetchall()]
    for milestone in milestones:
        milestone.order = order
        milestone._locked_values = _values(milestone)  # type: ignore[attr-defined]
    return milestones


@functools.cache
def _lock_columns() -> tuple[Columns[Order], Columns[User], Columns[User], Columns[Milestone]]:
    return Columns(Order, "o"), Columns(User, "b"), Columns(User, "s"), Columns(Milestone, "m")


def _values(milestone: Milestone) -> dict[str, object]:
    return {field.name: getattr(milestone, field.attname) for field in Milestone._meta.concrete_fields}


def save_changed(milestone: Milestone) -> None:
    """Save the fields changed since ``lock_milestone`` read the row (all of them for a milestone
    it did not read): the UPDATE a transition sends names a few columns, not thirty."""
    locked = getattr(milestone, "_locked_values", None)
    if locked is None:
        milestone.save()
        return
    values = _values(milestone)
    fields = [name for name, value in values.items() if value != locked[name]]
    if fields:
        # ConcurrentTransitionMixin adds "AND state = <as locked>" to the UPDATE, and raises
        # ConcurrentTransition if that finds no row.
        milestone.save(update_fields=fields)
    milestone._locked_values = values  # type: ignore[attr-defined]
