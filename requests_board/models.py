"""Buyer requests and the sellers' proposals (issue 36, item 1). A buyer describes a project; sellers
send a proposal (a message and a milestone plan, the steps of a gig package); "Hire" opens an
order with the proposal's steps. Written only by ``requests_board.services``."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from djmoney.models.fields import MoneyField


class RequestState(models.TextChoices):
    OPEN = "open", pgettext_lazy("buyer request", "Open")
    HIRED = "hired", pgettext_lazy("buyer request", "Hired")
    EXPIRED = "expired", pgettext_lazy("buyer request", "Expired")
    WITHDRAWN = "withdrawn", pgettext_lazy("buyer request", "Withdrawn")


class ProposalState(models.TextChoices):
    PENDING = "pending", pgettext_lazy("proposal", "Pending")
    HIRED = "hired", pgettext_lazy("proposal", "Hired")
    DECLINED = "declined", pgettext_lazy("proposal", "Declined")
    WITHDRAWN = "withdrawn", pgettext_lazy("proposal", "Withdrawn")


class BuyerRequest(models.Model):
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="buyer_requests", verbose_name=_("buyer")
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), max_length=10000)
    category = models.CharField(_("category"), max_length=40, choices=settings.GIG_CATEGORIES)
    budget = MoneyField(_("budget"), max_digits=12, decimal_places=2, default_currency="USD")
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=12, choices=RequestState.choices, default=RequestState.OPEN)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # The order "Hire" opened.
    order = models.ForeignKey(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("order")
    )

    objects: models.Manager[BuyerRequest] = models.Manager()

    class Meta:
        verbose_name = _("buyer request")
        verbose_name_plural = _("buyer requests")
        indexes = [models.Index(fields=["state", "expires_at"], name="request_state_expires")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("request_detail", args=[self.pk])


def request_upload_to(instance: RequestAttachment, filename: str) -> str:
    # A random stored name; the buyer's is kept in ``original_name`` for the download.
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"requests/{instance.request_id}/{uuid.uuid4().hex}{suffix}"


class RequestAttachment(models.Model):
    """A file the buyer posted with the request (a sketch, a brief), under the deliverables' type
    and size rules, downloaded only by those who may see the request
    (``requests_board.selectors.request_for_user``)."""

    request = models.ForeignKey(
        BuyerRequest, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("request")
    )
    file = models.FileField(_("file"), upload_to=request_upload_to, max_length=300)
    original_name = models.CharField(_("original name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("size"), default=0)

    objects: models.Manager[RequestAttachment] = models.Manager()

    class Meta:
        verbose_name = _("request attachment")
        verbose_name_plural = _("request attachments")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("request_file", args=[self.request_id, self.pk])


class RequestProposal(models.Model):
    request = models.ForeignKey(
        BuyerRequest, on_delete=models.CASCADE, related_name="proposals", verbose_name=_("request")
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="request_proposals", verbose_name=_("seller")
    )
    message = models.TextField(_("message"), max_length=5000)
    state = models.CharField(_("state"), max_length=12, choices=ProposalState.choices, default=ProposalState.PENDING)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: models.Manager[RequestProposal] = models.Manager()

    class Meta:
        verbose_name = _("request proposal")
        verbose_name_plural = _("request proposals")
        constraints = [
            models.UniqueConstraint(
                fields=["request", "seller"],
                condition=Q(state="pending"),
                name="one_pending_proposal_per_seller",
            )
        ]

    def __str__(self) -> str:
        return f"Proposal {self.pk} on request {self.request_id}"


class ProposalStep(models.Model):
    proposal = models.ForeignKey(
        RequestProposal, on_delete=models.CASCADE, related_name="steps", verbose_name=_("proposal")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    title = models.CharField(_("title"), max_length=200)
    deliverables = models.TextField(_("deliverables"), max_length=5000)
    days = models.PositiveSmallIntegerField(_("days"))
    price = MoneyField(_("price"), max_digits=12, decimal_places=2, default_currency="USD")

    objects: models.Manager[ProposalStep] = models.Manager()

    class Meta:
        verbose_name = _("proposal step")
        verbose_name_plural = _("proposal steps")
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["proposal", "position"], name="proposal_step_position")]

    def __str__(self) -> str:
        return self.title
