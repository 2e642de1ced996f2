"""The order page: who may see it, what it shows, which buttons it offers,
its messages, completion, and a query count that does not grow with the order."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from milestones.actions import milestone_actions
from milestones.models import MilestoneState
from milestones.services.disputes import dispute_add_statement
from orders.models import Activity, OrderMessage, OrderStatus
from tests.factories import OrderFactory, OrderMessageFactory, create_milestone, milestone_in, staff_login

S = MilestoneState
pytestmark = pytest.mark.django_db


def page(client, user, order):
    staff_login(client, user)
    return client.get(reverse("order_detail", args=[order.pk]))


def text(response) -> str:
    return response.content.decode()


# --- who may see it --------------------------------------------------------------


def test_buyer_seller_and_staff_see_the_order(client, order, buyer, seller, staff):
    for user in (buyer, seller, staff):
        response = page(client, user, order)
        assert response.status_code == 200
        assert order.title in text(response)


def test_outsider_gets_404_and_anonymous_goes_to_login(client, order, outsider):
    assert page(client, outsider, order).status_code == 404
    client.logout()
    response = client.get(reverse("order_detail", args=[order.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_missing_order_is_404(client, buyer):
    client.force_login(buyer)
    assert client.get(reverse("order_detail", args=[999999])).status_code == 404


# --- what it shows ----------------------------------------------------------------


def test_milestones_show_state_amount_and_deadline_in_words(client, order, buyer):
    first = milestone_in(S.IN_PROGRESS, order=order, amount="120.00", title="Wireframes", days=3)
    second = create_milestone(order, amount="80.50", title="Build")
    html = text(page(client, buyer, order))
    assert f'id="milestone-{first.pk}"' in html
    assert f'data-milestone-state="{S.IN_PROGRESS}"' in html
    assert f'data-milestone-state="{S.AWAITING_ACCEPTANCE}"' in html
    assert "badge badge-in_progress" in html and "In progress" in html
    assert "120.00\u00a0USD" in html and "80.50\u00a0USD" in html
    assert "due in 2 days" in html or "due in 3 days" in html
    assert html.index(f'id="milestone-{first.pk}"') < html.index(f'id="milestone-{second.pk}"')


def test_a_late_milestone_says_by_how_much(client, order, seller):
    milestone = milestone_in(S.IN_PROGRESS, order=order, days=1)
    import time_machine as tm

    with tm.travel(timezone.now() + timedelta(days=3, hours=1), tick=False):
        html = text(page(client, seller, order))
    assert milestone.is_late is False  # not yet, at creation time
    assert "late by 2 days" in html


def test_in_review_shows_when_it_auto_approves(client, order, buyer, seller):
    milestone = milestone_in(S.IN_REVIEW, order=order)
    day = timezone.localtime(milestone.auto_approve_at).strftime("%-d %b")
    assert f"auto-approves on {day} if you do nothing" in text(page(client, buyer, order))
    assert f"auto-approves on {day} if the buyer does nothing" in text(page(client, seller, order))


def test_deliveries_revisions_and_dispute_are_shown(client, order, buyer, seller, staff):
    from milestones.services.disputes import dispute_add_statement, dispute_resolve, milestone_open_dispute
    from milestones.services.lifecycle import milestone_submit

    revised = milestone_in(S.REVISION_REQUESTED, order=order, title="Logo")
    milestone_submit(milestone=revised, actor=seller, message="Second try", links=["https://example.com/v2"])
    milestone_open_dispute(milestone=revised, actor=buyer, reason="Still the wrong colour")
    dispute = revised.__class__.objects.get(pk=revised.pk).dispute
    dispute_add_statement(dispute=dispute, actor=seller, body="It matches the brief")
    html = text(page(client, buyer, order))
    for words in (
        "Done, see the link.",
        "https://example.com/work",
        "Bigger logo",
        "Second try",
        "Still the wrong colour",
        "It matches the brief",
    ):
        assert words in html
    dispute_resolve(dispute=dispute, actor=staff, outcome="refund", note="Brief was clear.")
    html = text(page(client, buyer, order))
    assert "Refunded to buyer" in html and "Brief was clear." in html
    assert f'data-milestone-state="{S.RESOLVED}"' in html


def test_decline_reason_is_shown(client, order, buyer):
    milestone_in(S.DECLINED, order=order)
    assert "Too busy" in text(page(client, buyer, order))


def test_progress_counts_approved_milestones_and_released_money(client, order, buyer):
    milestone_in(S.APPROVED, order=order, amount="100.00")
    create_milestone(order, amount="50.00")
    milestone_in(S.CANCELLED, order=order, amount="999.00")
    html = text(page(client, buyer, order))
    assert "1 of 2 milestones approved" in html
    assert '100.00\u00a0USD</span> of <span class="amount">150.00\u00a0USD</span> released' in html
    assert '<progress id="progress-milestones" class="progress" max="2" value="1">' in html


def test_timeline_merges_messages_and_activity_newest_last(client, order, buyer, seller):
    milestone = milestone_in(S.IN_PROGRESS, order=order, title="Phase A")
    OrderMessageFactory(order=order, author=seller, body="Starting today")
    Activity.objects.create(order=order, milestone=milestone, actor=None, verb="reminder_sent")
    html = text(page(client, buyer, order))
    section = html[html.index('id="messages"') :]
    assert section.index("accepted “Phase A”") < section.index("Starting today") < section.index("reminder sent")
    assert "<strong>System</strong>" in section


def test_message_form_only_for_parties(client, order, buyer, staff):
    assert 'action="{}"'.format(reverse("order_message", args=[order.pk])) in text(page(client, buyer, order))
    assert 'action="{}"'.format(reverse("order_message", args=[order.pk])) not in text(page(client, staff, order))


# --- the buttons --------------------------------------------------------------------

ROLE_ACTIONS = [
    (S.AWAITING_ACCEPTANCE, "buyer", ["cancel"]),
    (S.OFFERED, "buyer", ["offer_checkout", "decline_offer"]),
    (S.OFFERED, "seller", ["withdraw_offer"]),
    (S.OFFER_DECLINED, "buyer", []),
    (S.OFFER_EXPIRED, "seller", []),
    (S.AWAITING_ACCEPTANCE, "seller", ["accept", "propose_changes", "decline"]),
    (S.ACCEPTED, "buyer", ["cancel"]),
    (S.ACCEPTED, "seller", []),
    (S.IN_PROGRESS, "buyer", ["request_cancellation", "open_dispute"]),
    (S.IN_PROGRESS, "seller", ["submit", "request_extension", "request_cancellation", "open_dispute"]),
    (S.IN_REVIEW, "buyer", ["approve", "request_revision", "request_cancellation", "open_dispute"]),
    (S.IN_REVIEW, "seller", ["request_cancellation", "open_dispute"]),
    (S.REVISION_REQUESTED, "buyer", ["request_cancellation", "open_dispute"]),
    (S.REVISION_REQUESTED, "seller", ["submit", "request_extension", "request_cancellation", "open_dispute"]),
    (S.DISPUTED, "buyer", ["add_statement", "request_cancellation"]),
    (S.DISPUTED, "seller", ["add_statement", "request_cancellation"]),
    (S.APPROVED, "buyer", []),
    (S.APPROVED, "seller", []),
    (S.DECLINED, "seller", []),
    (S.CANCELLED, "buyer", []),
    (S.RESOLVED, "buyer", []),
]


@pytest.mark.parametrize(("state", "role", "expected"), ROLE_ACTIONS)
def test_milestone_actions_follow_state_and_role(state, role, expected, order, staff, outsider):
    milestone = milestone_in(state, order=order)
    user = getattr(order, role)
    assert milestone_actions(milestone, user, order) == expected
    assert milestone_actions(milestone, staff, order) == []
    assert milestone_actions(milestone, outsider, order) == []


def buttons(html: str) -> list[str]:
    """The page's own buttons (the footer's language form is every page's)."""
    html = html.split('<footer class="site-footer">', 1)[0]
    return re.findall(r'<button type="submit" class="btn[^"]*">([^<]+)</button>', html)


