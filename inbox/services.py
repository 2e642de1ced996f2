"""Writes of the inbox: opening a conversation about a gig, its messages,
and reading a conversation."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from gigs.models import Gig
from inbox.models import Inquiry, InquiryFile, InquiryMessage
from marketplace.errors import InvalidInput, NotAllowed
from notifications.models import NEW_MESSAGE, Notification
from notifications.services import notification_send
from orders.models import Order
from orders.services import message_checked, message_data, message_store
from webhooks.services import webhooks_emit_to


def inquiry_start(
    *,
    gig: Gig,
    buyer: User,
    body: str,
    idempotency_key: str | None = None,
    files: Sequence[UploadedFile] = (),
) -> InquiryMessage:
    """ "Contact seller": the buyer's first message about this gig, and with it
    the conversation, so no seller ever finds an empty one in their inbox. If
    the buyer already has a conversation about this gig, the message goes there.
    The message is checked before anything is written: a refused one creates
    nothing. Nobody contacts themself, or a paused gig."""
    if gig.seller_id == buyer.pk:
        raise NotAllowed(_("This is your own gig."))
    body, checked = message_checked(body, files)
    with transaction.atomic():
        inquiry = Inquiry.objects.filter(gig=gig, buyer=buyer).first()
        if inquiry is None:
            if not gig.is_active:
                raise InvalidInput(_("This gig is paused; its seller is not taking new requests now."))
            try:
                with transaction.atomic():
                    inquiry = Inquiry.objects.create(gig=gig, buyer=buyer, seller_id=gig.seller_id)
            except IntegrityError:
                # Two tabs at once: the other made it; this message joins it.
                inquiry = Inquiry.objects.get(gig=gig, buyer=buyer)
        # One transaction: a message refused here (the same form twice) leaves no conversation behind.
        return _message_add(inquiry=inquiry, author=buyer, body=body, checked=checked, idempotency_key=idempotency_key)


def inquiry_message_send(
    *,
    inquiry: Inquiry,
    author: User,
    body: str,
    idempotency_key: str | None = None,
    files: Sequence[UploadedFile] = (),
) -> InquiryMessage:
    """A message in a conversation about a gig, as in an order's: files under
    the deliverables' rules, contact details flagged (never changed), the
    other party notified; the same form twice adds one message."""
    if not inquiry.is_party(author):
        raise NotAllowed(_("Only the buyer and the seller can write in this conversation."))
    body, checked = message_checked(body, files)
    return _message_add(inquiry=inquiry, author=author, body=body, checked=checked, idempotency_key=idempotency_key)


def _message_add(
    *,
    inquiry: Inquiry,
    author: User,
    body: str,
    checked: Sequence[tuple[UploadedFile, str, str]],
    idempotency_key: str | None,
) -> InquiryMessage:
    """Store a checked message (``message_checked``) and tell the other party."""
    with transaction.atomic():
        # The inquiry's row only: its gig and both users are read, not locked (locking them would queue
        # the seller's every other write, and the gig's edits, behind this message).
        inquiry = (
            Inquiry.objects.select_for_update(of=("self",)).select_related("gig", "buyer", "seller").get(pk=inquiry.pk)
        )
        message = message_store(
            InquiryMessage,
            InquiryFile,
            checked,
            inquiry=inquiry,
            author=author,
            body=body,
            idempotency_key=idempotency_key,
        )
        inquiry.last_message_at = message.created_at
        inquiry.save(update_fields=["last_message_at"])
        other = inquiry.seller if author.pk == inquiry.buyer_id else inquiry.buyer
        notification_send(
            recipient=other,
            event=NEW_MESSAGE,
            message=format_lazy(
                gettext_lazy("New message from {name} about “{title}”."), name=author.username, title=inquiry.gig.title
            ),
            url=inquiry.get_absolute_url(),
        )
        webhooks_emit_to(
            users=(inquiry.buyer, inquiry.seller),
            event_type="message.created",
            data={"message": message_data(message), "inquiry": {"id": inquiry.pk, "gig_id": inquiry.gig_id}},
        )
    return message


def conversation_url(*, order: Order | None = None, inquiry: Inquiry | None = None) -> str:
    """Where a conversation's message notices point."""
    if order is not None:
        return order.get_absolute_url() + "#messages"
    assert inquiry is not None
    return inquiry.get_absolute_url()


def conversation_read(*, user, order: Order | None = None, inquiry: Inquiry | None = None) -> int:
    """``user`` has read the conversation: its message notices are read.
    The one write that opening a page makes; returns how many."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(
        recipient=user,
        event=NEW_MESSAGE,
        read_at__isnull=True,
        url=conversation_url(order=order, inquiry=inquiry),
    ).update(read_at=timezone.now())
