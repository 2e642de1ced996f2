"""Issue 34, 19a and 19b: the admin home leads with the open disputes, oldest first, and
amounts in the dispute lists are written the one way (``format_money``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from milestones.models import Dispute, DisputeState
from milestones.models import MilestoneState as S
from milestones.services.disputes import dispute_resolve
from tests.admin.conftest import change_url, resolve_url
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


def test_a_split_can_be_given_as_a_percentage_of_the_escrow(staff_client, disputed, audit):
    preview = staff_client.post(resolve_url(disputed, "split"), {"seller_amount": "40%"})
    html = preview.content.decode()
    assert "40.00\xa0USD" in html
    assert "40% of 100.00\xa0USD" in html
    assert 'value="40%"' in html

    response = staff_client.post(
        resolve_url(disputed, "split"), {"seller_amount": "40%", "note": "Two of five screens.", "confirm": "1"}
    )
    assert response.status_code == 302
    disputed.refresh_from_db()
    assert disputed.state == DisputeState.RESOLVED
    assert (disputed.seller_amount, disputed.buyer_amount) == (Money("40.00", "USD"), Money("60.00", "USD"))
    page = staff_client.get(change_url(disputed)).content.decode()
    assert "40.00\xa0USD" in page and "US$" not in page
    audit()


def test_an_empty_split_amount_is_an_error_not_a_silent_reload(staff_client, disputed):
    page = staff_client.get(change_url(disputed)).content.decode()
    split_form = page[page.index(resolve_url(disputed, "split")) :]
    # The browser does not swallow the empty field: the server answers it.
    assert "novalidate" in split_form[: split_form.index(">")]
    response = staff_client.post(resolve_url(disputed, "split"), {"seller_amount": "  "})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter the amount for the seller" in html
    assert "Nothing was changed." in html
    disputed.refresh_from_db()
    assert disputed.state == DisputeState.OPEN


def test_the_service_works_out_a_percentage_split_under_its_lock(staff, disputed, audit):
    dispute_resolve(dispute=disputed, actor=staff, outcome="split", seller_percent=Decimal("33.335"), note="n")
    disputed.refresh_from_db()
    assert disputed.seller_amount == Money("33.34", "USD")  # rounded once, half up
    assert disputed.buyer_amount == Money("66.66", "USD")
    audit()


def test_amounts_on_record_pages_and_their_inlines_are_written_the_one_way(staff_client):
    milestone = milestone_in(S.DISPUTED, amount="1234.50")
    for url in (
        reverse("admin:milestones_milestone_change", args=[milestone.pk]),
        reverse("admin:orders_order_change", args=[milestone.order_id]),
    ):
        html = staff_client.get(url).content.decode()
        assert "1,234.50\xa0USD" in html, url
        assert "US$" not in html, url
