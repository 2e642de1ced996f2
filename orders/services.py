"""Writes on orders: opening one, its status, its messages, its activity log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import User
from gigs.models import Gig
from marketplace.contact import contact_found
from marketplace.errors import DuplicateRequest, InvalidInput, NotAllowed
from marketplace.text import clean_text
from marketplace.uploads import validate_deliverable_file
from notifications.models import NEW_MESSAGE
from notifications.services import notification_send
from orders.models import Activity, Order, OrderMessage, OrderMessageFile, OrderStatus, StaffFileRead
from webhooks.services import webhooks_emit_to


def activity_record(
    *,
    order: Order,
    actor: User | None,
    verb: str,
    milestone: Model | None = None,
    from_state: str = "",
    to_state: str = "",
    note: str = "",
) -> Activity:
    return Activity.objects.create(
        order=order,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        milestone=milestone,
        actor=actor,
        verb=verb,
        from_state=from_state,
        to_state=to_state,
        note=note,
    )


def order_create(
    *,
    buyer: User,
    gig: Gig | None,
    title: str,
    brief: str,
    currency: str | None = None,
    by_seller: bool = False,
    seller: User | None = None,
) -> Order:
    """Open an order with the gig's seller. A buyer cannot order from themself.
    ``by_seller``: the seller opens it with a custom offer, and the buyer is told.
    ``gig=None`` with ``seller``: an order from no gig (a buyer's request hired, issue 36)."""
    title = (title or "").strip()
    brief = (brief or "").strip()
    if gig is not None:
        seller = gig.seller
        currency = currency or str(gig.starting_price.currency)
    if seller is None or currency is None:
        raise InvalidInput(_("An order needs a seller and a currency."))
    if seller.pk == buyer.pk:
        raise NotAllowed(_("You cannot order your own gig."))
    if gig is not None and not gig.is_active:
        raise InvalidInput(_("This gig is no longer available."))
    if not title:
        raise InvalidInput(_("Give the order a title."), field="title")
    if len(title) > 200:
        raise InvalidInput(_("Keep the title to 200 characters or fewer."), field="title")
    if len(brief) > 10000:
        raise InvalidInput(_("Keep the brief to 10,000 characters or fewer."), field="brief")
    if currency not in settings.MARKETPLACE_CURRENCIES:
        raise InvalidInput(
            _("{currency} is not a currency of this marketplace.").format(currency=currency), field="currency"
        )
    with transaction.atomic():
        order = Order.objects.create(buyer=buyer, seller=seller, gig=gig, title=title, brief=brief, currency=currency)
        opener, other = (seller, buyer) if by_seller else (buyer, seller)
        activity_record(order=order, actor=opener, verb="order_opened", note=title)
        notification_send(
            recipient=other,
            event="order_opened",
            message=format_lazy(
                gettext_lazy("{name} opened an order with you: “{title}”."), name=opener.username, title=title
            ),
            url=order.get_absolute_url(),
        )
    return order


def order_refresh_status(*, order: Order, has_open_milestone: bool) -> None:
    """Active while any milestone is open (the caller, who changed one, says
    whether any is). Caller holds the order lock."""
    if order.status == OrderStatus.COMPLETED:
        return
    order.status = OrderStatus.ACTIVE if has_open_milestone else OrderStatus.AWAITING_MILESTONE
    # Always touch updated_at: the dashboards sort by the latest change.
    order.save(update_fields=["status", "updated_at"])


def order_message_send(
    *,
    order: Order,
    author: User,
    body: str,
    idempotency_key: str | None = None,
    files: Sequence[UploadedFile] = (),
) -> OrderMessage:
    """Post a message to the order's thread, with files under the deliverables' rules.

    ``idempotency_key`` comes from the form: sent twice, the second raises
    ``DuplicateRequest`` and adds nothing (the unique index settles a race).
    Contact details off the platform are kept as written and flagged
    (``contact_flag``): both parties see a notice, staff see the flag.
    """
    if not order.is_party(author):
        raise NotAllowed(_("Only the buyer and the seller can write in this order."))
    body, checked = message_checked(body, files)
    with transaction.atomic():
        message = message_store(
            OrderMessage,
            OrderMessageFile,
            checked,
            order=order,
            author=author,
            body=body,
            idempotency_key=idempotency_key,
        )
        Order.objects.filter(pk=order.pk).update(updated_at=timezone.now())
        other = order.seller if author.pk == order.buyer_id else order.buyer
        notification_send(
            recipient=other,
            event=NEW_MESSAGE,
            message=format_lazy(
                gettext_lazy("New message from {name} on “{title}”."), name=author.username, title=order.title
            ),
            url=order.get_absolute_url() + "#messages",
        )
        webhooks_emit_to(
            users=(order.buyer, order.seller),
            event_type="message.created",
            data={"message": message_data(message), "order": {"id": order.pk, "title": order.title}},
        )
    return message


def message_data(message: Any) -> dict[str, Any]:
    """A message as a webhook carries it (an order's or a conversation's): its words and its files' names."""
    return {
        "id": message.pk,
        "author": message.author.username,
        "body": message.body,
        "files": [f.original_name for f in message.files.all()],
        "created_at": message.created_at.isoformat(),
    }


MAX_MESSAGE_FILES = 5


def message_checked(body: str, files: Sequence[UploadedFile]) -> tuple[str, list[tuple[UploadedFile, str, str]]]:
    """A message's text and files as the rules take them (an order's or a
    conversation's): visible text up to 5,000 characters, files by ``check_attachments``."""
    # Line breaks count one each, as the message box counts them (``MessageBodyField``).
    body = clean_text(body).replace("\r\n", "\n")
    if not body:
        raise InvalidInput(_("Write a message first."), field="body")
    if len(body) > 5000:
        raise InvalidInput(_("Keep a message to 5,000 characters or fewer."), field="body")
    return body, check_attachments(files)


def message_store(
    message_model: type[Model],
    file_model: type[Model],
    checked: Sequence[tuple[UploadedFile, str, str]],
    *,
    body: str,
    idempotency_key: str | None,
    **fields: Any,
) -> Any:
    """Store a checked message and its files, once per form: the same
    ``idempotency_key`` again is ``DuplicateRequest`` (the unique index settles
    a race). Contact details off the platform are flagged, never changed.
    Caller holds its transaction."""
    if idempotency_key and message_model._default_manager.filter(idempotency_key=idempotency_key).exists():
        raise DuplicateRequest(_("This message was already sent."))
    try:
        with transaction.atomic():
            message = message_model._default_manager.create(
                body=body, idempotency_key=idempotency_key or None, contact_flag=contact_found(body), **fields
            )
    except IntegrityError:
        raise DuplicateRequest(_("This message was already sent.")) from None
    for upload, name, content_type in checked:
        file_model._default_manager.create(
            message=message, file=upload, original_name=name, content_type=content_type, size=upload.size or 0
        )
    return message


def check_attachments(files: Sequence[UploadedFile]) -> list[tuple[UploadedFile, str, str]]:
    """Each file with its safe name and type, or ``InvalidInput`` on ``attachment``."""
    files = [f for f in files if f]
    if len(files) > MAX_MESSAGE_FILES:
        raise InvalidInput(
            ngettext(
                "Attach at most {n} file to one message.", "Attach at most {n} files to one message.", MAX_MESSAGE_FILES
            ).format(n=MAX_MESSAGE_FILES),
            field="attachment",
        )
    checked = []
    for upload in files:
        try:
            name, content_type = validate_deliverable_file(upload)
        except InvalidInput as error:
            raise InvalidInput(error.message, field="attachment") from None
        checked.append((upload, name, content_type))
    return checked


def staff_file_read_record(
    *, reader: User, kind: str, file_name: str, order: Order | None = None, where: str = ""
) -> None:
    """Log that someone not party to a private file opened it (support staff)."""

    StaffFileRead.objects.create(reader=reader, order=order, kind=kind, file_name=file_name[:255], where=where[:300])


def orders_note_closed_account(user: User) -> int:
    """The account of ``user`` is closing: each of their orders not yet completed logs it, so the
    other party sees it in the thread and the order page (whose version counts activities) shows
    that nothing new can start. Inside the caller's transaction; returns how many orders."""
    orders = Order.objects.filter(Q(buyer=user) | Q(seller=user)).exclude(status=OrderStatus.COMPLETED)
    count = 0
    for order in orders:
        role = "seller" if order.seller_id == user.pk else "buyer"
        # The role, not the name: the account's name is erased with it.
        activity_record(order=order, actor=None, verb="account_closed", note=f"The {role} closed their account.")
        count += 1
    return count
