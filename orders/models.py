from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class OrderStatus(models.TextChoices):
    AWAITING_MILESTONE = "awaiting_milestone", _("Waiting for a milestone")
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")


# A party's role in an order (``Order.role_of``).
BUYER, SELLER = "buyer", "seller"


class Order(models.Model):
    """A buyer's engagement with one seller; the money moves per milestone.

    ``status`` follows the milestones (active while any is open) and is kept by
    the services that change them (``order_refresh_status``).
    """

    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders_as_buyer")
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders_as_seller")
    gig = models.ForeignKey("gigs.Gig", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders")
    title = models.CharField(max_length=200)
    brief = models.TextField(max_length=10000, blank=True)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.AWAITING_MILESTONE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Completed by the system ``ORDER_AUTO_COMPLETE`` after its last milestone closed, not by the buyer.
    completed_automatically = models.BooleanField(default=False)
    # Ordered from a gig package (issue 35): its name as it was when ordered. The steps are the
    # order's milestones; the package row may change or go afterwards.
    package = models.ForeignKey(
        "gigs.GigPackage", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    package_name = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["buyer", "status", "-updated_at"]),
            models.Index(fields=["seller", "status", "-updated_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(buyer=F("seller")), name="order_buyer_is_not_seller"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
        ]
        # The staff flag alone opens the admin, not other people's orders: reading
        # them (and their files) is support's, a group of its own (migration 0006).
        permissions = [("support_read", "Can read any order, its messages and its files (support)")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("order_detail", args=[self.pk])

    def is_party(self, user) -> bool:
        return user.is_authenticated and user.pk in (self.buyer_id, self.seller_id)

    def role_of(self, user) -> str | None:
        if user.pk == self.buyer_id:
            return BUYER
        if user.pk == self.seller_id:
            return SELLER
        return None


class OrderMessage(models.Model):
    """On-platform communication: the record staff read in a dispute."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=5000)
    # The key of the form that sent it: a second submit of the same form
    # (double click, back button, two tabs) is refused by this unique index.
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # What in it looks like contact details off the platform ("an e-mail
    # address", ...), or "": shown to both parties, flagged for staff, never changed.
    contact_flag = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["order", "created_at"]),
            models.Index(fields=["created_at"], name="ordermessage_flagged", condition=~Q(contact_flag="")),
        ]

    def __str__(self) -> str:
        return self.body[:50]


def message_upload_to(instance: OrderMessageFile, filename: str) -> str:
    # A random stored name; the user's is kept in ``original_name`` for the download.
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"messages/{instance.message.order_id}/{uuid.uuid4().hex}{suffix}"


class OrderMessageFile(models.Model):
    """A file attached to a message, under the deliverables' type and size
    rules, downloaded only by the order's parties and staff."""

    message = models.ForeignKey(OrderMessage, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=message_upload_to, max_length=300)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return self.original_name


def _party_copy() -> models.ForeignKey:
    """A copy of one of the order's parties on a row logged about it (``Activity``): no constraint
    and no index of its own (the partial indexes that read it are in ``Meta``)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )


class Activity(models.Model):
    """One row per state change or money movement, for the order's timeline.

    ``actor`` is empty when the system acted (auto-approval, clearance).
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="activities")
    milestone = models.ForeignKey(
        "milestones.Milestone", on_delete=models.CASCADE, null=True, blank=True, related_name="activities"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verb = models.CharField(max_length=40)
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The order's parties, copied by ``activity_record``: a party's latest activity is one index
    # probe, the version of their dashboard (``dashboards.selectors.dashboard_version``, with a
    # seller's gigs). Empty on rows logged before the copy existed: a version only has to move
    # when something new is logged.
    # No constraint: a copy for reading, the order's own columns are the truth.
    buyer = _party_copy()
    seller = _party_copy()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = _("activities")
        indexes = [
            models.Index(fields=["order", "created_at"]),
            models.Index(fields=["buyer", "id"], name="activity_buyer_latest", condition=Q(buyer__isnull=False)),
            models.Index(fields=["seller", "id"], name="activity_seller_latest", condition=Q(seller__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.verb} {self.from_state}→{self.to_state}"

    @property
    def actor_name(self) -> str:
        return self.actor.username if self.actor is not None else gettext("System")


# --- locks -----------------------------------------------------------------------


def lock_order(order_id: int) -> Order:
    """Lock an order: the first lock every write on an order takes, which
    serialises everything on it (sequential activation of phases depends on
    seeing all its milestones).

    ``of=("self",)``: the joined buyer and seller rows are read, not locked;
    locking them would make every write by one user queue behind their writes
    on all their other orders.
    """
    return Order.objects.select_for_update(of=("self",)).select_related("buyer", "seller").get(pk=order_id)


class StaffFileRead(models.Model):
    """The staff-read log: an order page, a conversation or a private file opened by someone who
    is not a party to it (support staff), and every such read refused because the session had not
    passed two-factor: who, what, of which order or conversation, and when. Shown in the admin."""

    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # "order page", "conversation", "deliverable", "dispute evidence", "message file", "inquiry file",
    # "refused: no two-factor".
    kind = models.CharField(max_length=30)
    file_name = models.CharField(max_length=255)  # the file's name, or the order's or gig's title
    where = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-read_at", "-id"]
        verbose_name = _("staff read")

    def __str__(self) -> str:
        return f"{self.reader} read {self.kind} “{self.file_name}”"


def answer_upload_to(instance: RequirementAnswer, filename: str) -> str:
    return f"orders/{instance.order_id}/requirements/{filename}"


class RequirementAnswer(models.Model):
    """The buyer's answer to one of the gig's requirement questions, given when ordering; the
    answers are the order's brief. The question is copied: the seller may edit the gig later."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="requirement_answers")
    position = models.PositiveSmallIntegerField()
    question = models.CharField(max_length=300)
    answer = models.TextField(max_length=5000, blank=True)
    file = models.FileField(upload_to=answer_upload_to, max_length=300, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["order", "position"]
        constraints = [models.UniqueConstraint(fields=["order", "position"], name="requirement_answer_unique")]

    def __str__(self) -> str:
        return self.question
