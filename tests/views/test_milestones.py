"""Milestone pages and actions, for every role: create and fund, the seller's
answer, delivery and review, disputes, downloads. A GET never acts; a second
submit shows the service's message and changes nothing; bad input gives a
field error and changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from milestones.models import Delivery, DeliveryFile, Dispute, DisputeStatement, Milestone, MilestoneState
from payments.models import Account, AccountKind, Transaction
from sandbox.models import SandboxOperation
from tests.factories import create_milestone, milestone_in, staff_login

S = MilestoneState
pytestmark = pytest.mark.django_db

# Enough of a PNG for its signature to be recognised.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x01" * 2 + b"\x08\x02\x00\x00\x00" + b"\x00" * 64


def text(response) -> str:
    return response.content.decode()


def state_of(milestone: Milestone) -> str:
    return Milestone.objects.values_list("state", flat=True).get(pk=milestone.pk)


def future(days: int = 5) -> str:
    return (timezone.localtime() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def terms(**overrides) -> dict:
    return {
        "title": "Landing page",
        "description": "Responsive landing page with hero and pricing.",
        "deadline": future(),
        "amount": "250.00",
        **overrides,
    }


# --- create and fund ----------------------------------------------------------------


def start_draft(client, order) -> str:
    response = client.post(reverse("milestone_new", args=[order.pk]), terms())
    assert response.status_code == 302, text(response)
    match = re.search(r"/milestones/pay/([0-9a-f]{32})/$", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def test_buyer_sees_the_form_with_the_order_currency(client, order, buyer):
    client.force_login(buyer)
    html = text(client.get(reverse("milestone_new", args=[order.pk])))
    for label in ("Title", "Description", "Deadline", "Amount"):
        assert f">{label}" in html
    assert 'type="datetime-local"' in html
    assert "In USD" in html
    assert ">Create milestone</button>" in html


def test_create_form_refused_to_seller_and_staff_404_to_outsider(client, order, seller, staff, outsider):
    url = reverse("milestone_new", args=[order.pk])
    for user in (seller, staff):
        staff_login(client, user)
        response = client.post(url, terms(), follow=True)
        assert "Only the buyer of an open order can create milestones." in text(response)
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url)["Location"].startswith(reverse("login"))
    assert not Milestone.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "This field is required."),
        ("description", "   ", "This field is required."),
        ("deadline", "2020-01-01T10:00", "The deadline must be in the future."),
        ("deadline", "next week", "Enter a valid date/time."),
        ("amount", "1.00", "The amount must be between"),
        ("amount", "10.001", "Use at most two decimal places."),
        ("amount", "ten", "Enter the amount as a number, e.g. 20 or 19.99."),
    ],
)
def test_bad_terms_are_field_errors_and_nothing_is_charged(client, order, buyer, field, value, message):
    client.force_login(buyer)
    response = client.post(reverse("milestone_new", args=[order.pk]), terms(**{field: value}))
    assert response.status_code == 200
    html = text(response)
    error = re.search(rf'<p class="field-error" id="id_{field}_error">([^<]*)</p>', html)
    assert error and message in error.group(1), html[html.find("field-error") - 300 :][:800]
    assert not Milestone.objects.exists() and not SandboxOperation.objects.exists()


def test_pay_page_shows_amount_fee_and_total_and_never_asks_for_a_card(client, order, buyer):
    client.force_login(buyer)
    key = start_draft(client, order)
    html = text(client.get(reverse("milestone_pay", args=[order.pk, key])))
    assert "250.00\u00a0USD" in html
    from payments.fees import buyer_service_fee

    fee = buyer_service_fee(Money("250.00", "USD"))
    assert f"{fee.amount}\u00a0USD" in html
    assert f"{(Money('250.00', 'USD') + fee).amount}\u00a0USD" in html
    assert ">Pay by card</button>" in html
    assert "Card number" not in html and "card_number" not in html, "the card is typed on the provider's page"
    assert "Pay from balance" not in html  # an empty balance does not cover it
    assert not Milestone.objects.exists()


def test_pay_by_card_goes_through_the_hosted_checkout_and_funds_once(client, order, buyer, audit):
    client.force_login(buyer)
    key = start_draft(client, order)
    url = reverse("milestone_pay", args=[order.pk, key])
    response = client.post(url, {"method": "card"})
    milestone = Milestone.objects.get()
    assert milestone.state == S.AWAITING_PAYMENT and milestone.funding_key == key
    assert not Transaction.objects.exists(), "nothing is funded before the provider confirms"
    checkout_url = response["Location"]
    assert checkout_url.startswith("/sandbox/checkout/cs_sandbox_")

    page = text(client.get(checkout_url))
    assert "Sandbox checkout" in page and ">Card number" in page and ">Pay</button>" in page
    assert "4242424242424242" in page and "4000000000000002" in page

    # The order page shows it unpaid, with "Pay now", and counts it nowhere.
    order_html = text(client.get(reverse("order_detail", args=[order.pk])))
    assert "Awaiting payment" in order_html and ">Pay now</button>" in order_html

    declined = client.post(checkout_url, {"card_number": "4000 0000 0000 0002"})
    assert declined.status_code == 400 and "Your card was declined." in text(declined)
    assert state_of(milestone) == S.AWAITING_PAYMENT and not Transaction.objects.exists()
    empty = client.post(checkout_url, {"card_number": ""})
    assert empty.status_code == 400 and 'id="id_card_number_error"' in text(empty)

    paid = client.post(checkout_url, {"card_number": "4242 4242 4242 4242"})
    back = paid["Location"]
    assert back.startswith(f"http://testserver/milestones/{milestone.pk}/checkout/return/?session_id=cs_sandbox_")
    landed = client.get(back, follow=True)
    assert "is funded" in text(landed)
    assert state_of(milestone) == S.AWAITING_ACCEPTANCE
    charges = SandboxOperation.objects.filter(kind="charge", succeeded=True).count()
    assert charges == 1

    # The same form again, the return URL again, the provider's page again: nothing more.
    replay = client.post(url, {"method": "card"}, follow=True)
    assert "This milestone was already created and paid for." in text(replay)
    client.get(back)
    assert client.get(checkout_url)["Location"] == back  # the provider's page knows it is paid
    assert Milestone.objects.count() == 1
    assert SandboxOperation.objects.filter(kind="charge", succeeded=True).count() == charges
    assert Transaction.objects.filter(kind="fund").count() == 1
    audit()


def test_leaving_the_checkout_keeps_the_milestone_unpaid_and_pay_now_returns_to_it(client, order, buyer):
    client.force_login(buyer)
    key = start_draft(client, order)
    checkout_url = client.post(reverse("milestone_pay", args=[order.pk, key]), {"method": "card"})["Location"]
    milestone = Milestone.objects.get()
    cancelled = client.get(reverse("milestone_checkout_return", args=[milestone.pk]) + "?cancelled=1", follow=True)
    assert "nothing was charged" in text(cancelled)
    assert state_of(milestone) == S.AWAITING_PAYMENT
    again = client.post(reverse("milestone_checkout", args=[milestone.pk]))
    assert again["Location"] == checkout_url, "the same session, not a second one"


def test_an_unpaid_milestone_can_be_cancelled_with_nothing_to_refund(client, order, buyer, audit):
    milestone = create_milestone(order, pay=False)
    client.force_login(buyer)
    response = client.post(reverse("milestone_cancel", args=[milestone.pk]), {"refund_to": "balance"})
    assert response.status_code == 302
    assert state_of(milestone) == S.CANCELLED
    assert not Transaction.objects.exists()
    from payments.models import Checkout

    assert Checkout.objects.get(milestone=milestone).status == "cancelled"
    audit()


def test_pay_from_balance_when_it_covers_the_total(client, order, buyer, audit):
    # A cancelled milestone's amount and fee go back to the buyer's balance.
    from milestones.services.lifecycle import milestone_cancel

    milestone_cancel(milestone=create_milestone(order, amount="500.00"), actor=buyer)
    client.force_login(buyer)
    key = start_draft(client, order)
    url = reverse("milestone_pay", args=[order.pk, key])
    assert "Pay from balance" in text(client.get(url))
    before = Account.objects.get(kind=AccountKind.BUYER_BALANCE, user=buyer).cached_balance
    client.post(url, {"method": "balance"})
    milestone = Milestone.objects.get(funding_key=key)
    after = Account.objects.get(kind=AccountKind.BUYER_BALANCE, user=buyer).cached_balance
    assert before - after == milestone.total_charged
    audit()


def test_pay_page_without_a_draft_sends_back_to_the_form(client, order, buyer):
    client.force_login(buyer)
    response = client.get(reverse("milestone_pay", args=[order.pk, "0" * 32]), follow=True)
    assert "This payment form has expired" in text(response)


def test_another_users_pay_page_is_404(client, order, outsider):
    client.force_login(outsider)
    assert client.get(reverse("milestone_pay", args=[order.pk, "0" * 32])).status_code == 404


# --- one-click actions ----------------------------------------------------------------

ONE_CLICK = [
    # url name, state before, who acts, state after
    ("milestone_accept", S.AWAITING_ACCEPTANCE, "seller", S.IN_PROGRESS),
]


@pytest.mark.parametrize(("name", "before", "role", "after"), ONE_CLICK)
def test_one_click_action_by_its_party_and_a_second_click(client, order, name, before, role, after, audit):
    milestone = milestone_in(before, order=order)
    url = reverse(name, args=[milestone.pk])
    client.force_login(getattr(order, role))
    response = client.post(url)
    assert response["Location"].endswith(f"{order.get_absolute_url()}#milestone-{milestone.pk}")
    assert state_of(milestone) == after
    transactions = Transaction.objects.count()
    second = client.post(url, follow=True)
    assert "cannot be" in text(second) and "Nothing was changed" in text(second)
    assert state_of(milestone) == after
    assert Transaction.objects.count() == transactions
    audit()


@pytest.mark.parametrize(("name", "before", "role", "after"), ONE_CLICK)
def test_one_click_action_refused_to_others(client, order, staff, outsider, name, before, role, after):
    milestone = milestone_in(before, order=order)
    url = reverse(name, args=[milestone.pk])
    other = order.seller if role == "buyer" else order.buyer
    for user in (other, staff):
        staff_login(client, user)
        response = client.post(url, follow=True)
        assert "Only the" in text(response)
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    client.force_login(getattr(order, role))
    assert client.get(url).status_code == 405
    client.logout()
    assert client.post(url)["Location"].startswith(reverse("login"))
    assert state_of(milestone) == before


# --- actions with a form ---------------------------------------------------------------

FORM_ACTIONS = [
    # url name, state before, who acts, valid data, state after, the form's label
    ("milestone_decline", S.AWAITING_ACCEPTANCE, "seller", {"reason": "Fully booked"}, S.DECLINED, "Reason"),
    ("milestone_cancel", S.AWAITING_ACCEPTANCE, "buyer", {"refund_to": "balance"}, S.CANCELLED, "Refund to"),
    ("milestone_approve", S.IN_REVIEW, "buyer", {}, S.APPROVED, "Confirm"),
    ("milestone_submit", S.IN_PROGRESS, "seller", {"message": "Here it is"}, S.IN_REVIEW, "Files"),
    ("milestone_request_revision", S.IN_REVIEW, "buyer", {"feedback": "Bigger"}, S.REVISION_REQUESTED, "Feedback"),
    ("milestone_dispute", S.IN_PROGRESS, "buyer", {"reason": "Silence"}, S.DISPUTED, "Reason"),
    ("milestone_dispute", S.IN_REVIEW, "seller", {"reason": "Buyer vanished"}, S.DISPUTED, "Reason"),
]


@pytest.mark.parametrize(("name", "before", "role", "data", "after", "label"), FORM_ACTIONS)
def test_form_action_get_shows_form_post_acts_second_post_refused(
    client, order, name, before, role, data, after, label, audit
):
    milestone = milestone_in(before, order=order)
    url = reverse(name, args=[milestone.pk])
    client.force_login(getattr(order, role))
    page = client.get(url)
    assert page.status_code == 200 and f">{label}" in text(page)
    assert state_of(milestone) == before
    response = client.post(url, data)
    assert response.status_code == 302, text(response)
    assert state_of(milestone) == after
    second = client.post(url, data, follow=True)
    assert "Nothing was changed" in text(second) or "cannot" in text(second)
    assert state_of(milestone) == after
    audit()


@pytest.mark.parametrize(("name", "before", "role", "data", "after", "label"), FORM_ACTIONS)
def test_form_action_refused_to_others(client, order, staff, outsider, name, before, role, data, after, label):
    milestone = milestone_in(before, order=order)
    url = reverse(name, args=[milestone.pk])
    others = [staff]
    if name != "milestone_dispute":
        others.append(order.seller if role == "buyer" else order.buyer)
    for user in others:
        staff_login(client, user)
        shown = text(client.get(url, follow=True))  # no form offered
        assert "Nothing was changed" in shown or "Staff can view this order but not act" in shown
        assert "Only the" in text(client.post(url, data, follow=True))
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.post(url, data).status_code == 404
    client.logout()
    assert client.post(url, data)["Location"].startswith(reverse("login"))
    assert state_of(milestone) == before


@pytest.mark.parametrize(
    ("name", "before", "role", "data", "field"),
    [
        ("milestone_decline", S.AWAITING_ACCEPTANCE, "seller", {"reason": ""}, "reason"),
        ("milestone_request_revision", S.IN_REVIEW, "buyer", {"feedback": "  "}, "feedback"),
        ("milestone_dispute", S.IN_PROGRESS, "buyer", {"reason": ""}, "reason"),
        ("milestone_submit", S.IN_PROGRESS, "seller", {"message": ""}, "message"),
        ("milestone_submit", S.IN_PROGRESS, "seller", {"links": "not a url"}, "links"),
    ],
)
def test_form_action_bad_input_is_a_field_error(client, order, name, before, role, data, field):
    milestone = milestone_in(before, order=order)
    client.force_login(getattr(order, role))
    response = client.post(reverse(name, args=[milestone.pk]), data)
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in text(response)
    assert state_of(milestone) == before


# --- deliveries and files ------------------------------------------------------------------


def submit(client, milestone, files, **data):
    client.force_login(milestone.order.seller)
    data = {"message": "See files", **data, "files": files}
    return client.post(reverse("milestone_submit", args=[milestone.pk]), data)


def test_submit_with_several_files_and_links(client, order):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    files = [SimpleUploadedFile("notes.txt", b"hello\n"), SimpleUploadedFile("shot.png", PNG)]
    response = submit(client, milestone, files, links="https://example.com/a\nhttps://example.com/b")
    assert response.status_code == 302, text(response)
    delivery = Delivery.objects.get(milestone=milestone)
    assert delivery.links == ["https://example.com/a", "https://example.com/b"]
    assert sorted(f.original_name for f in delivery.files.all()) == ["notes.txt", "shot.png"]
    html = text(client.get(order.get_absolute_url()))
    for item in delivery.files.all():
        assert reverse("deliverable_download", args=[item.pk]) in html


def test_submit_form_accepts_several_files(client, order):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    client.force_login(order.seller)
    html = text(client.get(reverse("milestone_submit", args=[milestone.pk])))
    assert re.search(r'<input type="file" name="files"[^>]* multiple', html)
    assert 'enctype="multipart/form-data"' in html


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virus.exe", b"MZ\x90\x00", "is not an accepted file type"),
        ("fake.png", b"this is text, not an image", "does not contain what its .png extension says"),
        ("fake.pdf", PNG, "does not contain what its .pdf extension says"),
        ("binary.txt", b"\x00\x01\x02binary", "is not a text file"),
        ("empty.txt", b"", "empty"),
    ],
)
def test_bad_files_are_refused_on_the_files_field(client, order, name, content, message):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    response = submit(client, milestone, [SimpleUploadedFile(name, content)])
    assert response.status_code == 200
    error = re.search(r'id="id_files_error">([^<]*)<', text(response))
    assert error and message in error.group(1), text(response)[-3000:]
    assert state_of(milestone) == S.IN_PROGRESS and not Delivery.objects.exists()


def test_a_file_over_the_size_limit_is_refused(client, order, settings):
    settings.DELIVERABLE_MAX_FILE_SIZE = 1024
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    response = submit(client, milestone, [SimpleUploadedFile("big.txt", b"a" * 2048)])
    error = re.search(r'id="id_files_error">([^<]*)<', text(response))
    assert error and "the limit is 1.0\u00a0KB" in error.group(1)
    assert state_of(milestone) == S.IN_PROGRESS


def test_too_many_files_are_refused(client, order, settings):
    settings.DELIVERABLE_MAX_FILES = 2
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    files = [SimpleUploadedFile(f"n{i}.txt", b"x") for i in range(3)]
    response = submit(client, milestone, files)
    assert "Attach at most 2 files." in text(response)
    assert not Delivery.objects.exists()


def test_a_path_traversal_filename_is_stored_safely(client, order, settings):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    upload = SimpleUploadedFile("../../../etc/passwd.txt", b"root:x:0:0\n")
    assert submit(client, milestone, [upload]).status_code == 302
    item = DeliveryFile.objects.get()
    assert item.original_name == "passwd.txt"
    assert item.file.name.startswith(f"deliverables/{order.pk}/") and ".." not in item.file.name
    assert item.file.path.startswith(str(settings.MEDIA_ROOT))
    response = client.get(reverse("deliverable_download", args=[item.pk]))
    assert 'filename="passwd.txt"' in response["Content-Disposition"]


def test_download_is_an_attachment_for_parties_and_staff_only(client, order, staff, outsider):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    submit(client, milestone, [SimpleUploadedFile("report.txt", b"the report\n")])
    item = DeliveryFile.objects.get()
    url = reverse("deliverable_download", args=[item.pk])
    for user in (order.buyer, order.seller, staff):
        staff_login(client, user)
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert 'filename="report.txt"' in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response.streaming_content) == b"the report\n"
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 405
    client.logout()
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(order.buyer)
    assert client.get(reverse("deliverable_download", args=[item.pk + 1000])).status_code == 404


# --- disputes -----------------------------------------------------------------------------


def test_dispute_with_a_file_then_the_other_side_adds_theirs(client, order, staff, outsider):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    client.force_login(order.buyer)
    response = client.post(
        reverse("milestone_dispute", args=[milestone.pk]),
        {"reason": "Nothing delivered", "attachment": SimpleUploadedFile("chat.txt", b"log\n")},
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get(milestone=milestone)
    opening = DisputeStatement.objects.get(dispute=dispute)
    assert opening.attachment_name == "chat.txt"

    client.force_login(order.seller)
    html = text(client.get(order.get_absolute_url()))
    assert ">Add to dispute</button>" in html
    url = reverse("dispute_statement", args=[milestone.pk])
    assert ">Your side" in text(client.get(url))
    assert client.post(url, {"body": ""}).status_code == 200
    client.post(url, {"body": "I sent it by mail", "attachment": SimpleUploadedFile("proof.png", PNG)})
    statement = DisputeStatement.objects.get(dispute=dispute, author=order.seller)
    assert statement.attachment_name == "proof.png"

    file_url = reverse("dispute_attachment", args=[statement.pk])
    for user in (order.buyer, staff):
        staff_login(client, user)
        response = client.get(file_url)
        assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    client.force_login(outsider)
    assert client.get(file_url).status_code == 404
    staff_login(client, staff)
    # Staff who decide disputes write in the same thread (issue 34, 18); the admin page has their form.
    client.post(url, {"body": "staff"}, follow=True)
    assert DisputeStatement.objects.filter(dispute=dispute, author=staff).count() == 1
    client.force_login(outsider)
    assert client.post(url, {"body": "me too"}).status_code == 404
    assert DisputeStatement.objects.filter(dispute=dispute).count() == 3


def test_a_bad_dispute_file_is_a_field_error(client, order):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    client.force_login(order.buyer)
    response = client.post(
        reverse("milestone_dispute", args=[milestone.pk]),
        {"reason": "x", "attachment": SimpleUploadedFile("a.exe", b"MZ")},
    )
    assert 'id="id_attachment_error"' in text(response)
    assert state_of(milestone) == S.IN_PROGRESS


def test_statement_after_resolution_is_refused(client, order, staff):
    from milestones.services.disputes import dispute_resolve

    milestone = milestone_in(S.DISPUTED, order=order)
    dispute_resolve(dispute=milestone.dispute, actor=staff, outcome="release")
    client.force_login(order.seller)
    url = reverse("dispute_statement", args=[milestone.pk])
    assert "Nothing was changed" in text(client.get(url, follow=True))
    response = client.post(url, {"body": "late"}, follow=True)
    assert "This dispute is resolved" in text(response)
    assert DisputeStatement.objects.count() == 0


def test_the_same_statement_form_sent_twice_adds_one_statement(client, order):
    milestone = milestone_in(S.DISPUTED, order=order)
    client.force_login(order.seller)
    url = reverse("dispute_statement", args=[milestone.pk])
    token = re.search(r'name="token" value="([0-9a-f]+)"', text(client.get(url))).group(1)
    client.post(url, {"body": "My side", "token": token})
    response = client.post(url, {"body": "My side", "token": token}, follow=True)
    assert "This was already sent; nothing more was added." in text(response)
    assert DisputeStatement.objects.filter(dispute=milestone.dispute).count() == 1


def test_resubmitting_shows_what_the_buyer_asked_for(client, order):
    milestone = milestone_in(S.REVISION_REQUESTED, order=order)
    client.force_login(order.seller)
    html = text(client.get(reverse("milestone_submit", args=[milestone.pk])))
    assert "What the buyer asked to change" in html and "Bigger logo" in html


def test_statement_page_is_404_to_outsiders_and_asks_anonymous_to_log_in(client, order, outsider):
    milestone = milestone_in(S.DISPUTED, order=order)
    url = reverse("dispute_statement", args=[milestone.pk])
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.post(url, {"body": "me too"}).status_code == 404
    client.logout()
    assert client.post(url, {"body": "me too"})["Location"].startswith(reverse("login"))
    assert not DisputeStatement.objects.exists()


def test_the_buyers_dashboard_lists_unpaid_milestones_and_the_seller_does_not_see_them(client, order):
    milestone = create_milestone(order, title="Unpaid logo", pay=False)
    client.force_login(order.buyer)
    html = text(client.get(reverse("buyer_dashboard")))
    assert "Awaiting payment" in html and "Unpaid logo" in html
    client.force_login(order.seller)
    assert "Unpaid logo" not in text(client.get(reverse("seller_dashboard")))
    assert state_of(milestone) == S.AWAITING_PAYMENT


def test_the_profile_sets_where_refunds_go(client, buyer):
    client.force_login(buyer)
    page = text(client.get(reverse("profile")))
    assert "Refunds go to" in page and "The card I paid with" in page
    response = client.post(
        reverse("profile"),
        {
            "email": buyer.email,
            "bio": "",
            "withdrawal_method": buyer.withdrawal_method,
            "payout_account": buyer.payout_account,
            "refund_to": "card",
        },
    )
    assert response.status_code == 302
    buyer.refresh_from_db()
    assert buyer.refund_to == "card"
    bad = client.post(reverse("profile"), {"email": buyer.email, "withdrawal_method": "paypal", "refund_to": "cash"})
    assert bad.status_code == 200 and "refund_to" in bad.context["form"].errors
    buyer.refresh_from_db()
    assert buyer.refund_to == "card"


@pytest.mark.parametrize(
    ("name", "before", "words"),
    [
        (
            "milestone_approve",
            S.IN_REVIEW,
            "100.00\u00a0USD is released to bob_seller now; bob_seller receives 80.00\u00a0USD "
            "(100.00\u00a0USD less the 20.00\u00a0USD fee). This cannot be undone.",
        ),
        ("milestone_cancel", S.AWAITING_ACCEPTANCE, "105.50\u00a0USD (the amount and the service fee) comes back"),
        ("milestone_cancel", S.AWAITING_PAYMENT, "Nothing has been charged for this milestone"),
    ],
)
def test_money_moves_only_after_a_confirmation_that_says_where_it_goes(client, order, name, before, words, audit):
    """The order page's buttons keep their names; they open a page that says
    what happens to the money, and only its "Confirm" moves it."""
    milestone = milestone_in(before, order=order, amount="100.00")
    client.force_login(order.buyer)
    order_page = text(client.get(reverse("order_detail", args=[order.pk])))
    label = "Approve" if name == "milestone_approve" else "Cancel"
    assert f'action="{reverse(name, args=[milestone.pk])}"' in order_page and f">{label}</button>" in order_page
    ledger = Transaction.objects.count()
    page = text(client.get(reverse(name, args=[milestone.pk])))
    assert words in page and ">Confirm</button>" in page
    assert state_of(milestone) == before and Transaction.objects.count() == ledger
    client.post(reverse(name, args=[milestone.pk]), {})
    assert state_of(milestone) in (S.APPROVED, S.CANCELLED)
    audit()


def test_the_seller_asks_for_a_later_deadline_and_the_buyer_accepts_on_the_order_page(client, order, audit):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    client.force_login(order.seller)
    page = text(client.get(reverse("order_detail", args=[order.pk])))
    assert ">Request extension</button>" in page
    form = text(client.get(reverse("milestone_extension", args=[milestone.pk])))
    assert ">New deadline" in form and ">Reason" in form and ">Send request</button>" in form

    bad = client.post(reverse("milestone_extension", args=[milestone.pk]), {"new_deadline": future(1), "reason": ""})
    assert bad.status_code == 200 and 'id="id_reason_error"' in text(bad)
    new = (timezone.localtime(milestone.deadline) + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M")
    sent = client.post(reverse("milestone_extension", args=[milestone.pk]), {"new_deadline": new, "reason": "Fonts"})
    assert sent.status_code == 302
    seller_page = text(client.get(reverse("order_detail", args=[order.pk])))
    assert ">Withdraw request</button>" in seller_page and ">Request extension</button>" not in seller_page

    client.force_login(order.buyer)
    buyer_page = text(client.get(reverse("order_detail", args=[order.pk])))
    assert ">Accept extension</button>" in buyer_page and ">Decline extension</button>" in buyer_page
    from milestones.models import Proposal

    proposal = Proposal.objects.get()
    assert client.get(reverse("proposal_accept", args=[proposal.pk])).status_code == 405
    done = client.post(reverse("proposal_accept", args=[proposal.pk]), follow=True)
    assert f"You accepted the later deadline on “{milestone.title}”" in text(done)
    milestone.refresh_from_db()
    assert timezone.localtime(milestone.deadline).strftime("%Y-%m-%dT%H:%M") == new
    again = client.post(reverse("proposal_accept", args=[proposal.pk]), follow=True)
    assert "nothing was changed" in text(again)
    audit()
