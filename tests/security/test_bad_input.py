"""Bad input on every form: a clear error next to the field, and nothing changes.

"Nothing changes" is checked with the ``unchanged`` fixture: row counts of
every model, states, balances, users, and ``ledger_audit``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.errors import InvalidInput
from milestones.models import DeliveryFile, Milestone, MilestoneState
from milestones.services.creation import milestone_create
from milestones.services.lifecycle import milestone_accept
from payments.models import Account, Entry, Transaction
from payments.services import FundingSource
from tests.factories import OrderFactory, create_milestone, milestone_in
from tests.gig_editor import editor_data, editor_field
from tests.security.conftest import PDF, pdf

pytestmark = pytest.mark.django_db

HUGE = "x" * 100_000
XSS = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
FUTURE = (timezone.now() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
PAST = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


def assert_field_error(response, field: str, form: str = "form") -> None:
    assert response.status_code in (200, 400), f"expected the form again, got {response.status_code}"
    errors = response.context[form].errors
    assert field in errors, f"no error on {field!r}: {errors.as_data()}"
    html = response.content.decode()
    for message in errors[field]:
        assert escape(message) in html, f"the error {message!r} is not on the page"


def assert_escaped(html: str) -> None:
    assert "<script>alert(" not in html, "raw <script> on the page"
    assert "<img src=x onerror" not in html, "raw event handler on the page"
    assert "&lt;script&gt;alert(" in html, "the text is not shown (escaped) at all"


# --- milestone terms (the buyer's Create milestone form) ---------------------------------------------------


MILESTONE_OK = {"title": "Logo", "description": "Three concepts.", "deadline": FUTURE, "amount": "100.00"}
MILESTONE_BAD = [
    ("amount", {"amount": "0"}),
    ("amount", {"amount": "-5.00"}),
    ("amount", {"amount": "1000000000000"}),
    ("amount", {"amount": "100000.01"}),
    ("amount", {"amount": "10.001"}),
    ("amount", {"amount": "1e400"}),
    ("amount", {"amount": "NaN"}),
    ("amount", {"amount": "Infinity"}),
    ("amount", {"amount": "ten"}),
    ("deadline", {"deadline": PAST}),
    ("deadline", {"deadline": "not a date"}),
    ("title", {"title": ""}),
    ("title", {"title": "   "}),
    ("title", {"title": HUGE}),
    ("description", {"description": ""}),
    ("description", {"description": HUGE}),
]


@pytest.mark.parametrize(("field", "override"), MILESTONE_BAD, ids=[f"{f}={str(o)[:30]}" for f, o in MILESTONE_BAD])
def test_milestone_form_refuses(world, unchanged, field, override):
    client = world.client("buyer")
    with unchanged():
        response = client.post(reverse("milestone_new", args=[world.order.pk]), {**MILESTONE_OK, **override})
    assert_field_error(response, field)
    assert not client.session.get("milestone_drafts"), "a draft was kept for a refused form"


def test_milestone_in_another_currency_is_refused_by_the_service(world, unchanged):
    """The form has no currency: the order's is used. Whoever calls the service with another is refused."""
    with unchanged(), pytest.raises(InvalidInput) as error:
        milestone_create(
            order=world.order,
            actor=world.buyer,
            title="Logo",
            description="Three concepts.",
            deadline=timezone.now() + timedelta(days=3),
            amount=Money("100.00", "EUR"),
            source=FundingSource(method="balance"),
            idempotency_key="eur-attempt",
        )
    assert error.value.field == "amount"


def test_a_declined_card_on_the_hosted_checkout_moves_no_money(world):
    """The milestone waits for payment; the provider's page refuses the card
    and stays open; no ledger row, no escrow, nothing for the seller."""
    client = world.client("buyer")
    response = client.post(reverse("milestone_new", args=[world.order.pk]), MILESTONE_OK)
    assert response.status_code == 302
    checkout_page = client.post(response["Location"], {"method": "card"})["Location"]
    assert checkout_page.startswith("/sandbox/checkout/")
    milestone = Milestone.objects.get(title=MILESTONE_OK["title"])
    ledger = (Transaction.objects.count(), Entry.objects.count())
    response = client.post(checkout_page, {"card_number": "4000 0000 0000 0002"})
    assert response.status_code == 400
    assert "Your card was declined." in response.content.decode()
    milestone.refresh_from_db()
    assert milestone.state == "awaiting_payment"
    assert (Transaction.objects.count(), Entry.objects.count()) == ledger
    assert not Account.objects.filter(milestone=milestone).exists()


