"""What a seller offers: a gig, from which a buyer opens an order."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models import Q
from django.db.models.expressions import CombinedExpression
from django.urls import reverse
from djmoney.models.fields import MoneyField


class Gig(models.Model):
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gigs")
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=5000)
    starting_price = MoneyField(max_digits=12, decimal_places=2, default_currency="USD")
    delivery_days = models.PositiveSmallIntegerField()
    # One of ``settings.GIG_CATEGORIES`` (checked by the services, so that the
    # list can grow without a migration).
    category = models.CharField(max_length=20, default="other")
    # Listed and orderable. False either because the seller paused the gig
    # (``paused_at`` set; the seller may resume it) or because staff retired it
    # in the admin (``paused_at`` empty; only staff bring it back).
    is_active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Moved by every write, so the seller's dashboard version sees an edit
    # (``dashboards.selectors.dashboard_version``). Empty on rows last saved before it existed.
    updated_at = models.DateTimeField(auto_now=True, null=True, blank=True)

    objects: models.Manager[Gig] = models.Manager()

    class Meta:
        # Created by the first layout, when gigs lived in ``marketplace``.
        db_table = "marketplace_gig"
        ordering = ["-created_at"]
        # On PostgreSQL a GIN index ``gig_search_idx`` on ``search_document()``
        # also exists (migration 0002). It is not declared here, because
        # SQLite, which rebuilds a table with all its declared indexes, has no
        # full-text functions.
        indexes = [
            models.Index(fields=["is_active", "-created_at"], name="marketplace_is_acti_f02233_idx"),
            models.Index(fields=["category", "is_active"], name="gig_category_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(delivery_days__gte=1), name="gig_delivery_days_positive"),
            models.CheckConstraint(condition=Q(starting_price__gt=0), name="gig_price_positive"),
            models.CheckConstraint(
                condition=Q(paused_at__isnull=True) | Q(is_active=False), name="gig_paused_unlisted"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("gig_detail", args=[self.pk])

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def is_retired(self) -> bool:
        return not self.is_active and self.paused_at is None

    @property
    def category_label(self) -> str:
        return dict(settings.GIG_CATEGORIES).get(self.category, self.category)


# The language whose stemming full-text search uses ("logos" finds "logo").
SEARCH_CONFIG = "english"


def search_document() -> CombinedExpression:
    """What full-text search (PostgreSQL) matches a query against: the title
    weighted A, above the description, weighted B. The GIN index
    ``gig_search_idx`` is built on this very expression, so a query that
    filters on it can use the index; change both together."""
    return SearchVector("title", config=SEARCH_CONFIG, weight="A") + SearchVector(
        "description", config=SEARCH_CONFIG, weight="B"
    )


def lock_gig(gig_id: int) -> Gig:
    """Lock a gig for a write by its seller (edit, pause, resume), so that two
    at once (two tabs, a double click) apply one after the other on the row as
    it then is. Nothing else locks gigs; opening an order reads ``is_active``
    without this lock, so an order may still open on a gig paused at that very
    moment, as it would have a second earlier."""
    return Gig.objects.select_for_update().get(pk=gig_id)
