"""The "Requirements" page of a package order, and the order page of an ordered package: planned
steps, "Continue to next milestone", "Stop the order here", the brief and "Buy a revision"."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from djmoney.money import Money

from marketplace.money import format_money
from milestones.models import Milestone, MilestoneState
from milestones.services.lifecycle import milestone_accept, milestone_approve, milestone_submit
from milestones.services.packages import milestone_continue
from orders.models import Order, OrderStatus, RequirementAnswer
from payments.models import Transaction
from tests.factories import CARD, UserFactory, package_order, packaged_gig
from tests.services.test_offers import give_balance

S = MilestoneState
pytestmark = pytest.mark.django_db

QUESTIONS = (("What is the app called?", "text", "", True), ("Brand guide", "file", "", False))


def text(response) -> str:
    return response.content.decode()


def steps_of(order) -> list[Milestone]:
    return list(Milestone.objects.filter(order=order).order_by("position"))


def test_the_requirements_page_shows_steps_extras_questions_and_what_is_charged_now(client):
    gig, package = packaged_gig(extras=(("Bonus graphics", "30.00", 1, 2),), questions=QUESTIONS)
    client.force_login(UserFactory())
    url = reverse("package_order", args=[gig.pk, package.position])
    assert url == f"/gigs/{gig.pk}/packages/{package.position}/order/"
    page = text(client.get(url))
    assert "<h1>Requirements</h1>" in page
    for words in ("UI/UX design", "Backend development", "Testing", "Charged now", "Bonus graphics", "Start order"):
        assert words in page
    assert "What is the app called?" in page and 'type="file"' in page and 'type="checkbox"' in page
    # 100.00 for the first step and its service fee; the total is the three steps.
    assert format_money(Money("350.00", "USD")) in page and format_money(Money("105.50", "USD")) in page


def test_start_order_by_card_goes_to_the_provider_and_missing_answers_change_nothing(client):
    gig, package = packaged_gig(questions=QUESTIONS)
    buyer = UserFactory()
    client.force_login(buyer)
    url = reverse("package_order", args=[gig.pk, package.position])
    key = "a" * 32
    refused = client.post(url, {"method": "card", "key": key})
    assert refused.status_code == 400
    assert "This field is required" in text(refused)
    assert not Order.objects.filter(gig=gig).exists()
    question = gig.questions.get(position=1)
    started = client.post(url, {"method": "card", "key": key, f"answer_{question.pk}": "Acme"})
    assert started.status_code == 302 and "/sandbox/" in started["Location"]
    order = Order.objects.get(gig=gig)
    assert order.package_name == "Standard"
    assert [m.state for m in steps_of(order)] == [S.AWAITING_PAYMENT, S.PLANNED, S.PLANNED]


def test_start_order_from_the_balance_then_the_order_page_shows_the_brief_and_planned_steps(client):
    gig, package = packaged_gig(questions=QUESTIONS)
    buyer = UserFactory()
    give_balance(buyer)
    client.force_login(buyer)
    first_q, file_q = gig.questions.order_by("position")
    guide = SimpleUploadedFile("guide.txt", b"Use blue.", content_type="text/plain")
    response = client.post(
        reverse("package_order", args=[gig.pk, package.position]),
        {"method": "balance", "key": "b" * 32, f"answer_{first_q.pk}": "Acme", f"answer_{file_q.pk}": guide},
        follow=True,
    )
    order = Order.objects.get(gig=gig)
    assert steps_of(order)[0].state == S.AWAITING_ACCEPTANCE
    page = text(response)
    assert "Acme" in page and "guide.txt" in page and "Planned" in page
    assert "Revisions: 0 of 1 used" in page
    answer = RequirementAnswer.objects.get(order=order, position=2)
    download = client.get(reverse("requirement_file", args=[answer.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"Use blue."
    client.force_login(UserFactory())
    assert client.get(reverse("requirement_file", args=[answer.pk])).status_code == 404


def approved_first(gig=None):
    gig, package = packaged_gig(steps=(("Design", "100.00", 3, 1), ("Build", "200.00", 5, 2), ("Test", "50.00", 2, 1)))
    order = package_order(gig, package, source=CARD)
    first = milestone_accept(milestone=steps_of(order)[0], actor=order.seller)
    milestone_submit(milestone=first, actor=order.seller, message="Done.")
    milestone_approve(milestone=Milestone.objects.get(pk=first.pk), actor=order.buyer)
    return order


def test_continue_to_next_milestone_from_the_order_page(client):
    order = approved_first()
    give_balance(order.buyer)
    client.force_login(order.buyer)
    page = text(client.get(order.get_absolute_url()))
    assert "Continue to next milestone</button>" in page and "Stop the order here</button>" in page
    waiting = "Waiting for the buyer to continue to the next milestone or stop the order"
    assert waiting in page and waiting in text(client.get(reverse("order_list")))
    second = steps_of(order)[1]
    url = reverse("milestone_continue", args=[second.pk])
    confirm = text(client.get(url))
    assert "is charged now" in confirm and "Confirm" in confirm
    client.post(url, {"method": "balance", "key": "c" * 32})
    assert Milestone.objects.get(pk=second.pk).state == S.IN_PROGRESS
    # The third is not next yet.
    assert "Continue to next milestone</button>" not in text(client.get(order.get_absolute_url()))


def test_stop_the_order_here_says_no_money_moves_then_completes_the_order(client):
    order = approved_first()
    client.force_login(order.buyer)
    second = steps_of(order)[1]
    url = reverse("order_stop", args=[second.pk])
    confirm = text(client.get(url))
    assert "No money moves" in confirm
    transactions = Transaction.objects.count()
    client.post(url, {})
    assert [m.state for m in steps_of(order)] == [S.APPROVED, S.CANCELLED, S.CANCELLED]
    assert Transaction.objects.count() == transactions
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED


def test_buy_a_revision_replaces_request_revision_once_the_included_ones_are_used(client):
    gig, package = packaged_gig(steps=(("Design", "100.00", 3, 0), ("Build", "200.00", 5, 2)))
    order = package_order(gig, package, source=CARD)
    first = milestone_accept(milestone=steps_of(order)[0], actor=order.seller)
    milestone_submit(milestone=first, actor=order.seller, message="Done.")
    client.force_login(order.buyer)
    page = text(client.get(order.get_absolute_url()))
    assert "Buy a revision</button>" in page and "Request revision</button>" not in page
    assert "Revisions: 0 of 0 used" in page
    client.post(reverse("milestone_buy_revision", args=[first.pk]))
    assert order.seller.notifications.filter(event="revision_purchase_requested").exists()


def test_a_continue_checkout_is_not_reopened_for_a_step_that_started(client):
    order = approved_first()
    second = steps_of(order)[1]
    give_balance(order.buyer)
    milestone_continue(buyer=order.buyer, milestone=second, key="k", source=CARD)
    client.force_login(order.buyer)
    # The buyer may come back to the page of the open checkout (the step is still planned) ...
    assert client.get(reverse("milestone_continue", args=[second.pk])).status_code == 200
