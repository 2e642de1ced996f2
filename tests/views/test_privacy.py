"""Data rights: a user downloads their data as a zip, and deletes their account: the person is erased,
the ledger and the other party's records stay (the audit passes); old sessions, login records and read
notices are pruned."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import SecurityEvent, SecurityEventKind, User
from gigs.models import SavedGig
from gigs.services import gig_save
from milestones.models import MilestoneState as S
from milestones.services.lifecycle import milestone_approve, milestone_submit
from notifications.models import Notification
from orders.models import OrderMessage
from payments.models import Entry, Transaction
from privacy.export import user_data_zip
from privacy.retention import prune_old_data
from privacy.services import account_delete
from reviews.models import Review
from tests.factories import GigFactory, OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture
def finished_order():
    """Alice bought a logo from Bob: delivered with a file, approved, with a message each way."""
    order = OrderFactory(buyer=UserFactory(username="alice"), seller=UserFactory(username="bob"), title="Logo")
    milestone = milestone_in(S.IN_PROGRESS, order=order, amount="120.00", title="Concepts")
    milestone_submit(
        milestone=milestone,
        actor=order.seller,
        message="Three concepts.",
        files=[SimpleUploadedFile("../concepts.pdf", b"%PDF-1.4 concepts")],
    )
    milestone.refresh_from_db()
    milestone_approve(milestone=milestone, actor=order.buyer)
    OrderMessage.objects.create(order=order, author=order.buyer, body="Love the second one.")
    OrderMessage.objects.create(order=order, author=order.seller, body="Thanks, Alice!")
    return order


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert 'attachment; filename="marketplace-data-alice-' in response["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_a_user_downloads_their_data(client, finished_order):
    alice = finished_order.buyer
    Review.objects.create(
        order=finished_order, author=finished_order.seller, subject=alice, role="seller", rating=5, text="Hidden"
    )
    client.force_login(alice)
    page = client.get(reverse("your_data"))
    assert "Download my data" in page.content.decode()
    archive = _zip(client.post(reverse("data_download")))
    names = set(archive.namelist())
    assert {"profile.json", "orders.json", "messages.json", "money.json", "reviews.json", "README.txt"} <= names
    assert any(n.startswith("files/deliveries/") and n.endswith("-concepts.pdf") for n in names)
    assert all(".." not in n for n in names)
    profile = json.loads(archive.read("profile.json"))
    assert profile["account"]["username"] == "alice" and "password" not in profile["account"]
    orders = json.loads(archive.read("orders.json"))
    assert [m["title"] for m in orders["milestones"]] == ["Concepts"]
    messages = json.loads(archive.read("messages.json"))
    assert {m["body"] for m in messages["order_messages"]} == {"Love the second one.", "Thanks, Alice!"}
    money = json.loads(archive.read("money.json"))
    assert len(money["checkouts"]) == 1 and money["ledger_lines"] == [], "paid by card: no balance of her own"
    reviews = json.loads(archive.read("reviews.json"))
    assert reviews["received"] == [], "a review still double-blind is not theirs to read yet"
    assert SecurityEvent.objects.filter(user=alice, kind=SecurityEventKind.DATA_EXPORTED).count() == 1
    client.force_login(finished_order.seller)
    bobs = zipfile.ZipFile(io.BytesIO(b"".join(client.post(reverse("data_download")).streaming_content)))
    money = json.loads(bobs.read("money.json"))
    assert [line["account__kind"] for line in money["ledger_lines"]] == ["seller_pending"]
    assert len(money["earnings"]) == 1 and money["earnings"][0]["status"] == "pending"


def test_the_download_is_a_post_of_ones_own_data_only(client, finished_order):
    assert client.post(reverse("data_download")).status_code == 302, "log in first"
    client.force_login(UserFactory(username="eve"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(client.post(reverse("data_download")).streaming_content)))
    assert json.loads(archive.read("orders.json"))["orders"] == []
    assert client.get(reverse("data_download")).status_code == 405


def test_deleting_the_account_erases_the_person_and_keeps_the_records(client, finished_order, audit):
    alice, bob = finished_order.buyer, finished_order.seller
    Notification.objects.create(recipient=alice, event="x", message="A notice")
    transactions, entries = Transaction.objects.count(), Entry.objects.count()
    client.force_login(alice)
    response = client.post(reverse("account_delete"), {"password": PASSWORD, "confirm": "on"}, follow=True)
    assert "Your account is deleted." in response.content.decode()
    alice = User.objects.get(pk=alice.pk)
    assert alice.username == f"deleted-{alice.pk}" and alice.email == "" and not alice.is_active
    assert not alice.has_usable_password() and not alice.emailaddress_set.exists()
    assert not Notification.objects.filter(recipient=alice).exists()
    assert (Transaction.objects.count(), Entry.objects.count()) == (transactions, entries)
    assert client.get(reverse("dashboard")).status_code == 302, "logged out"
    assert not client.login(username="alice", password=PASSWORD)
    audit()
    # Bob's side of the order is whole, with the messages of the deleted account.
    client.force_login(bob)
    html = client.get(finished_order.get_absolute_url()).content.decode()
    assert "Love the second one." in html and f"deleted-{alice.pk}" in html
    assert SecurityEvent.objects.get(user=alice, kind=SecurityEventKind.ACCOUNT_DELETED).ip is None


def test_deleting_the_account_unlists_the_gigs_and_moves_the_sellers_dashboard_version():
    """The unlisting is one ``update()``, which skips ``auto_now``: it sets ``updated_at`` itself, or
    a dashboard rendered before would keep showing the gigs as active for its whole window."""
    from dashboards.selectors import dashboard_version
    from privacy.services import account_delete

    dora = UserFactory(username="dora")
    gig = GigFactory(seller=dora)
    before = dashboard_version(dora, "seller")
    account_delete(user=dora, password=PASSWORD)
    gig.refresh_from_db()
    assert not gig.is_active and gig.is_retired
    assert dashboard_version(dora, "seller") != before


def test_deletion_waits_for_money_and_work_in_progress(client, finished_order):
    bob = finished_order.seller  # his earning is still clearing
    client.force_login(bob)
    page = client.get(reverse("your_data")).content.decode()
    assert "96.00\u00a0USD of your earnings are still clearing" in page and "Delete my account" not in page
    refused = client.post(reverse("account_delete"), {"password": PASSWORD, "confirm": "on"})
    assert refused.status_code == 400 and "cannot be deleted yet" in refused.content.decode()
    working = milestone_in(S.IN_PROGRESS)
    client.force_login(working.order.buyer)
    assert "1 milestone(s) are not finished" in client.get(reverse("your_data")).content.decode()
    assert User.objects.get(pk=bob.pk).is_active


def test_a_wrong_password_or_no_confirmation_deletes_nothing(client):
    carol = UserFactory(username="carol")
    client.force_login(carol)
    wrong = client.post(reverse("account_delete"), {"password": "guess", "confirm": "on"})
    assert wrong.status_code == 400 and "That is not your password." in wrong.content.decode()
    unconfirmed = client.post(reverse("account_delete"), {"password": PASSWORD})
    assert unconfirmed.status_code == 400
    carol.refresh_from_db()
    assert carol.username == "carol" and carol.is_active


def test_the_hourly_prune_keeps_what_is_still_needed(settings):
    settings.LOGIN_RECORD_RETENTION = timedelta(days=30)
    settings.READ_NOTICE_RETENTION = timedelta(days=90)
    now = timezone.now()
    expired, live = SessionStore(), SessionStore()
    expired.create()
    live.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=now - timedelta(days=1))
    old_attempt = AccessAttempt.objects.create(username="x", ip_address="203.0.113.1", failures_since_start=3)
    AccessAttempt.objects.filter(pk=old_attempt.pk).update(attempt_time=now - timedelta(days=31))
    AccessAttempt.objects.create(username="y", ip_address="203.0.113.2", failures_since_start=1)
    user = UserFactory()
    old_read = Notification.objects.create(
        recipient=user, event="x", message="old, read", read_at=now - timedelta(days=91)
    )
    Notification.objects.create(recipient=user, event="x", message="recent, read", read_at=now - timedelta(days=1))
    unread = Notification.objects.create(recipient=user, event="x", message="old, unread")
    Notification.objects.filter(pk=unread.pk).update(created_at=now - timedelta(days=400))

    done = prune_old_data(now=now)
    assert done["sessions"] == 1 and done["login_attempts"] == 1 and done["read_notices"] == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["y"]
    assert not Notification.objects.filter(pk=old_read.pk).exists()
    assert Notification.objects.filter(recipient=user).count() == 2
    assert prune_old_data(now=now) == dict.fromkeys(done, 0), "a second run finds nothing"


# --- saved gigs ---------------------------------------------------------------------------------


def test_the_data_holds_the_gigs_saved_and_deleting_the_account_removes_them():
    """Their saves are theirs: in the zip, then gone with the account. Other people's saves of the
    closed account's gigs stay with those people (their "Saved" page says "No longer available")."""
    erin, fan = UserFactory(username="erin"), UserFactory()
    kept = GigFactory(title="Illustrated map")
    gig_save(gig=kept, user=erin)
    gig_save(gig=GigFactory(), user=fan)
    erins_gig = GigFactory(seller=erin)
    gig_save(gig=erins_gig, user=fan)
    saved = json.loads(zipfile.ZipFile(user_data_zip(erin)).read("saved_gigs.json"))
    assert [(row["gig_id"], row["gig__title"]) for row in saved] == [(kept.pk, "Illustrated map")]
    assert saved[0]["created_at"]
    account_delete(user=erin, password=PASSWORD)
    assert not SavedGig.objects.filter(user=erin).exists()
    assert SavedGig.objects.filter(user=fan).count() == 2
    assert SavedGig.objects.filter(gig=erins_gig).exists()