def test_buttons_on_the_page_match_the_viewer(client, order, buyer, seller, staff):
    milestone_in(S.IN_REVIEW, order=order)
    assert set(buttons(text(page(client, buyer, order)))) == {
        "Create milestone",
        "Approve",
        "Request revision",
        "Request cancellation",
        "Open dispute",
        "Send",
    }
    assert set(buttons(text(page(client, seller, order)))) == {
        "Propose a milestone",
        "Request cancellation",
        "Open dispute",
        "Send",
    }
    assert set(buttons(text(page(client, staff, order)))) == set()


def test_mark_complete_offered_only_without_open_milestones(client, order, buyer):
    milestone = create_milestone(order)
    assert "Mark order complete" not in text(page(client, buyer, order))
    from milestones.services.lifecycle import milestone_cancel

    milestone_cancel(milestone=milestone, actor=buyer)
    assert "Mark order complete" in text(page(client, buyer, order))


# --- messages -------------------------------------------------------------------------


def test_party_sends_a_message(client, order, seller):
    client.force_login(seller)
    response = client.post(reverse("order_message", args=[order.pk]), {"body": "Hello there"})
    assert response.status_code == 302
    assert response["Location"].endswith("#messages")
    assert OrderMessage.objects.get(order=order).body == "Hello there"


