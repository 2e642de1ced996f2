"""Reviews: after an order completes, each party reviews the other once.

Double-blind: a review is stored with ``published_at`` empty and shown to
nobody but its author until the other party's review is in (both publish at
that moment) or the review window closes (``sweep_reviews`` publishes the
lone one). ``reviews/services.py`` is the only writer.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ReviewRole(models.TextChoices):
    BUYER = "buyer", _("Buyer reviewing the seller")
    SELLER = "seller", _("Seller reviewing the buyer")


class ReviewQuerySet(models.QuerySet["Review"]):
    def public(self) -> ReviewQuerySet:
        """Published and not hidden by staff: what anyone may read."""
        return self.filter(published_at__isnull=False, hidden_at__isnull=True)


class Review(models.Model):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="reviews")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_written")
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_received")
    role = models.CharField(max_length=10, choices=ReviewRole.choices)
    # The buyer rates the seller on three counts (1-5); the seller rates the buyer once.
    communication = models.PositiveSmallIntegerField(null=True, blank=True)
    service = models.PositiveSmallIntegerField("service as described", null=True, blank=True)
    recommend = models.PositiveSmallIntegerField("would recommend", null=True, blank=True)
    # The overall rating: the seller's one, or the mean of the buyer's three.
    rating = models.DecimalField(max_digits=3, decimal_places=2)
    text = models.TextField("review", max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    reply = models.TextField(max_length=5000, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hidden_reason = models.TextField(max_length=2000, blank=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "author"], name="review_once_per_party"),
            models.CheckConstraint(condition=Q(role__in=ReviewRole.values), name="review_role_valid"),
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="review_rating_range"),
            models.CheckConstraint(
                condition=Q(role="seller")
                | Q(communication__range=(1, 5), service__range=(1, 5), recommend__range=(1, 5)),
                name="review_buyer_scores",
            ),
        ]
        indexes = [models.Index(fields=["subject", "role", "-published_at"], name="review_subject_published")]

    def __str__(self) -> str:
        return f"Review of {self.subject} on order {self.order_id}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class ReviewNotice(models.Model):
    """A reminder or a seller's "request a review" that was sent: each once."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="review_notices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "user", "kind"], name="review_notice_once")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.user_id} on {self.order_id}"
