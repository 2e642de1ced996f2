"""The admin home's queue of open disputes, oldest first (``templates/admin/index.html``).

A tag rather than a custom admin site: the index stays Django's, and the queue is one query."""

from __future__ import annotations

from django import template

from milestones.models import Dispute, DisputeState

register = template.Library()

# The home shows the oldest few; the changelist (``DisputeAdmin``) has them all, in the same order.
HOME_QUEUE_LENGTH = 10


@register.simple_tag
def open_disputes() -> dict:
    queue = Dispute.objects.filter(state=DisputeState.OPEN).order_by("opened_at", "id")
    return {
        "count": queue.count(),
        "oldest": list(queue.select_related("milestone__order")[:HOME_QUEUE_LENGTH]),
    }