def test_a_refused_message_goes_back_to_the_order_page_with_the_error_and_the_text(client, order, buyer):
    """Found as a new user: a refused message left the browser on /orders/N/messages/."""
    client.force_login(buyer)
    response = client.post(reverse("order_message", args=[order.pk]), {"body": "   "})
    assert response.status_code == 302 and response["Location"] == f"{order.get_absolute_url()}#messages"
    page = text(client.get(response["Location"]))
    assert "Your message was not sent: Message: This field is required." in page
    assert not OrderMessage.objects.exists()
    # What was typed comes back in the box.
    long = "x" * 5001
    client.post(reverse("order_message", args=[order.pk]), {"body": long})
    page = text(client.get(order.get_absolute_url()))
    assert "Ensure this value has at most 5000 characters" in page
    assert "x" * 5000 + "</textarea>" in page, "the text comes back (as much as the box holds)"
    assert not OrderMessage.objects.exists()


def test_message_refused_to_staff_outsider_anonymous_and_get(client, order, staff, outsider):
    url = reverse("order_message", args=[order.pk])
    staff_login(client, staff)
    response = client.post(url, {"body": "Staff here"}, follow=True)
    assert "Only the buyer and the seller can write in this order." in text(response)
    client.force_login(outsider)
    assert client.post(url, {"body": "hi"}).status_code == 404
    assert client.get(url).status_code == 405
    client.logout()
    assert client.post(url, {"body": "hi"})["Location"].startswith(reverse("login"))
    assert not OrderMessage.objects.exists()


# --- completion --------------------------------------------------------------------------


def test_buyer_completes_an_order_once(client, order, buyer):
    milestone_in(S.APPROVED, order=order)
    client.force_login(buyer)
    url = reverse("order_complete", args=[order.pk])
    assert client.get(url).status_code == 405
    order.refresh_from_db()
    assert order.status != OrderStatus.COMPLETED
    client.post(url)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    response = client.post(url, follow=True)
    assert "This order is already complete." in text(response)
    assert Activity.objects.filter(order=order, verb="order_completed").count() == 1
    assert "Create milestone" not in text(response)


def test_complete_refused_with_an_open_milestone_and_to_the_seller(client, order, buyer, seller):
    create_milestone(order)
    url = reverse("order_complete", args=[order.pk])
    client.force_login(buyer)
    assert "Close every open milestone" in text(client.post(url, follow=True))
    client.force_login(seller)
    assert "Only the buyer can mark the order complete." in text(client.post(url, follow=True))
    order.refresh_from_db()
    assert order.status == OrderStatus.ACTIVE


# --- queries ------------------------------------------------------------------------------