# --- buyer requests and proposals -----------------------------------------------------------------


def test_the_data_holds_requests_and_proposals_and_deleting_the_account_removes_them():
    """A buyer's requests and a seller's proposals are private to them: in the zip, then gone with
    the account; a seller waiting on the closed account's open request is told it was withdrawn."""
    from djmoney.money import Money

    from gigs.packages import StepInput
    from requests_board.models import BuyerRequest, RequestProposal
    from requests_board.services import ProposalInput, RequestInput, proposal_send, request_post

    erin, seller = UserFactory(username="erin"), UserFactory()
    mine = request_post(
        buyer=erin,
        data=RequestInput(title="A map", description="Of the town.", category="design", budget=Money("50", "USD")),
    )
    steps = (StepInput(title="Sketch", deliverables="A sketch", days=2, price=Money("50", "USD")),)
    proposal_send(seller=seller, buyer_request=mine, data=ProposalInput(message="Glad to.", steps=steps))
    theirs = request_post(
        buyer=seller,
        data=RequestInput(title="A logo", description="Round.", category="design", budget=Money("80", "USD")),
    )
    proposal_send(seller=erin, buyer_request=theirs, data=ProposalInput(message="I can.", steps=steps))
    data = json.loads(zipfile.ZipFile(user_data_zip(erin)).read("requests.json"))
    assert [row["title"] for row in data["requests"]] == ["A map"]
    assert [row["message"] for row in data["proposals"]] == ["I can."]
    assert [row["title"] for row in data["proposal_steps"]] == ["Sketch"]
    account_delete(user=erin, password=PASSWORD)
    assert not BuyerRequest.objects.filter(buyer=erin).exists()
    assert not RequestProposal.objects.filter(seller=erin).exists()
    assert BuyerRequest.objects.filter(pk=theirs.pk).exists()
    assert Notification.objects.filter(recipient=seller, event="proposal_declined").count() == 1


