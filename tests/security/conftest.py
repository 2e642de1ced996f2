"""A small world for the security tests: one order in every interesting shape,
built through the services so that every URL of the project has a real id to
point at, and a snapshot of everything a request could change."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from gigs.models import Gig
from milestones.models import Delivery, DeliveryFile, Dispute, DisputeStatement, Milestone, RevisionRequest
from milestones.services.disputes import milestone_open_dispute
from milestones.services.lifecycle import milestone_accept, milestone_submit
from notifications.models import Notification
from orders.models import Activity, Order, OrderMessage
from payments.models import Account, Earning, Entry, Transaction, Withdrawal
from sandbox.models import SandboxOperation
from tests.factories import OrderFactory, create_milestone

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf(name: str = "work.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@dataclass
class World:
    buyer: User
    seller: User
    outsider: User
    staff: User
    order: Order  # in_review milestone (with a file) + an awaiting one
    in_review: Milestone
    awaiting: Milestone
    dispute_order: Order
    disputed: Milestone
    dispute: Dispute
    statement: DisputeStatement
    delivery_file: DeliveryFile
    gig: Gig

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)

    def client(self, role: str, **kwargs) -> Client:
        client = Client(**kwargs)
        user = self.user(role)
        if user is not None:
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client


@pytest.fixture
def world(buyer, seller, outsider, staff, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    order = OrderFactory(buyer=buyer, seller=seller)
    in_review = create_milestone(order, title="Wireframes")
    milestone_accept(milestone=in_review, actor=seller)
    delivery = milestone_submit(milestone=in_review, actor=seller, message="Here it is.", files=[pdf()])
    awaiting = create_milestone(order, title="Screens")

    dispute_order = OrderFactory(buyer=buyer, seller=seller, gig=order.gig)
    disputed = create_milestone(dispute_order, title="Backend")
    milestone_accept(milestone=disputed, actor=seller)
    dispute = milestone_open_dispute(
        milestone=disputed, actor=buyer, reason="Nothing delivered.", attachment=pdf("proof.pdf")
    )
    statement = DisputeStatement.objects.get(dispute=dispute)
    return World(
        buyer=buyer,
        seller=seller,
        outsider=outsider,
        staff=staff,
        order=order,
        in_review=Milestone.objects.get(pk=in_review.pk),
        awaiting=awaiting,
        dispute_order=dispute_order,
        disputed=Milestone.objects.get(pk=disputed.pk),
        dispute=dispute,
        statement=statement,
        delivery_file=DeliveryFile.objects.get(delivery=delivery),
        gig=order.gig,
    )


COUNTED = [
    User,
    Gig,
    Notification,
    Order,
    OrderMessage,
    Activity,
    Milestone,
    Delivery,
    DeliveryFile,
    RevisionRequest,
    Dispute,
    DisputeStatement,
    Account,
    Transaction,
    Entry,
    Earning,
    Withdrawal,
    SandboxOperation,
]


def snapshot() -> dict:
    """Everything a request could change, except sessions and login bookkeeping."""
    return {
        "counts": {model.__name__: model.objects.count() for model in COUNTED},
        "milestones": sorted(Milestone.objects.values_list("pk", "state", "amount", "title", "description")),
        "orders": sorted(Order.objects.values_list("pk", "status", "title", "completed_at")),
        "balances": sorted((pk, Decimal(b)) for pk, b in Account.objects.values_list("pk", "balance")),
        "unread": Notification.objects.filter(read_at__isnull=True).count(),
        "users": sorted(
            User.objects.values_list("pk", "username", "email", "password", "payout_account", "bio", "is_staff")
        ),
        "gigs": sorted(Gig.objects.values_list("pk", "title", "is_active")),
        "disputes": sorted(Dispute.objects.values_list("pk", "state")),
    }


@pytest.fixture
def unchanged():
    """``with unchanged(): ...`` fails if the block changed anything at all."""
    from contextlib import contextmanager

    from payments.audit import ledger_audit

    @contextmanager
    def check():
        before = snapshot()
        yield
        after = snapshot()
        for key in before:
            assert after[key] == before[key], f"{key} changed"
        report = ledger_audit()
        assert report.ok, report.summary()

    return check