def _rich_order(milestones: int, messages: int):
    order = OrderFactory()
    # One approved (a delivery, a file-less delivery list, an earning), one
    # disputed (a dispute with a statement), the rest waiting for the seller.
    milestone_in(S.APPROVED, order=order, title="Phase 0")
    disputed = milestone_in(S.DISPUTED, order=order, title="Phase 1")
    dispute_add_statement(dispute=disputed.dispute, actor=order.seller, body="My side")
    for index in range(2, milestones):
        create_milestone(order, title=f"Phase {index}")
    for _ in range(messages):
        OrderMessageFactory(order=order)
    return order


@pytest.mark.parametrize(("milestones", "messages"), [(2, 5), (20, 100)])
def test_order_page_queries_do_not_grow(client, django_assert_max_num_queries, milestones, messages):
    order = _rich_order(milestones, messages)
    from milestones.models import Milestone

    client.force_login(order.buyer)
    # 15: the messages' files, and reading the conversation's message notices.
    with django_assert_max_num_queries(15):
        response = client.get(reverse("order_detail", args=[order.pk]))
    assert response.status_code == 200
    assert text(response).count('data-milestone-state="') == Milestone.objects.filter(order=order).count()


def test_the_same_message_form_sent_twice_adds_one_message(client, order, buyer):
    client.force_login(buyer)
    html = text(client.get(order.get_absolute_url()))
    token = re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)
    url = reverse("order_message", args=[order.pk])
    client.post(url, {"body": "Hello", "token": token})
    response = client.post(url, {"body": "Hello", "token": token}, follow=True)
    assert "This message was already sent." in text(response)
    assert OrderMessage.objects.filter(order=order).count() == 1
    # A new rendering of the form is a new message, even with the same words.
    token = re.search(r'name="token" value="([0-9a-f]+)"', text(response)).group(1)
    client.post(url, {"body": "Hello", "token": token})
    assert OrderMessage.objects.filter(order=order).count() == 2


def test_a_long_thread_shows_the_newest_entries_and_links_to_the_whole_history(client, order, buyer):
    from milestones.order_page import TIMELINE_RECENT
    from tests.factories import OrderMessageFactory

    for n in range(TIMELINE_RECENT + 10):
        OrderMessageFactory(order=order, author=buyer, body=f"note {n:03d}")
    client.force_login(buyer)
    html = text(client.get(order.get_absolute_url()))
    assert f"note {TIMELINE_RECENT + 9:03d}" in html, "the newest message is shown"
    assert "note 000" not in html, "the oldest is left for the full history"
    assert "Show the whole history" in html
    full = text(client.get(order.get_absolute_url() + "?history=all"))
    assert "note 000" in full and f"note {TIMELINE_RECENT + 9:03d}" in full
    assert "Show the whole history" not in full


# --- the table of actions (milestones.actions) ------------------------------------------


@pytest.mark.parametrize(("state", "role", "expected"), ROLE_ACTIONS)
def test_each_viewer_sees_the_table_labels_of_their_actions_and_their_urls(client, order, state, role, expected):
    """The page's buttons are the table's labels, each posting (one click) or
    linking (a form) to the table's URL, for exactly the actions the viewer may take."""
    from milestones.actions import BY_NAME

    milestone = milestone_in(state, order=order)
    html = text(page(client, getattr(order, role), order))
    for name in expected:
        action = BY_NAME[name]
        url = reverse(action.url_name, args=[milestone.pk])
        method = "post" if action.one_click else "get"
        assert f'<form method="{method}" action="{url}"' in html, name
        assert action.label in buttons(html), name
    for name in set(BY_NAME) - set(expected):
        assert f'action="{reverse(BY_NAME[name].url_name, args=[milestone.pk])}"' not in html, name


