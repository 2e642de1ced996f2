"""Issue 34, 19a and 19b: the admin home leads with the open disputes, oldest first, and
amounts in the dispute lists are written the one way (``format_money``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from milestones.models import Dispute
from milestones.models import MilestoneState as S
from tests.factories import OrderFactory, milestone_in

pytestmark = pytest.mark.django_db


def test_the_admin_home_shows_the_open_disputes_oldest_first_with_their_age(staff_client):
    young = Dispute.objects.get(milestone=milestone_in(S.DISPUTED, order=OrderFactory(title="Young order")))
    old = Dispute.objects.get(milestone=milestone_in(S.DISPUTED, order=OrderFactory(title="Old order")))
    Dispute.objects.filter(pk=old.pk).update(opened_at=timezone.now() - timedelta(days=9))
    milestone_in(S.RESOLVED, order=OrderFactory(title="Settled order"))

    html = staff_client.get(reverse("admin:index")).content.decode()

    queue = html[html.index('id="open-disputes"') : html.index("</table>", html.index('id="open-disputes"'))]
    assert "Open disputes (2)" in queue
    assert queue.index("Old order") < queue.index("Young order")
    assert "1\xa0week, 2\xa0days" in queue
    assert "Settled order" not in queue
    assert reverse("admin:milestones_dispute_change", args=[young.pk]) in queue
    assert reverse("admin:milestones_dispute_changelist") in html
    # The queue comes before the list of apps.
    assert html.index('id="open-disputes"') < html.index('class="app-milestones')


def test_the_dispute_queue_shows_the_age_first_and_amounts_in_the_one_money_format(staff_client):
    milestone_in(S.DISPUTED, amount="1234.50")
    response = staff_client.get(reverse("admin:milestones_dispute_changelist"))
    html = response.content.decode()
    assert "1,234.50\xa0USD" in html
    assert "US$" not in html
    headers = [str(header["text"]) for header in response.context["result_headers"]]
    assert headers[0].lower() == "open for"