def test_milestone_text_is_escaped_on_the_order_page(world):
    client = world.client("buyer")
    response = client.post(
        reverse("milestone_new", args=[world.order.pk]), {**MILESTONE_OK, "title": XSS[:200], "description": XSS}
    )
    assert response.status_code == 302
    client.post(response["Location"], {"method": "card"})
    assert Milestone.objects.filter(title=XSS[:200]).exists()
    for role in ("buyer", "seller", "staff"):
        assert_escaped(world.client(role).get(reverse("order_detail", args=[world.order.pk])).content.decode())


# --- gigs, orders, messages, profile ------------------------------------------------------------------------

GIG_OK = {"title": "Logo design", "description": "Three concepts.", "starting_price": "50.00", "currency": "USD"}
GIG_OK["delivery_days"] = "5"
GIG_BAD = [
    ("starting_price", {"starting_price": "0"}),
    ("starting_price", {"starting_price": "-1"}),
    ("starting_price", {"starting_price": "99999999999999"}),
    ("starting_price", {"starting_price": "5.001"}),
    ("starting_price", {"starting_price": "NaN"}),
    ("currency", {"currency": "XBT"}),
    ("delivery_days", {"delivery_days": "0"}),
    ("delivery_days", {"delivery_days": "100000"}),
    ("title", {"title": ""}),
    ("title", {"title": HUGE}),
    ("description", {"description": HUGE}),
]


@pytest.mark.parametrize(("field", "override"), GIG_BAD, ids=[f"{f}={str(o)[:30]}" for f, o in GIG_BAD])
def test_gig_form_refuses(world, unchanged, field, override):
    with unchanged():
        response = world.client("seller").post(reverse("gig_create"), editor_data({**GIG_OK, **override}))
    assert_field_error(response, editor_field(field))


def test_gig_text_is_escaped(world):
    response = world.client("seller").post(
        reverse("gig_create"), editor_data({**GIG_OK, "title": XSS[:120], "description": XSS})
    )
    assert response.status_code == 302
    assert_escaped(Client().get(response["Location"]).content.decode())
    assert_escaped(Client().get(reverse("home")).content.decode())


@pytest.mark.parametrize(
    ("field", "override"),
    [("title", {"title": ""}), ("title", {"title": HUGE}), ("brief", {"brief": HUGE})],
    ids=["empty-title", "huge-title", "huge-brief"],
)
def test_order_start_refuses(world, unchanged, field, override):
    with unchanged():
        response = world.client("outsider").post(
            reverse("order_start", args=[world.gig.pk]), {"title": "Logo", "brief": "", **override}
        )
    assert_field_error(response, field)


def test_order_text_is_escaped(world):
    client = world.client("outsider")
    response = client.post(reverse("order_start", args=[world.gig.pk]), {"title": XSS[:200], "brief": XSS})
    assert response.status_code == 302
    assert_escaped(client.get(response["Location"]).content.decode())
    assert_escaped(client.get(reverse("buyer_dashboard")).content.decode())
    assert_escaped(world.client("seller").get(reverse("notifications")).content.decode())


@pytest.mark.parametrize("body", ["", "   ", HUGE], ids=["empty", "blank", "huge"])
def test_message_form_refuses(world, unchanged, body):
    client = world.client("buyer")
    with unchanged():
        response = client.post(reverse("order_message", args=[world.order.pk]), {"body": body})
    # Back on the order page (not the POST's URL), with the error said there.
    assert response.status_code == 302 and response["Location"].startswith(world.order.get_absolute_url())
    assert "Your message was not sent: Message: " in client.get(response["Location"]).content.decode()


def test_message_is_escaped(world):
    client = world.client("seller")
    response = client.post(reverse("order_message", args=[world.order.pk]), {"body": XSS})
    assert response.status_code == 302
    assert_escaped(world.client("buyer").get(reverse("order_detail", args=[world.order.pk])).content.decode())


@pytest.mark.parametrize(
    ("field", "override"),
    [
        ("bio", {"bio": HUGE}),
        ("payout_account", {"payout_account": HUGE}),
        ("time_zone", {"time_zone": "Mars/Olympus_Mons"}),
        ("withdrawal_method", {"withdrawal_method": "bitcoin"}),
    ],
    ids=["huge-bio", "huge-payout", "bad-zone", "bad-method"],
)
def test_profile_form_refuses(world, unchanged, field, override):
    data = {"email": "bob@example.com", "bio": "", "withdrawal_method": "paypal", "payout_account": "bob@pay.example"}
    with unchanged():
        response = world.client("seller").post(reverse("profile"), {**data, **override})
    assert_field_error(response, field)


