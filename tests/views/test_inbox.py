"""The inbox: "Contact seller" opens a conversation about a gig before any
order; /messages/ lists every conversation with what is unread; messages
carry files under the deliverables' rules, downloaded only by the parties;
contact details off the platform are kept as written, shown with a notice
to both parties and flagged for staff."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inbox.models import Inquiry, InquiryFile, InquiryMessage
from marketplace.contact import contact_found
from milestones.selectors import buyers_in_touch
from notifications.models import Notification
from orders.models import OrderMessage, OrderMessageFile
from tests.factories import GigFactory, OrderFactory, StaffFactory, UserFactory, staff_login

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def text(response) -> str:
    return response.content.decode()


def token_of(html: str) -> str:
    found = re.search(r'name="token" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def header_messages(html: str) -> int:
    found = re.search(r">Messages <span class=\"count\"><span class=\"visually-hidden\">\(</span>(\d+)<", html)
    return int(found.group(1)) if found else 0


@pytest.fixture
def gig():
    return GigFactory(seller=UserFactory(username="sam_seller"), title="Logo design")


def contact(client, gig, body: str = "A question before I order.") -> Inquiry:
    """ "Contact seller": the form for the first message, which opens the conversation."""
    url = reverse("inquiry_start", args=[gig.pk])
    form = client.get(url)
    assert form.status_code == 200
    response = client.post(url, {"body": body, "token": token_of(text(form))})
    assert response.status_code == 302
    inquiry = Inquiry.objects.get(gig=gig)
    assert response["Location"] == f"{inquiry.get_absolute_url()}#latest"
    return inquiry


def send(client, url: str, body: str, *, to: str = "", **files):
    """Write in the form of the page at ``url`` (posted to ``to``, or the page itself)."""
    token = token_of(text(client.get(url)))
    return client.post(to or url, {"body": body, "token": token, **files})


def say(client, order, body: str, **files):
    return send(client, order.get_absolute_url(), body, to=reverse("order_message", args=[order.pk]), **files)


def test_a_buyer_contacts_a_seller_from_a_gig_and_they_talk_before_ordering(client, gig):
    buyer = UserFactory(username="bea_buyer")
    client.force_login(buyer)
    assert "Contact seller" in text(client.get(reverse("gig_detail", args=[gig.pk])))
    inquiry = contact(client, gig, "Could you do three concepts in a week?")
    again = client.get(reverse("inquiry_start", args=[gig.pk]))
    assert again["Location"] == inquiry.get_absolute_url(), "the same conversation, not a second one"
    assert Notification.objects.filter(recipient=gig.seller, event="new_message", url=inquiry.get_absolute_url())

    client.force_login(gig.seller)
    home = text(client.get(reverse("home")))
    assert header_messages(home) == 1
    inbox = text(client.get(reverse("inbox")))
    assert "About “Logo design”" in inbox and "1 new" in inbox and "three concepts" in inbox
    assert "before ordering" in inbox
    thread = text(client.get(inquiry.get_absolute_url()))
    assert "Could you do three concepts in a week?" in thread and "Send a custom offer" in thread
    assert header_messages(text(client.get(reverse("home")))) == 0, "opening the conversation reads it"
    send(client, inquiry.get_absolute_url(), "Yes: three concepts, then two rounds of changes.")
    # The seller may now send this buyer a custom offer.
    assert buyer in buyers_in_touch(gig.seller)

    client.force_login(buyer)
    assert header_messages(text(client.get(reverse("home")))) == 1
    assert "two rounds of changes" in text(client.get(inquiry.get_absolute_url()))


def test_nobody_contacts_themself_or_a_paused_gig(client, gig):
    client.force_login(gig.seller)
    response = client.post(reverse("inquiry_start", args=[gig.pk]), follow=True)
    assert "This is your own gig." in text(response) and not Inquiry.objects.exists()
    gig.paused_at = gig.created_at
    gig.is_active = False
    gig.save()
    client.force_login(UserFactory())
    response = client.post(reverse("inquiry_start", args=[gig.pk]), follow=True)
    assert response.status_code in (200, 404)
    assert not Inquiry.objects.exists()


def test_an_attachment_is_downloaded_by_the_other_party_and_refused_to_an_outsider(client, gig):
    buyer = UserFactory(username="bea_buyer")
    client.force_login(buyer)
    inquiry = contact(client, gig)
    send(client, inquiry.get_absolute_url(), "My sketch", attachment=SimpleUploadedFile("sketch.pdf", PDF))
    stored = InquiryFile.objects.get()
    assert stored.original_name == "sketch.pdf" and stored.size == len(PDF)

    client.force_login(gig.seller)
    assert reverse("inquiry_file", args=[stored.pk]) in text(client.get(inquiry.get_absolute_url()))
    download = client.get(reverse("inquiry_file", args=[stored.pk]))
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert b"".join(download.streaming_content) == PDF
    client.force_login(UserFactory(username="eve"))
    assert client.get(reverse("inquiry_file", args=[stored.pk])).status_code == 404
    assert client.get(inquiry.get_absolute_url()).status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("evil.exe", b"MZ\x90\x00", "is not an accepted file type"),
        ("fake.pdf", b"not a pdf at all", "does not contain what its .pdf extension says"),
        ("empty.txt", b"", "is empty"),
    ],
)
def test_a_bad_attachment_is_refused_and_nothing_is_sent(client, gig, name, content, message):
    client.force_login(UserFactory(username="bea_buyer"))
    url = reverse("inquiry_start", args=[gig.pk])
    response = send(client, url, "See attached", attachment=SimpleUploadedFile(name, content))
    assert response.status_code == 400 and message in text(response)
    assert "See attached</textarea>" in text(response), "the text is kept"
    assert not Inquiry.objects.exists(), "no conversation without its first message"
    assert not InquiryMessage.objects.exists() and not InquiryFile.objects.exists()


def test_order_messages_carry_files_for_the_parties_only(client):
    order = OrderFactory()
    client.force_login(order.buyer)
    say(client, order, "The brief", attachment=SimpleUploadedFile("brief.pdf", PDF))
    stored = OrderMessageFile.objects.get()
    client.force_login(order.seller)
    page = text(client.get(order.get_absolute_url()))
    assert reverse("message_file", args=[stored.pk]) in page and "brief.pdf" in page
    assert client.get(reverse("message_file", args=[stored.pk])).status_code == 200
    client.force_login(UserFactory(username="eve"))
    assert client.get(reverse("message_file", args=[stored.pk])).status_code == 404
    # The order's conversation is in the inbox too.
    client.force_login(order.seller)
    assert order.title in text(client.get(reverse("inbox")))


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("Email me at jo.smith+work@example.co.uk instead", "an e-mail address"),
        ("Call me on +44 20 7946 0958 tonight", "a phone number"),
        ("my number is 555-123-4567", "a phone number"),
        ("Let's move this to WhatsApp", "an outside messenger"),
        ("ping me on t.me/jo_designs", "an outside messenger"),
        ("find me on telegram", "an outside messenger"),
        ("add me @jo.designs", "an outside messenger"),
    ],
)
def test_contact_details_are_found(body, what):
    assert contact_found(body) == what


@pytest.mark.parametrize(
    "body",
    [
        "The budget is 1500 USD, or 1,250.00 if we drop the icons.",
        "Deliver by 12/05/2026, please.",
        "Version 2.0.1 fixes milestone 3.",
        "Three concepts in 7 days, then 2 rounds.",
        "",
    ],
)
def test_ordinary_words_are_not_taken_for_contact_details(body):
    assert contact_found(body) == ""


def test_a_message_with_contact_details_is_kept_shown_with_a_notice_to_both_and_flagged(client):
    order = OrderFactory()
    body = "Easier on WhatsApp: +44 20 7946 0958"
    client.force_login(order.buyer)
    say(client, order, body)
    message = OrderMessage.objects.get()
    assert message.body == body, "never silently changed"
    assert message.contact_flag == "a phone number"
    for user in (order.buyer, order.seller):
        client.force_login(user)
        page = text(client.get(order.get_absolute_url()))
        assert "Keep the conversation here: this message contains a phone number." in page

    staff = StaffFactory()
    staff_login(client, staff)
    flagged = text(client.get("/admin/orders/ordermessage/?flagged=yes"))
    assert "Easier on WhatsApp" in flagged
    assert "Easier on WhatsApp" not in text(client.get("/admin/orders/ordermessage/?flagged=no"))


def test_a_message_of_only_invisible_characters_is_refused(client):
    order = OrderFactory()
    client.force_login(order.buyer)
    response = say(client, order, "\u200b\u200b\u200d ")
    assert response.status_code == 302
    assert "Write a message first." in text(client.get(response["Location"]))
    assert not OrderMessage.objects.exists()


def test_the_inbox_shows_only_unread_when_asked(client):
    order = OrderFactory(title="Shop redesign")
    quiet = OrderFactory(buyer=order.buyer, title="Quiet order")
    client.force_login(order.seller)
    say(client, order, "Started on the wireframes.")
    client.force_login(order.buyer)
    unread = text(client.get(reverse("inbox") + "?show=unread"))
    assert "Shop redesign" in unread and quiet.title not in unread
    everything = text(client.get(reverse("inbox")))
    assert "Shop redesign" in everything and "Quiet order" in everything


# --- issue 34 -----------------------------------------------------------------------------


def test_contact_seller_creates_the_conversation_only_with_its_first_message(client, gig):
    """Issue 34: "Contact seller" made an empty conversation, in the seller's inbox as "No messages yet."."""
    client.force_login(UserFactory(username="bea_buyer"))
    url = reverse("inquiry_start", args=[gig.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="body"' in text(page)
    assert not Inquiry.objects.exists(), "opening the form opens no conversation"
    for empty in ("", "   ", "\u200b"):
        refused = client.post(url, {"body": empty, "token": token_of(text(page))})
        assert refused.status_code == 400
        assert re.search(r'class="field-error"[^>]*>(This field is required\.|Write a message first\.)<', text(refused))
    assert not Inquiry.objects.exists() and not InquiryMessage.objects.exists()
    assert not Notification.objects.filter(recipient=gig.seller).exists()

    inquiry = contact(client, gig, "Could you start next week?")
    assert list(inquiry.messages.values_list("body", flat=True)) == ["Could you start next week?"]
    client.force_login(gig.seller)
    inbox = text(client.get(reverse("inbox")))
    assert "Could you start next week?" in inbox and "No messages yet" not in inbox


def test_an_empty_conversation_opened_before_stays_out_of_the_inbox(client, gig):
    buyer = UserFactory(username="bea_buyer")
    Inquiry.objects.create(gig=gig, buyer=buyer, seller=gig.seller)  # as "Contact seller" used to
    for user in (gig.seller, buyer):
        client.force_login(user)
        assert "Logo design" not in text(client.get(reverse("inbox")))


def test_the_same_contact_form_sent_twice_makes_one_conversation_with_one_message(client, gig):
    client.force_login(UserFactory(username="bea_buyer"))
    url = reverse("inquiry_start", args=[gig.pk])
    token = token_of(text(client.get(url)))
    first = client.post(url, {"body": "Hello?", "token": token})
    second = client.post(url, {"body": "Hello?", "token": token})
    inquiry = Inquiry.objects.get()
    assert first["Location"] == f"{inquiry.get_absolute_url()}#latest"
    assert second["Location"] == inquiry.get_absolute_url()
    assert inquiry.messages.count() == 1


LONG = "A long question about the scope. " * 160  # 5,280 characters


@pytest.mark.parametrize("where", ["contact form", "conversation", "order page"])
def test_a_message_over_the_limit_is_refused_and_its_text_kept_whole(client, gig, where):
    """Issue 34: a message over the limit was refused and its text thrown away (the box cut a
    paste at 5,000 without a word; the order page kept only the first 5,000)."""
    buyer = UserFactory(username="bea_buyer")
    client.force_login(buyer)
    body = LONG + "THE END"
    if where == "order page":
        order = OrderFactory(buyer=buyer)
        response = say(client, order, body)
        page = text(client.get(response["Location"]))
        before = 0
    else:
        url = reverse("inquiry_start", args=[gig.pk])
        if where == "conversation":
            url = contact(client, gig).get_absolute_url()
        before = InquiryMessage.objects.count()
        response = send(client, url, body)
        assert response.status_code == 400
        page = text(response)
    assert "at most 5000 characters" in page
    assert body.strip() + "</textarea>" in page, "the whole text comes back, to be shortened"
    assert 'maxlength="5000"' not in page, "the box does not cut a longer paste without a word"
    assert InquiryMessage.objects.count() == before and not OrderMessage.objects.exists()


@pytest.mark.parametrize("where", ["conversation", "order page"])
def test_line_breaks_count_one_each_as_the_box_counts_them(client, gig, where):
    """A browser sends each line break as CR LF: a message the box counted at 5,000 was
    refused as 5,000-and-the-number-of-its-lines."""
    buyer = UserFactory(username="bea_buyer")
    client.force_login(buyer)
    body = "\r\n".join(["x" * 99] * 50)  # 4,950 letters and 49 line breaks: 4,999 in the box
    if where == "order page":
        say(client, OrderFactory(buyer=buyer), body)
        assert OrderMessage.objects.get().body == body.replace("\r\n", "\n")
    else:
        inquiry = contact(client, gig)
        assert send(client, inquiry.get_absolute_url(), body).status_code == 302
        assert inquiry.messages.last().body == body.replace("\r\n", "\n")
