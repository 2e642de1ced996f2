"""Thin Celery tasks over marketplace services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from marketplace.models import Notification


@shared_task(acks_late=True)
def send_notification_email(notification_id: int) -> bool:
    """E-mail one notification once. Safe to run twice: the row lock and
    ``emailed_at`` make the second run a no-op."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .select_related("recipient")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if notification is None:
            return False
        if notification.recipient.email:
            link = f"{settings.SITE_URL}{notification.url}" if notification.url else settings.SITE_URL
            send_mail(
                subject=notification.message[:78],
                message=f"{notification.message}\n\n{link}\n",
                from_email=None,
                recipient_list=[notification.recipient.email],
            )
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at"])
    return True