def test_bio_is_escaped_on_the_gig_page(world):
    data = {
        "email": "bob@example.com",
        "bio": XSS,
        "withdrawal_method": "paypal",
        "payout_account": "x@y.example",
        "current_password": "correct-horse-battery",
    }
    assert world.client("seller").post(reverse("profile"), data).status_code == 302
    html = Client().get(reverse("gig_detail", args=[world.gig.pk])).content.decode()
    assert "<script>alert(" not in html and "onerror=alert" not in html.replace("&lt;img src=x onerror=alert", "")


# --- withdrawals --------------------------------------------------------------------------------------------


@pytest.fixture
def earning_seller(world):
    """The seller with 80.00 USD available (instant method, one approved milestone)."""
    world.seller.withdrawal_method = WithdrawalMethod.INSTANT
    world.seller.save()
    milestone_in(MilestoneState.APPROVED, order=OrderFactory(buyer=world.buyer, seller=world.seller))
    return world.seller


WITHDRAW_BAD = [
    ("amount", {"amount": "0"}),
    ("amount", {"amount": "-10"}),
    ("amount", {"amount": "10.001"}),
    ("amount", {"amount": "1000000000"}),
    ("amount", {"amount": "80.01"}),
    ("amount", {"amount": "NaN"}),
    ("currency", {"currency": "JPY"}),
    ("amount", {"currency": "EUR"}),
]


@pytest.mark.parametrize(("field", "override"), WITHDRAW_BAD, ids=[str(o) for _, o in WITHDRAW_BAD])
def test_withdraw_form_refuses(world, earning_seller, unchanged, field, override):
    with unchanged():
        response = world.client("seller").post(
            reverse("withdraw"), {"amount": "10.00", "currency": "USD", "key": "k1", **override}
        )
    assert_field_error(response, field)


# --- milestone actions with a text -------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "  ", HUGE], ids=["empty", "blank", "huge"])
def test_decline_needs_a_sane_reason(world, unchanged, reason):
    with unchanged():
        response = world.client("seller").post(
            reverse("milestone_decline", args=[world.awaiting.pk]), {"reason": reason}
        )
    assert_field_error(response, "reason")


@pytest.mark.parametrize(
    ("name", "field"),
    [("milestone_request_revision", "feedback"), ("milestone_dispute", "reason")],
)
@pytest.mark.parametrize("text", ["", "  ", HUGE], ids=["empty", "blank", "huge"])
def test_review_forms_need_sane_text(world, unchanged, name, field, text):
    with unchanged():
        response = world.client("buyer").post(reverse(name, args=[world.in_review.pk]), {field: text})
    assert_field_error(response, field)


@pytest.mark.parametrize("body", ["", HUGE], ids=["empty", "huge"])
def test_dispute_statement_needs_sane_text(world, unchanged, body):
    with unchanged():
        response = world.client("seller").post(reverse("dispute_statement", args=[world.disputed.pk]), {"body": body})
    assert_field_error(response, "body")


def test_review_texts_are_escaped(world):
    buyer, seller = world.client("buyer"), world.client("seller")
    assert (
        buyer.post(reverse("milestone_request_revision", args=[world.in_review.pk]), {"feedback": XSS}).status_code
        == 302
    )
    assert seller.post(reverse("milestone_dispute", args=[world.in_review.pk]), {"reason": XSS}).status_code == 302
    assert seller.post(reverse("dispute_statement", args=[world.disputed.pk]), {"body": XSS}).status_code == 302
    assert seller.post(reverse("milestone_decline", args=[world.awaiting.pk]), {"reason": XSS}).status_code == 302
    for order in (world.order, world.dispute_order):
        for client in (buyer, seller):
            assert_escaped(client.get(reverse("order_detail", args=[order.pk])).content.decode())


# --- uploads ---------------------------------------------------------------------------------------------------


@pytest.fixture
def in_progress(world):
    order = OrderFactory(buyer=world.buyer, seller=world.seller, gig=world.gig)
    milestone = create_milestone(order, title="Copy")
    return milestone_accept(milestone=milestone, actor=world.seller)


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


UPLOADS_BAD = {
    "too-large": lambda: [upload("big.pdf", PDF + b"0" * 2048, "application/pdf")],
    "too-many": lambda: [pdf(f"part{n}.pdf") for n in range(4)],
    "content-not-extension": lambda: [upload("invoice.pdf", b"MZ\x90\x00 this is a windows executable")],
    "png-that-is-html": lambda: [upload("photo.png", b"<html><script>alert(1)</script></html>", "image/png")],
    "not-allowed-extension": lambda: [upload("run.exe", b"MZ\x90\x00")],
    "empty-file": lambda: [upload("empty.txt", b"")],
    "binary-as-text": lambda: [upload("notes.txt", b"\x00\x01\x02 binary")],
}


