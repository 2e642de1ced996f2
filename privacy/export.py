"""A user's data as a zip (``user_data_zip``): everything the site holds about them or that they see in
their orders, as JSON, with the files of their orders and conversations.

``profile.json`` (the account, its e-mail addresses, its security log, its calendar feeds without their
tokens), ``orders.json`` (each order with its milestones, deliveries, revision requests, proposals,
disputes and timeline), ``messages.json`` (order conversations and inquiries), ``money.json`` (their
ledger lines, earnings, withdrawals, tips and checkouts), ``reviews.json`` (written; received once
published), ``gigs.json``, ``gig_images.json``,
``saved_gigs.json`` (the gigs they saved, and when), ``requests.json`` (their buyer requests, the
files posted with them, and their proposals), ``notifications.json``,
``webhooks.json`` (their endpoints, without the signing secret, and the deliveries' log), and ``files/``.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterable
from typing import IO, Any

from allauth.account.models import EmailAddress
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import SecurityEvent, SellerLevelChange, User
from calendar_feed.models import CalendarFeed
from gigs.models import Gig, GigImage, SavedGig
from inbox.models import Inquiry, InquiryFile, InquiryMessage
from milestones.models import Delivery, DeliveryFile, Dispute, DisputeStatement, Milestone, Proposal, RevisionRequest
from notifications.models import Notification
from orders.models import Activity, Order, OrderMessage, OrderMessageFile
from payments.models import Checkout, Earning, Entry, Tip, Withdrawal
from requests_board.models import BuyerRequest, ProposalStep, RequestAttachment, RequestProposal
from reviews.models import Review
from webhooks.models import WebhookDelivery, WebhookEndpoint

PROFILE_FIELDS = (
    "id", "username", "email", "first_name", "last_name", "date_joined", "last_login", "bio",
    "withdrawal_method", "withdrawal_method_chosen_at", "payout_account", "refund_to", "time_zone",
    "email_notifications", "rating_avg", "rating_count", "seller_level", "seller_level_since",
    "response_seconds", "response_rate",
)  # fmt: skip


def _rows(queryset, *fields: str) -> list[dict[str, Any]]:
    return list(queryset.values(*fields))


def _json(archive: zipfile.ZipFile, name: str, data: Any) -> None:
    archive.writestr(name, json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False))


def _files(archive: zipfile.ZipFile, folder: str, items: Iterable[tuple[int, Any, str]]) -> list[str]:
    """Each stored file into ``files/<folder>/<id>-<name>``; a file missing from storage is listed, not fatal."""
    missing = []
    for pk, field, original in items:
        base = (original or field.name).replace("\\", "/").rsplit("/", 1)[-1].lstrip(".") or "file"
        name = f"files/{folder}/{pk}-{base}"
        try:
            with field.open("rb") as handle:
                archive.writestr(name, handle.read())
        except (FileNotFoundError, OSError):
            missing.append(name)
    return missing


def user_data_zip(user: User) -> IO[bytes]:
    """The zip, in a temporary file positioned at its start."""
    orders = Order.objects.filter(Q(buyer=user) | Q(seller=user))
    milestones = Milestone.objects.filter(order__in=orders)
    inquiries = Inquiry.objects.filter(Q(buyer=user) | Q(seller=user))
    request_files = RequestAttachment.objects.filter(request__buyer=user).order_by("pk")
    out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open; FileResponse closes it
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        _json(
            archive,
            "profile.json",
            {
                "exported_at": timezone.now(),
                "account": User.objects.values(*PROFILE_FIELDS).get(pk=user.pk),
                "email_addresses": _rows(EmailAddress.objects.filter(user=user), "email", "verified", "primary"),
                "security_log": _rows(SecurityEvent.objects.filter(user=user), "kind", "detail", "ip", "created_at"),
                # That a feed exists and when it was read, never its token (only a hash is kept anyway).
                "calendar_feeds": _rows(
                    CalendarFeed.objects.filter(user=user), "created_at", "revoked_at", "last_read_at"
                ),
                "seller_levels": _rows(
                    SellerLevelChange.objects.filter(user=user).order_by("pk"), "from_level", "to_level", "created_at"
                ),
            },
        )
        _json(
            archive,
            "orders.json",
            {
                "orders": _rows(orders.order_by("pk")),
                "milestones": _rows(milestones.order_by("pk")),
                "deliveries": _rows(Delivery.objects.filter(milestone__in=milestones).order_by("pk")),
                "revision_requests": _rows(RevisionRequest.objects.filter(milestone__in=milestones).order_by("pk")),
                "proposals": _rows(Proposal.objects.filter(milestone__in=milestones).order_by("pk")),
                "disputes": _rows(Dispute.objects.filter(milestone__in=milestones).order_by("pk")),
                "dispute_statements": _rows(
                    DisputeStatement.objects.filter(dispute__milestone__in=milestones).order_by("pk")
                ),
                "timeline": _rows(Activity.objects.filter(order__in=orders).order_by("pk")),
            },
        )
        _json(
            archive,
            "messages.json",
            {
                "order_messages": _rows(OrderMessage.objects.filter(order__in=orders).order_by("pk")),
                "inquiries": _rows(inquiries.order_by("pk")),
                "inquiry_messages": _rows(InquiryMessage.objects.filter(inquiry__in=inquiries).order_by("pk")),
            },
        )
        _json(
            archive,
            "money.json",
            {
                "ledger_lines": _rows(
                    Entry.objects.filter(account__user=user).order_by("pk"),
                    "id",
                    "amount",
                    "amount_currency",
                    "account__kind",
                    "transaction__kind",
                    "transaction__memo",
                    "transaction__created_at",
                    "transaction__milestone_id",
                ),
                "earnings": _rows(Earning.objects.filter(seller=user).order_by("pk")),
                "withdrawals": _rows(Withdrawal.objects.filter(seller=user).order_by("pk")),
                "tips": _rows(Tip.objects.filter(Q(buyer=user) | Q(seller=user)).order_by("pk")),
                "checkouts": _rows(Checkout.objects.filter(buyer=user).order_by("pk")),
            },
        )
        _json(
            archive,
            "reviews.json",
            {
                "written": _rows(Review.objects.filter(author=user).order_by("pk")),
                # Received reviews are double-blind until published: only published ones are theirs to see.
                "received": _rows(Review.objects.filter(subject=user, published_at__isnull=False).order_by("pk")),
            },
        )
        gig_images = GigImage.objects.filter(gig__seller=user).order_by("gig_id", "position")
        _json(archive, "gigs.json", _rows(Gig.objects.filter(seller=user).order_by("pk")))
        _json(archive, "gig_images.json", _rows(gig_images))
        _json(
            archive,
            "saved_gigs.json",
            _rows(SavedGig.objects.filter(user=user).order_by("pk"), "gig_id", "gig__title", "created_at"),
        )
        _json(
            archive,
            "requests.json",
            {
                "requests": _rows(BuyerRequest.objects.filter(buyer=user).order_by("pk")),
                "request_files": _rows(request_files, "id", "request_id", "original_name", "content_type", "size"),
                "proposals": _rows(RequestProposal.objects.filter(seller=user).order_by("pk")),
                "proposal_steps": _rows(
                    ProposalStep.objects.filter(proposal__seller=user).order_by("proposal_id", "position")
                ),
            },
        )
        _json(archive, "notifications.json", _rows(Notification.objects.filter(recipient=user).order_by("pk")))
        _json(
            archive,
            "webhooks.json",
            {
                # The secret is a credential, as a password is: not in the copy.
                "endpoints": _rows(
                    WebhookEndpoint.objects.filter(user=user).order_by("pk"),
                    *(f.name for f in WebhookEndpoint._meta.concrete_fields if f.name not in ("secret", "user")),
                ),
                "deliveries": _rows(WebhookDelivery.objects.filter(endpoint__user=user).order_by("pk")),
            },
        )
        missing = _files(
            archive,
            "deliveries",
            ((f.pk, f.file, f.original_name) for f in DeliveryFile.objects.filter(delivery__milestone__in=milestones)),
        )
        missing += _files(
            archive,
            "order-messages",
            ((f.pk, f.file, f.original_name) for f in OrderMessageFile.objects.filter(message__order__in=orders)),
        )
        missing += _files(archive, "gig-images", ((image.pk, image.image, "") for image in gig_images))
        missing += _files(
            archive,
            "inquiries",
            ((f.pk, f.file, f.original_name) for f in InquiryFile.objects.filter(message__inquiry__in=inquiries)),
        )
        missing += _files(archive, "requests", ((f.pk, f.file, f.original_name) for f in request_files))
        missing += _files(
            archive,
            "dispute-statements",
            (
                (s.pk, s.attachment, "")
                for s in DisputeStatement.objects.filter(dispute__milestone__in=milestones).exclude(attachment="")
            ),
        )
        archive.writestr(
            "README.txt",
            _("Your data from the Milestone Marketplace, as JSON (UTF-8), with the files of your orders.")
            + "\n"
            + (_("Files no longer in storage: {files}").format(files=", ".join(missing)) + "\n" if missing else ""),
        )
    out.seek(0)
    return out
