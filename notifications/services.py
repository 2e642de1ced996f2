"""Writes on notices: sending one (in-app now, by e-mail after commit),
reading them, and the e-mail copy itself; and every other e-mail the site sends
(``outgoing_email_queue``): queued by the request, sent by a worker.

The lowest domain app: everyone calls it, it calls no one. A notice names its
recipient by the user row (``AUTH_USER_MODEL``); the e-mail task is published
by name after commit, so nothing here imports a task module.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone, translation
from django.utils.functional import Promise

from marketplace.bulk import insert_unnest
from marketplace.http import site_url
from marketplace.queue import enqueue_on_commit
from notifications.models import NEW_MESSAGE, Notification, OutgoingEmail
from notifications.times import clip_message, notice_text

logger = logging.getLogger(__name__)

EMAIL_TASK = "notifications.tasks.send_notification_email"
# Notices written together (a sweep's batch) are e-mailed by one task per this many:
# 30,000 earnings cleared used to queue 30,000 tasks ahead of the sweeps' next ticks.
EMAILS_TASK = "notifications.tasks.send_notification_emails"
EMAIL_BATCH = 100
# The e-mails that are not notices (account confirmation, password reset, security mails).
OUTGOING_TASK = "notifications.tasks.send_outgoing_email"

# The events that ask their recipient to do something (accept, answer, review,
# deliver, reply): the only ones e-mailed to a user who chose "Only those that
# need my action" (``User.email_notifications``).
ACTION_EVENTS = frozenset(
    {
        "milestone_created",
        "milestone_submitted",
        "revision_requested",
        "milestone_disputed",
        "milestone_late",
        "deadline_reminder",
        "offer_received",
        "changes_proposed",
        "extension_requested",
        "cancellation_requested",
        "cancellation_reminder",
        "review_reminder",
        "review_requested",
        "continue_reminder",
        "revision_purchase_requested",
        NEW_MESSAGE,
    }
)


# Security notices (where the money goes, who can log in) are e-mailed whatever the preference:
# the e-mail is how an owner learns that someone else made the change.
SECURITY_EVENTS = frozenset({"payout_changed"})


def wants_email(preference: str, event: str) -> bool:
    """Whether a recipient whose preference (``User.email_notifications``) is ``preference``
    asks for this event by e-mail."""
    if event in SECURITY_EVENTS:
        return True
    if preference == "none":
        return False
    return preference != "action" or event in ACTION_EVENTS


@dataclass(frozen=True)
class Notice:
    """One notice to send: to whom (the user's id), what happened (``event``), the words, and
    where it points."""

    recipient_id: int
    event: str
    message: str | Promise
    url: str = ""


def in_language(message: str | Promise, language: str | None) -> str:
    """The words of a notice in its recipient's language (``User.language``), not the sender's: a
    notice is built lazily (``format_lazy(gettext_lazy("…{title}…"), title=…)``, amounts as
    ``marketplace.money.Amount``) and made text here, once, under the recipient's language; its
    e-mail copy is that text. A plain string is kept as it is."""
    if not isinstance(message, Promise):
        return message
    with translation.override(language or settings.LANGUAGE_CODE):
        return str(message)


def notification_send(
    *, recipient: AbstractBaseUser, event: str, message: str | Promise, url: str = ""
) -> Notification:
    """Record an in-app notice, in the recipient's language; its e-mail copy goes out after commit.

    If the broker is down the e-mail waits in the database (``emailed_at`` is
    empty) and the notifications sweep sends it later.
    """
    text = in_language(message, getattr(recipient, "language", None))
    notification = Notification.objects.create(recipient=recipient, event=event, message=clip_message(text), url=url)
    enqueue_on_commit(EMAIL_TASK, notification.pk)
    return notification


def notifications_send(notices: Iterable[Notice]) -> list[int]:
    """``notification_send`` for many at once: one INSERT; after commit, one
    e-mail task per ``EMAIL_BATCH`` of them (on the ``email`` queue). Returns their ids."""
    ids = _insert_notifications(list(notices))
    for start in range(0, len(ids), EMAIL_BATCH):
        enqueue_on_commit(EMAILS_TASK, ids[start : start + EMAIL_BATCH])
    return ids


def _insert_notifications(notices: list[Notice]) -> list[int]:
    """The rows, in order, in one statement (``marketplace.bulk.insert_unnest``); the other columns
    are filled as ``bulk_create`` fills them (``created_at`` now, the e-mail columns' defaults).
    Lazy words are made text in each recipient's language (one query for the languages)."""
    if any(isinstance(n.message, Promise) for n in notices):
        languages = dict(
            get_user_model().objects.filter(pk__in={n.recipient_id for n in notices}).values_list("pk", "language")
        )
        notices = [
            Notice(n.recipient_id, n.event, in_language(n.message, languages.get(n.recipient_id)), n.url)
            for n in notices
        ]
    return insert_unnest(
        Notification,
        {
            "recipient_id": [n.recipient_id for n in notices],
            "event": [n.event for n in notices],
            "message": [clip_message(str(n.message)) for n in notices],
            "url": [n.url for n in notices],
        },
    )


def notifications_mark_read(*, user: AbstractBaseUser) -> int:
    """Mark every unread notice of ``user`` read; returns how many."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def notification_open(*, user: AbstractBaseUser, notification_id: int) -> Notification:
    """The user opens one of their notices: it is read from now on. Someone
    else's, or one that does not exist, is ``Notification.DoesNotExist``."""
    notification = Notification.objects.get(pk=notification_id, recipient=user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


def notification_email_send(*, notification_id: int) -> bool:
    """E-mail one notification once; returns False if nothing was to send
    (``notification_emails_send`` with a batch of one).

    Safe to repeat: the row lock (skip_locked: another worker has it in hand)
    and ``emailed_at`` make a second run a no-op. If the process dies after
    the mail left but before the commit, it is sent again: e-mail is
    at-least-once, never lost.
    """
    return notification_emails_send(notification_ids=[notification_id]) == 1


def notification_emails_send(*, notification_ids: Iterable[int]) -> int:
    """E-mail a batch of notifications in one transaction: one query locks the
    ones not e-mailed yet (``skip_locked``: another worker has the rest), one
    connection to the mail server sends them, one UPDATE marks them. Returns
    how many were dealt with. At-least-once:
    a process that dies after sending and before the commit sends the batch
    again; the e-mail sweep takes any the batch never reached."""
    with transaction.atomic():
        # Plain values, not models: a batch of 100 built a notice and its recipient (a whole user
        # row) per e-mail, and a backlog's worker sends one e-mail per earning it clears.
        rows = list(
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=list(notification_ids), emailed_at__isnull=True)
            .order_by("pk")
            .values_list(
                "pk",
                "event",
                "message",
                "url",
                "email_attempts",
                "recipient__email",
                "recipient__email_notifications",
                "recipient__time_zone",
                "recipient__language",
            )
        )
        if not rows:
            return 0
        messages = [
            _notice_email(message, url, address, zone, language)
            for _, event, message, url, _, address, preference, zone, language in rows
            if address and wants_email(preference, event)
        ]
        pks = [row[0] for row in rows]
        if messages:
            try:
                get_connection().send_messages(messages)
            except Exception as exc:  # noqa: BLE001 - any failure of the mail server is recorded, then retried
                attempts = notifications_email_failed(pks, max(row[4] for row in rows), exc)
                logger.warning(
                    "e-mail of %d notices failed (attempt %d): %s", len(pks), attempts, exc, extra={"notices": pks}
                )
                return 0
        Notification.objects.filter(pk__in=pks).update(emailed_at=timezone.now(), email_retry_at=None)
    return len(rows)


def _notice_email(message: str, url: str, address: str, zone_name: str, language: str = "") -> EmailMessage:
    """The e-mail copy of a notice, its times in the recipient's zone (``User.time_zone``) and
    language (``User.language``): the words were made text in that language when the notice was
    written (``in_language``); the dates around them are made here, under the same language."""
    with translation.override(language or settings.LANGUAGE_CODE):
        text = notice_text(message, reader_zone(zone_name))
        return EmailMessage(subject=text[:78], body=f"{text}\n\n{site_url(url)}\n", to=[address])


def reader_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone a user chose; UTC if none, or one this machine does not know (any more)."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def email_retry_delay(attempts: int) -> timedelta:
    """After the n-th failed try: EMAIL_RETRY_SECONDS, doubling each time, at most six hours."""
    return timedelta(seconds=min(settings.EMAIL_RETRY_SECONDS * 2 ** max(attempts - 1, 0), 6 * 3600))


def notifications_email_failed(pks: list[int], attempts_so_far: int, exc: Exception) -> int:
    """Record a failed send on each notice (in the caller's transaction, under its lock); returns the attempt."""
    attempts, error, retry_at = _failed_try(attempts_so_far, exc)
    Notification.objects.filter(pk__in=pks).update(
        email_attempts=attempts, email_last_error=error, email_retry_at=retry_at
    )
    return attempts


def _failed_try(attempts_so_far: int, exc: Exception) -> tuple[int, str, datetime]:
    """A failed send of any e-mail: the attempt it was, the mail server's answer, the next try."""
    attempts = attempts_so_far + 1
    return attempts, f"{exc.__class__.__name__}: {exc}"[:300], timezone.now() + email_retry_delay(attempts)


def notifications_email_retry(*, notification_ids: Iterable[int]) -> int:
    """Staff: send these unsent e-mails on the e-mail sweep's next tick, with a fresh count of tries."""
    return Notification.objects.filter(pk__in=list(notification_ids), emailed_at__isnull=True).update(
        email_attempts=0, email_retry_at=None, email_last_error=""
    )


def outgoing_email_queue(message: EmailMessage, *, kind: str = "") -> list[int]:
    """Queue ``message`` for a worker to send, one row per recipient; the task is published after
    the caller's transaction commits (at once outside one). The request that asks for an e-mail
    never talks to the mail server, so a server that refuses or hangs cannot slow or break it:
    the worker tries, and on failure the e-mail sweep tries again (``outgoing_email_send``)."""
    html = ""
    body = str(message.body)
    if getattr(message, "content_subtype", "plain") == "html":
        html, body = str(message.body), ""
    for content, mimetype in getattr(message, "alternatives", []) or []:
        if mimetype == "text/html":
            html = str(content)
    recipients = [address for address in message.to if address]
    rows = OutgoingEmail.objects.bulk_create(
        OutgoingEmail(
            to=address[:320],
            from_email=(message.from_email or settings.DEFAULT_FROM_EMAIL)[:320],
            subject=" ".join(str(message.subject).split())[:300],
            body=body,
            html_body=html,
            kind=kind[:80],
        )
        for address in recipients
    )
    pks = [row.pk for row in rows]
    for pk in pks:
        enqueue_on_commit(OUTGOING_TASK, pk)
    return pks


def outgoing_email_send(*, email_id: int) -> bool:
    """Send one queued e-mail once; False if it was sent already, is in another worker's hands
    (``skip_locked``) or failed (recorded: tried again after ``email_retry_delay``, at most
    EMAIL_MAX_ATTEMPTS times, as the notices' copies are). Once sent, its body is emptied."""
    with transaction.atomic():
        row = (
            OutgoingEmail.objects.select_for_update(skip_locked=True).filter(pk=email_id, sent_at__isnull=True).first()
        )
        if row is None:
            return False
        message = EmailMultiAlternatives(row.subject, row.body, row.from_email, [row.to])
        if row.html_body and row.body:
            message.attach_alternative(row.html_body, "text/html")
        elif row.html_body:
            message.body, message.content_subtype = row.html_body, "html"
        try:
            get_connection().send_messages([message])
        except Exception as exc:  # noqa: BLE001 - any failure of the mail server is recorded, then retried
            attempts, error, retry_at = _failed_try(row.attempts, exc)
            OutgoingEmail.objects.filter(pk=row.pk).update(attempts=attempts, last_error=error, retry_at=retry_at)
            logger.warning("e-mail %s (%s) failed (attempt %d): %s", row.pk, row.kind, attempts, exc)
            return False
        OutgoingEmail.objects.filter(pk=row.pk).update(
            sent_at=timezone.now(), retry_at=None, last_error="", body="", html_body=""
        )
    return True


def outgoing_emails_retry(*, email_ids: Iterable[int]) -> int:
    """Staff: send these unsent e-mails on the e-mail sweep's next tick, with a fresh count of tries."""
    return OutgoingEmail.objects.filter(pk__in=list(email_ids), sent_at__isnull=True).update(
        attempts=0, retry_at=None, last_error=""
    )