@pytest.mark.parametrize("case", sorted(UPLOADS_BAD))
def test_submit_refuses_bad_files(world, in_progress, unchanged, settings, case):
    settings.DELIVERABLE_MAX_FILE_SIZE = 1024
    settings.DELIVERABLE_MAX_FILES = 3
    files = UPLOADS_BAD[case]()
    media_before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    with unchanged():
        response = world.client("seller").post(
            reverse("milestone_submit", args=[in_progress.pk]), {"message": "Here.", "links": "", "files": files}
        )
    assert_field_error(response, "files")
    assert sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()) == media_before, "a file was stored"


@pytest.mark.parametrize("case", ["too-large", "content-not-extension", "not-allowed-extension"])
def test_dispute_attachment_refuses_bad_files(world, unchanged, settings, case):
    settings.DELIVERABLE_MAX_FILE_SIZE = 1024
    attachment = UPLOADS_BAD[case]()[0]
    with unchanged():
        response = world.client("buyer").post(
            reverse("dispute_statement", args=[world.disputed.pk]), {"body": "See the file.", "attachment": attachment}
        )
    assert_field_error(response, "attachment")


@pytest.mark.parametrize(
    "name", ["../../../../etc/passwd.txt", "..\\..\\windows\\win.ini.txt", "/etc/cron.d/x.txt", "a\x00b.txt"]
)
def test_path_traversal_filename_never_reaches_the_disk(world, in_progress, settings, name):
    """The stored name is random and inside MEDIA_ROOT; the user's name is kept, stripped of any path, for download."""
    response = world.client("seller").post(
        reverse("milestone_submit", args=[in_progress.pk]),
        {"message": "", "links": "", "files": [upload(name, b"plain text", "text/plain")]},
    )
    if response.status_code != 302:  # refused outright is fine too, if nothing was stored
        assert_field_error(response, "files")
        assert not DeliveryFile.objects.filter(delivery__milestone=in_progress).exists()
        return
    item = DeliveryFile.objects.get(delivery__milestone=in_progress)
    stored = (settings.MEDIA_ROOT / item.file.name).resolve()
    assert stored.is_relative_to(settings.MEDIA_ROOT.resolve())
    assert ".." not in item.file.name and "etc" not in item.file.name and "win" not in item.file.name
    for separator in ("/", "\\", "\x00"):
        assert separator not in item.original_name
    download = world.client("buyer").get(reverse("deliverable_download", args=[item.pk]))
    assert download.status_code == 200
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment;") and ".." not in disposition and "/" not in disposition


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "ftp://x.example"])
def test_submit_refuses_non_web_links(world, in_progress, unchanged, link):
    with unchanged():
        response = world.client("seller").post(
            reverse("milestone_submit", args=[in_progress.pk]), {"message": "", "links": link}
        )
    assert_field_error(response, "links")


def test_submitted_message_and_file_name_are_escaped(world, in_progress):
    seller = world.client("seller")
    response = seller.post(
        reverse("milestone_submit", args=[in_progress.pk]),
        {"message": XSS, "links": "", "files": [upload("<script>alert(1)<script>.txt", b"text", "text/plain")]},
    )
    assert response.status_code == 302
    html = world.client("buyer").get(reverse("order_detail", args=[in_progress.order_id])).content.decode()
    assert_escaped(html)
    assert "<script>alert(1)<script>" not in html


# --- CSRF --------------------------------------------------------------------------------------------------------


