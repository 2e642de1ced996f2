"""What a seller offers: a gig, from which a buyer opens an order."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from djmoney.models.fields import MoneyField


class Gig(models.Model):
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gigs")
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=5000)
    starting_price = MoneyField(max_digits=12, decimal_places=2, default_currency="USD")
    delivery_days = models.PositiveSmallIntegerField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[Gig] = models.Manager()

    class Meta:
        # Created by the first layout, when gigs lived in ``marketplace``.
        db_table = "marketplace_gig"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["is_active", "-created_at"], name="marketplace_is_acti_f02233_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(delivery_days__gte=1), name="gig_delivery_days_positive"),
            models.CheckConstraint(condition=Q(starting_price__gt=0), name="gig_price_positive"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("gig_detail", args=[self.pk])