def test_a_requests_files_are_in_the_zip_and_deleted_from_storage_with_the_account(
    django_capture_on_commit_callbacks,
):
    """The files a buyer posted with their requests are theirs: in ``files/requests/`` and listed in
    ``requests.json``; deleting the account deletes the rows and, once it commits, the stored files.
    Another buyer's request files stay."""
    from django.core.files.storage import default_storage
    from djmoney.money import Money

    from requests_board.models import RequestAttachment
    from requests_board.services import RequestInput, request_post

    def post(buyer, name: str, content: bytes):
        return request_post(
            buyer=buyer,
            data=RequestInput(title="A map", description="Of the town.", category="design", budget=Money("50", "USD")),
            files=[SimpleUploadedFile(name, content)],
        )

    erin = UserFactory(username="erin")
    post(erin, "town.pdf", b"%PDF-1.4 the town")
    post(UserFactory(), "other.pdf", b"%PDF-1.4 another")
    mine, others = (
        RequestAttachment.objects.get(request__buyer=erin),
        RequestAttachment.objects.exclude(request__buyer=erin).get(),
    )
    archive = zipfile.ZipFile(user_data_zip(erin))
    data = json.loads(archive.read("requests.json"))
    assert [(row["original_name"], row["size"]) for row in data["request_files"]] == [("town.pdf", 17)]
    assert archive.read(f"files/requests/{mine.pk}-town.pdf") == b"%PDF-1.4 the town"
    assert not any("other.pdf" in name for name in archive.namelist())
    stored = mine.file.name
    with django_capture_on_commit_callbacks(execute=True):
        account_delete(user=erin, password=PASSWORD)
    assert not RequestAttachment.objects.filter(pk=mine.pk).exists()
    assert not default_storage.exists(stored)
    assert default_storage.exists(others.file.name)