def csrf_cases(world):
    """Every POST a user makes, with valid data, by the party who may make it."""
    order, review, awaiting, disputed = world.order, world.in_review, world.awaiting, world.disputed
    return [
        ("buyer", reverse("milestone_approve", args=[review.pk]), {}),
        ("buyer", reverse("milestone_request_revision", args=[review.pk]), {"feedback": "More."}),
        ("buyer", reverse("milestone_dispute", args=[review.pk]), {"reason": "Broken."}),
        ("buyer", reverse("milestone_cancel", args=[awaiting.pk]), {}),
        ("seller", reverse("milestone_accept", args=[awaiting.pk]), {}),
        ("seller", reverse("milestone_decline", args=[awaiting.pk]), {"reason": "Busy."}),
        ("seller", reverse("dispute_statement", args=[disputed.pk]), {"body": "My side."}),
        ("buyer", reverse("order_message", args=[order.pk]), {"body": "Hello"}),
        ("buyer", reverse("order_complete", args=[order.pk]), {}),
        ("buyer", reverse("milestone_new", args=[order.pk]), MILESTONE_OK),
        ("seller", reverse("gig_create"), editor_data(GIG_OK)),
        ("outsider", reverse("order_start", args=[world.gig.pk]), {"title": "Logo", "brief": ""}),
        ("seller", reverse("profile"), {"email": "new@example.com", "withdrawal_method": "paypal", "bio": ""}),
        ("seller", reverse("withdraw"), {"amount": "1.00", "currency": "USD", "key": "csrf"}),
        ("seller", reverse("withdrawal_method_choose"), {"withdrawal_method": "paypal"}),
        ("buyer", reverse("notifications_read"), {}),
        ("buyer", reverse("password_change"), {"old_password": "x", "new_password1": "y", "new_password2": "y"}),
        ("buyer", reverse("logout"), {}),
    ]


def test_every_post_without_a_csrf_token_is_refused(world, unchanged):
    cases = csrf_cases(world)
    for role, url, data in cases:
        client = world.client(role, enforce_csrf_checks=True)
        with unchanged():
            response = client.post(url, data)
        assert response.status_code == 403, f"{url} as {role} without a CSRF token: {response.status_code}"
    # The same client can still act with the token: the refusal was about the token, not the user.
    client = world.client("buyer", enforce_csrf_checks=True)
    client.get(reverse("order_detail", args=[world.order.pk]))
    token = client.cookies["csrftoken"].value
    response = client.post(reverse("milestone_approve", args=[world.in_review.pk]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Milestone.objects.get(pk=world.in_review.pk).state == MilestoneState.APPROVED


def test_login_and_signup_refuse_without_csrf_token(db, unchanged):
    client = Client(enforce_csrf_checks=True)
    with unchanged():
        assert client.post(reverse("login"), {"username": "a", "password": "b"}).status_code == 403
        data = {
            "username": "mallory",
            "email": "m@example.com",
            "password1": "Xy7!long-pass",
            "password2": "Xy7!long-pass",
        }
        assert client.post(reverse("signup"), data).status_code == 403


# --- accounts ---------------------------------------------------------------------------------------------------

SIGNUP_OK = {
    "username": "newcomer",
    "email": "newcomer@example.com",
    "password1": "Xy7!a-long-passphrase",
    "password2": "Xy7!a-long-passphrase",
}
SIGNUP_BAD = [
    ("username", {"username": ""}),
    ("username", {"username": HUGE}),
    ("username", {"username": "<script>alert(1)</script>"}),
    ("username", {"username": "bob_seller"}),
    ("email", {"email": "not-an-email"}),
    # An address already in use is not refused: the page must not tell (no enumeration; see
    # tests/views/test_accounts.py, the owner is e-mailed instead).
    ("password2", {"password2": "something-else-entirely"}),
    ("password1", {"password1": "password", "password2": "password"}),
    ("password1", {"password1": "12345678901", "password2": "12345678901"}),
]


@pytest.mark.parametrize(("field", "override"), SIGNUP_BAD, ids=[str(o)[:40] for _, o in SIGNUP_BAD])
def test_signup_refuses(world, unchanged, field, override):
    with unchanged():
        response = Client().post(reverse("signup"), {**SIGNUP_OK, **override})
    assert_field_error(response, field)


def test_password_change_needs_the_old_password(world, unchanged):
    data = {"oldpassword": "wrong", "password1": "Xy7!new-passphrase", "password2": "Xy7!new-passphrase"}
    with unchanged():
        response = world.client("buyer").post(reverse("account_change_password"), data)
    assert_field_error(response, "oldpassword")


def test_payout_account_is_escaped_on_the_earnings_page(world):
    data = {
        "email": "bob@example.com",
        "bio": "",
        "withdrawal_method": "paypal",
        "payout_account": XSS[:100],
        "current_password": "correct-horse-battery",
    }
    client = world.client("seller")
    refused = client.post(reverse("profile"), data)
    # Not an e-mail address: refused next to the field, and what was typed comes back escaped.
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "Enter the e-mail address of your PayPal account." in html
    assert "<script>alert(" not in html and "<img src=x onerror" not in html
    for url in (reverse("earnings"), reverse("profile")):
        html = client.get(url).content.decode()
        assert "<script>alert(" not in html and "<img src=x onerror" not in html, url