def test_every_action_of_the_table_has_its_url_and_method(client, order, buyer, seller):
    """One-click actions refuse GET (405) and change nothing; actions with a
    form show it on GET, titled and buttoned with the table's label, or with
    "Confirm" where money moves."""
    from milestones.actions import ACTIONS

    for action in ACTIONS:
        state = {
            "accept": S.AWAITING_ACCEPTANCE,
            "decline": S.AWAITING_ACCEPTANCE,
            "cancel": S.AWAITING_ACCEPTANCE,
            "submit": S.IN_PROGRESS,
            "approve": S.IN_REVIEW,
            "request_revision": S.IN_REVIEW,
            "open_dispute": S.IN_PROGRESS,
            "add_statement": S.DISPUTED,
            "request_extension": S.IN_PROGRESS,
            "request_cancellation": S.IN_PROGRESS,
            "offer_checkout": S.OFFERED,
            "decline_offer": S.OFFERED,
            "withdraw_offer": S.OFFERED,
            "propose_changes": S.AWAITING_ACCEPTANCE,
            "buy_revision": S.IN_REVIEW,
            "fund_planned": S.PLANNED,
            "stop_planned": S.PLANNED,
        }[action.name]
        if state == S.PLANNED:
            milestone = _next_planned_step(buyer, seller)
        else:
            milestone = milestone_in(state, order=OrderFactory(buyer=buyer, seller=seller))
        actor = buyer if "buyer" in action.roles else seller
        client.force_login(actor)
        response = client.get(reverse(action.url_name, args=[milestone.pk]))
        milestone.refresh_from_db()
        assert milestone.state == state, action.name
        if action.one_click:
            assert response.status_code == 405, action.name
        else:
            assert response.status_code == 200, action.name
            # Where money moves the page is a confirmation, its button "Confirm".
            assert action.button in buttons(response.content.decode()), action.name


# --- issue 34: what a new user stumbled on ----------------------------------------------------------


def progress_section(html: str) -> str:
    return html[html.index('id="progress-heading"') :][:1500]


def test_an_order_with_only_an_unpaid_milestone_says_it_waits_for_payment(client, order, buyer):
    """It said "No milestones yet. Create the first one" above the "Awaiting payment" milestone, and
    its badge said "Active" with nothing paid."""
    unpaid = create_milestone(order, pay=False)
    html = text(page(client, buyer, order))
    assert f'id="milestone-{unpaid.pk}"' in html
    assert "No milestones yet" not in html
    assert "Nothing is held in escrow yet" in progress_section(html)
    header = html[: html.index('id="progress-heading"')]
    assert 'class="badge badge-pending">Waiting for payment</span>' in header
    assert ">Active</span>" not in header


def test_an_order_without_milestones_still_says_no_milestones_yet(client, order, buyer):
    html = text(page(client, buyer, order))
    assert "No milestones yet. Create the first one" in html
    assert ">Waiting for the first milestone</span>" in html


def test_an_order_with_a_paid_milestone_in_work_is_active(client, order, buyer):
    milestone_in(MilestoneState.IN_PROGRESS, order)
    create_milestone(order, pay=False, title="Next phase")
    html = text(page(client, buyer, order))
    assert 'class="badge badge-active">Active</span>' in html
    assert "No milestones yet" not in html


def test_mark_order_complete_is_not_offered_on_an_order_with_no_milestone(client, order, buyer):
    """It completed an order with no milestone at all; the button is gone and the POST changes nothing."""
    html = text(page(client, buyer, order))
    assert "Mark order complete" not in html
    response = client.post(reverse("order_complete", args=[order.pk]), follow=True)
    assert "Add a milestone before completing the order" in text(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_MILESTONE and order.completed_at is None
    assert not Activity.objects.filter(order=order, verb="order_completed").exists()
    # With a closed milestone it is offered again.
    milestone_in(MilestoneState.APPROVED, order)
    assert "Mark order complete" in text(page(client, buyer, order))


def _next_planned_step(buyer, seller):
    """An ordered package's second step, planned, its first approved: "Continue" and "Stop" are offered."""
    from milestones.models import Milestone
    from milestones.services.lifecycle import milestone_accept, milestone_approve, milestone_submit
    from tests.factories import CARD, package_order, packaged_gig

    gig, package = packaged_gig(seller=seller)
    order = package_order(gig, package, buyer=buyer, source=CARD)
    first, second = list(Milestone.objects.filter(order=order).order_by("position"))[:2]
    milestone_accept(milestone=first, actor=seller)
    milestone_submit(milestone=first, actor=seller, message="Done.")
    milestone_approve(milestone=Milestone.objects.get(pk=first.pk), actor=buyer)
    return second
