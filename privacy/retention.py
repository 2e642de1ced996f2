"""Pruning what the site no longer needs (``prune_old_data``, hourly from beat).

* expired sessions (Django's own table; ``clearsessions`` does the same);
* login attempts and lockouts (django-axes) older than ``LOGIN_RECORD_RETENTION``;
* notices read more than ``READ_NOTICE_RETENTION`` ago (unread ones stay).

Each in batches of ``BATCH`` by primary key, so no statement holds a lock for long on a big table.
The ledger, orders, messages, the security log and every money record are never pruned.
"""

from __future__ import annotations

import logging
from datetime import datetime

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.utils import timezone

from notifications.models import Notification, OutgoingEmail

logger = logging.getLogger(__name__)

BATCH = 5000


def _delete_in_batches(queryset: QuerySet) -> int:
    total = 0
    while True:
        pks = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not pks:
            return total
        total += queryset.model._default_manager.filter(pk__in=pks).delete()[0]


def prune_old_data(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    logins_before = now - settings.LOGIN_RECORD_RETENTION
    done = {
        "sessions": _delete_in_batches(Session.objects.filter(expire_date__lt=now)),
        "login_attempts": _delete_in_batches(AccessAttempt.objects.filter(attempt_time__lt=logins_before)),
        "login_failures": _delete_in_batches(AccessFailureLog.objects.filter(attempt_time__lt=logins_before)),
        "login_log": _delete_in_batches(AccessLog.objects.filter(attempt_time__lt=logins_before)),
        "read_notices": _delete_in_batches(
            Notification.objects.filter(read_at__lt=now - settings.READ_NOTICE_RETENTION)
        ),
        # Sent account e-mails keep only who, what and when (the body went when it was sent).
        "sent_emails": _delete_in_batches(
            OutgoingEmail.objects.filter(sent_at__lt=now - settings.READ_NOTICE_RETENTION)
        ),
    }
    if any(done.values()):
        logger.info("pruned old data", extra=done)
    return done
