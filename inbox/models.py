"""Conversations outside an order, and where each person has read up to.

An order's conversation is its messages (``orders.OrderMessage``). Before
any order, a buyer asks a seller about a gig ("Contact seller"): an
``Inquiry``, one per gig and buyer, with its own messages and files under
the same rules. What is unread is what the notices say: each message
notifies the other party (``new_message``, pointing at the conversation),
and opening the conversation reads them.
"""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Inquiry(models.Model):
    gig = models.ForeignKey("gigs.Gig", on_delete=models.PROTECT, related_name="inquiries")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="inquiries_sent")
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="inquiries_received")
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    objects: models.Manager[Inquiry] = models.Manager()

    class Meta:
        verbose_name_plural = _("inquiries")
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["gig", "buyer"], name="inquiry_one_per_gig_and_buyer"),
            models.CheckConstraint(condition=~Q(buyer=models.F("seller")), name="inquiry_not_with_oneself"),
        ]
        indexes = [
            models.Index(fields=["buyer", "-last_message_at"]),
            models.Index(fields=["seller", "-last_message_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.buyer} about “{self.gig}”"

    def get_absolute_url(self) -> str:
        return reverse("inquiry_detail", args=[self.pk])

    def is_party(self, user) -> bool:
        return user.pk in (self.buyer_id, self.seller_id)


class InquiryMessage(models.Model):
    inquiry = models.ForeignKey(Inquiry, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=5000)
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # As ``OrderMessage.contact_flag``: shown to both, flagged for staff, never changed.
    contact_flag = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[InquiryMessage] = models.Manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["inquiry", "created_at"])]

    def __str__(self) -> str:
        return self.body[:50]


def inquiry_upload_to(instance: InquiryFile, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"inquiries/{instance.message.inquiry_id}/{uuid.uuid4().hex}{suffix}"


class InquiryFile(models.Model):
    message = models.ForeignKey(InquiryMessage, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=inquiry_upload_to, max_length=300)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return self.original_name
