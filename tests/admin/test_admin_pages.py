"""What staff see: the dispute's whole story, the queue of open disputes,
changelists without N+1 queries, and records that cannot be edited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from milestones.models import Dispute, DisputeState, Milestone
from milestones.models import MilestoneState as S
from milestones.services.disputes import dispute_add_statement, milestone_open_dispute
from milestones.services.lifecycle import milestone_submit
from orders.services import order_message_send
from payments.models import Account, Earning, Entry, Transaction, Withdrawal
from payments.services import withdrawal_request
from sandbox.models import SandboxOperation
from tests.admin.conftest import change_url
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db


def story_dispute(order) -> Dispute:
    """A dispute with something in every part of the story."""
    milestone = milestone_in(S.REVISION_REQUESTED, order=order, title="Logo")
    milestone_submit(
        milestone=milestone,
        actor=order.seller,
        message="Second try, bigger logo.",
        files=[SimpleUploadedFile("logo-notes.txt", b"the logo, explained", content_type="text/plain")],
    )
    order_message_send(order=order, author=order.buyer, body="The colours are still wrong.")
    dispute = milestone_open_dispute(milestone=milestone, actor=order.buyer, reason="Colours ignored twice.")
    dispute_add_statement(
        dispute=dispute,
        actor=order.seller,
        body="The brief named no colours.",
        attachment=SimpleUploadedFile("brief.txt", b"no colours named", content_type="text/plain"),
    )
    return dispute


def test_the_dispute_page_tells_the_whole_story(staff_client, order):
    dispute = story_dispute(order)
    response = staff_client.get(change_url(dispute))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Logo",  # the milestone
        "100.00\u00a0USD",  # its amount and the escrow
        "Colours ignored twice.",  # the reason
        "The brief named no colours.",  # a statement
        "Second try, bigger logo.",  # a delivery
        "logo-notes.txt",  # its file
        "Bigger logo",  # the revision request (factory feedback)
        "The colours are still wrong.",  # an order message
        "dispute_statement",  # the activity log
        order.buyer.username,
        order.seller.username,
    ):
        assert text in html, text
    delivery_file = dispute.milestone.deliveries.order_by("-number").first().files.get()
    assert reverse("deliverable_download", args=[delivery_file.pk]) in html
    statement = dispute.statements.get()
    assert reverse("dispute_attachment", args=[statement.pk]) in html and "brief.txt" in html


def test_the_dispute_page_costs_the_same_queries_however_long_the_story(staff_client, order):
    dispute = story_dispute(order)
    # Once to warm the process's caches (content types, the first admin request in a worker), then measured.
    staff_client.get(change_url(dispute))
    with CaptureQueriesContext(connection) as short:
        staff_client.get(change_url(dispute))
    for n in range(5):
        order_message_send(order=order, author=order.seller, body=f"Reply {n}")
        dispute_add_statement(dispute=dispute, actor=order.buyer, body=f"More {n}")
    with CaptureQueriesContext(connection) as long:
        staff_client.get(change_url(dispute))
    assert len(long) == len(short)


def test_the_changelist_is_a_queue_of_open_disputes_oldest_first(staff_client):
    disputes = [Dispute.objects.get(milestone=milestone_in(S.DISPUTED)) for _ in range(3)]
    # Make the last one the oldest.
    Dispute.objects.filter(pk=disputes[2].pk).update(opened_at=timezone.now() - timedelta(days=9))
    resolved = Dispute.objects.get(milestone=milestone_in(S.RESOLVED))

    response = staff_client.get(reverse("admin:milestones_dispute_changelist"))
    shown = [d.pk for d in response.context["cl"].result_list]
    assert shown == [disputes[2].pk, disputes[0].pk, disputes[1].pk]
    assert resolved.pk not in shown

    response = staff_client.get(reverse("admin:milestones_dispute_changelist"), {"state": "resolved"})
    assert [d.pk for d in response.context["cl"].result_list] == [resolved.pk]
    response = staff_client.get(reverse("admin:milestones_dispute_changelist"), {"state": "all"})
    assert len(response.context["cl"].result_list) == 4
    response = staff_client.get(reverse("admin:milestones_dispute_changelist"), {"state": "all", "outcome": "refund"})
    assert [d.pk for d in response.context["cl"].result_list] == [resolved.pk]


@pytest.mark.parametrize("field", ["order title", "buyer", "seller", "reason"])
def test_disputes_can_be_searched(staff_client, field):
    buyer, seller = UserFactory(username="zoe_buyer"), UserFactory(username="yan_seller")
    order = OrderFactory(buyer=buyer, seller=seller, title="Quokka website")
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    wanted = milestone_open_dispute(milestone=milestone, actor=buyer, reason="Missed the xylophone page")
    milestone_in(S.DISPUTED)  # another one, that must not match
    term = {"order title": "Quokka", "buyer": "zoe_buyer", "seller": "yan_seller", "reason": "xylophone"}[field]
    response = staff_client.get(reverse("admin:milestones_dispute_changelist"), {"q": term})
    assert [d.pk for d in response.context["cl"].result_list] == [wanted.pk]


def test_a_milestone_in_dispute_links_to_its_resolution(staff_client, disputed):
    response = staff_client.get(reverse("admin:milestones_milestone_change", args=[disputed.milestone_id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert change_url(disputed) in html and "Resolve the dispute" in html


# --- read-only records -------------------------------------------------------


@pytest.fixture
def world(order):
    """A bit of everything the services write, so every admin has rows."""
    order.seller.withdrawal_method = WithdrawalMethod.INSTANT
    order.seller.save()
    milestone_in(S.APPROVED, order=order)
    milestone_in(S.DISPUTED, order=order)
    withdrawal_request(seller=order.seller, amount=Money("10.00", "USD"), key="w-1")
    return order


LEDGER_MODELS = [Account, Transaction, Entry, Earning, Withdrawal, SandboxOperation]
PROTECTED_MODELS = [*LEDGER_MODELS, Milestone, Dispute]


@pytest.mark.parametrize("model", PROTECTED_MODELS, ids=lambda m: m.__name__)
def test_ledger_and_money_records_cannot_be_added_changed_or_deleted_even_by_a_superuser(staff_client, world, model):
    obj = model.objects.first()
    assert obj is not None
    info = model._meta.app_label, model._meta.model_name
    before = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}

    assert staff_client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 403
    assert staff_client.post(reverse("admin:{}_{}_add".format(*info)), {}).status_code == 403
    change = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
    viewed = staff_client.get(change)
    assert viewed.status_code == 200  # viewing is allowed
    assert 'name="_save"' not in viewed.content.decode()
    assert staff_client.post(change, {"state": "resolved", "amount_0": "1", "balance": "999"}).status_code == 403
    delete = reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])
    assert staff_client.get(delete).status_code == 403
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403

    changelist = staff_client.get(reverse("admin:{}_{}_changelist".format(*info)))
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    bulk = staff_client.post(
        reverse("admin:{}_{}_changelist".format(*info)),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302, 403)

    fresh = model.objects.get(pk=obj.pk)
    assert {f.attname: getattr(fresh, f.attname) for f in model._meta.concrete_fields} == before


def test_orders_cannot_be_edited_or_deleted_from_the_admin(staff_client, world):
    url = reverse("admin:orders_order_change", args=[world.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Design" in html  # the milestone inline
    assert staff_client.post(url, {"status": "completed", "title": "Hacked"}).status_code == 403
    assert staff_client.post(reverse("admin:orders_order_delete", args=[world.pk]), {"post": "yes"}).status_code == 403
    world.refresh_from_db()
    assert world.title != "Hacked" and world.status != "completed"


def test_the_user_admin_shows_the_withdrawal_fields(staff_client, world):
    page = staff_client.get(reverse("admin:accounts_user_change", args=[world.seller.pk]))
    html = page.content.decode()
    assert 'name="withdrawal_method"' in html
    # Shown as kept, never edited here: a new account is checked and tokenized on the profile only.
    assert 'name="payout_account"' not in html and "•••• 5555" in html


def _changelist_query_counts(client) -> dict[str, int]:
    counts = {}
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"state": "all"} if model is Dispute else None)
        assert response.status_code == 200, url
        counts[model.__name__] = len(queries)
    return counts


def test_changelists_do_not_query_once_per_row(staff_client, world):
    few = _changelist_query_counts(staff_client)
    for _ in range(3):
        order = OrderFactory()
        milestone_in(S.APPROVED, order=order)
        milestone_in(S.RESOLVED, order=order)
        milestone_in(S.DISPUTED, order=order)
    many = _changelist_query_counts(staff_client)
    assert many == few
    assert set(few) >= {"Dispute", "Milestone", "Order", "Account", "Entry", "Transaction", "Earning", "Activity"}


def test_an_open_dispute_state_is_not_editable_from_its_page(staff_client, disputed):
    response = staff_client.post(change_url(disputed), {"state": "resolved", "outcome": "release"})
    assert response.status_code == 403
    disputed.refresh_from_db()
    assert disputed.state == DisputeState.OPEN


def test_buyer_requests_and_proposals_are_read_only_in_the_admin(staff_client):
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gigs.packages import StepInput
    from requests_board.models import BuyerRequest, RequestProposal
    from requests_board.services import ProposalInput, RequestInput, proposal_send, request_post
    from tests.factories import UserFactory

    wanted = request_post(
        buyer=UserFactory(),
        data=RequestInput(title="Jam labels", description="Three.", category="design", budget=Money("90", "USD")),
        files=[SimpleUploadedFile("flavours.txt", b"Plum, fig, quince.")],
    )
    # The request's files are listed read-only (name, type, size), with no link to the stored file.
    page = staff_client.get(reverse("admin:requests_board_buyerrequest_change", args=[wanted.pk])).content.decode()
    assert "flavours.txt" in page and "text/plain" in page
    assert settings.MEDIA_URL not in page and 'name="attachments-0-original_name"' not in page
    steps = (StepInput(title="Sketch", deliverables="Sketches", days=2, price=Money("90", "USD")),)
    proposal = proposal_send(
        seller=UserFactory(), buyer_request=wanted, data=ProposalInput(message="Yes.", steps=steps)
    )
    for model, row in ((BuyerRequest, wanted), (RequestProposal, proposal)):
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert (
            "Jam labels" in staff_client.get(reverse(f"{name}_changelist")).content.decode() or model is RequestProposal
        )
        assert staff_client.get(reverse(f"{name}_change", args=[row.pk])).status_code == 200
        assert staff_client.get(reverse(f"{name}_add")).status_code == 403
        assert staff_client.post(reverse(f"{name}_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert BuyerRequest.objects.filter(pk=wanted.pk).exists()
