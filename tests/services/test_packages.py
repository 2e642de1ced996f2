"""Ordering a gig package (issue 35): one milestone per step, the first paid and awaiting the
seller, the rest planned and holding nothing; "Continue to next milestone" funds the next one and
starts it; "Stop the order here" (or the continue timer) cancels the planned ones with no money
moved; the revisions included are counted."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from djmoney.money import Money

from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from milestones.models import Milestone, MilestoneReminder, MilestoneState
from milestones.services.lifecycle import (
    milestone_accept,
    milestone_approve,
    milestone_request_revision,
    milestone_submit,
)
from milestones.services.packages import (
    milestone_continue,
    order_stop,
    package_order_start,
    revision_purchase_request,
)
from milestones.sweeps import sweep_continue
from notifications.models import Notification
from orders.models import OrderStatus, RequirementAnswer
from payments.audit import ledger_audit
from payments.models import AccountKind, Checkout, CheckoutStatus, Transaction
from tests.factories import BALANCE, CARD, OrderFactory, UserFactory, create_milestone, package_order, packaged_gig
from tests.services.ledger_checks import assert_money_conserved, balance, world
from tests.services.test_changes import pay_on_sandbox
from tests.services.test_offers import give_balance

S = MilestoneState
pytestmark = pytest.mark.django_db

QUESTIONS = (
    ("What is the app called?", "text", "", True),
    ("Which platform?", "choice", "iOS\nAndroid", True),
    ("Brand guide", "file", "", False),
)


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def steps_of(order) -> list[Milestone]:
    return list(Milestone.objects.filter(order=order).order_by("position"))


def answers_for(gig, **by_position) -> dict:
    return {q.pk: by_position[f"q{q.position}"] for q in gig.questions.all() if f"q{q.position}" in by_position}


def approve(milestone: Milestone) -> Milestone:
    """Deliver and approve a step that is in progress."""
    order = milestone.order
    milestone_submit(milestone=milestone, actor=order.seller, message="Done.")
    return milestone_approve(milestone=Milestone.objects.get(pk=milestone.pk), actor=order.buyer)


def ordered_and_accepted(**kwargs):
    gig, package = packaged_gig(**kwargs)
    order = package_order(gig, package, source=CARD)
    first = milestone_accept(milestone=steps_of(order)[0], actor=order.seller)
    return order, first


def test_ordering_creates_one_milestone_per_step_first_paid_rest_planned():
    gig, package = packaged_gig(
        extras=(("Bonus graphics", "30.00", 1, 2), ("Documentation", "40.00", 2, None)), questions=QUESTIONS
    )
    extras = list(gig.extras.order_by("position"))
    order = package_order(
        gig,
        package,
        source=CARD,
        extra_ids=[e.pk for e in extras],
        answers=answers_for(gig, q1="Acme", q2="Android"),
    )
    assert (order.package_id, order.package_name) == (package.pk, "Standard")
    milestones = steps_of(order)
    assert [(m.title, m.amount, m.state, m.revisions_included) for m in milestones] == [
        ("UI/UX design", usd("100.00"), S.AWAITING_ACCEPTANCE, 1),
        ("Backend development", usd("230.00"), S.PLANNED, 2),
        ("Testing", usd("50.00"), S.PLANNED, 1),
        ("Documentation", usd("40.00"), S.PLANNED, 0),
    ]
    # Each planned step keeps its own length (an attached extra's days added).
    assert [m.planned_length.days for m in milestones[1:]] == [6, 2, 2]
    assert "Bonus graphics" in milestones[1].description
    # Only the first step is charged: its amount in escrow, nothing for the planned ones.
    assert balance(AccountKind.ESCROW, milestone=milestones[0]) == usd("100.00")
    assert not Transaction.objects.filter(milestone__in=milestones[1:]).exists()
    assert list(RequirementAnswer.objects.filter(order=order).values_list("question", "answer")) == [
        ("What is the app called?", "Acme"),
        ("Which platform?", "Android"),
    ]
    assert "Acme" in order.brief and "Which platform?" in order.brief
    assert ledger_audit().ok
    assert_money_conserved()


def test_a_file_answer_is_stored_and_checked_like_a_deliverable():
    gig, package = packaged_gig(questions=QUESTIONS)
    good = SimpleUploadedFile("guide.txt", b"Use blue.", content_type="text/plain")
    order = package_order(gig, package, source=CARD, answers=answers_for(gig, q1="Acme", q2="iOS", q3=good))
    answer = RequirementAnswer.objects.get(order=order, position=3)
    assert (answer.file_name, answer.size) == ("guide.txt", 9)
    bad = SimpleUploadedFile("guide.exe", b"MZ...", content_type="application/octet-stream")
    with pytest.raises(InvalidInput) as refused:
        package_order(gig, package, source=CARD, answers=answers_for(gig, q1="Acme", q2="iOS", q3=bad))
    assert refused.value.field == f"answer_{gig.questions.get(position=3).pk}"


@pytest.mark.parametrize(
    ("answers", "field_position"),
    [({"q2": "iOS"}, 1), ({"q1": "Acme", "q2": "Windows"}, 2), ({"q1": "   ", "q2": "iOS"}, 1)],
)
def test_bad_answers_get_a_field_error_and_change_nothing(answers, field_position):
    gig, package = packaged_gig(questions=QUESTIONS)
    buyer = UserFactory()
    before = world()
    with pytest.raises(InvalidInput) as refused:
        package_order(gig, package, buyer=buyer, source=CARD, answers=answers_for(gig, **answers))
    assert refused.value.field == f"answer_{gig.questions.get(position=field_position).pk}"
    assert world() == before


def test_extras_of_another_gig_and_own_gig_are_refused():
    gig, package = packaged_gig()
    other, _ = packaged_gig(extras=(("Logo", "10.00", 1, 1),))
    before = world()
    with pytest.raises(InvalidInput) as refused:
        package_order(gig, package, source=CARD, extra_ids=[other.extras.get().pk])
    assert refused.value.field == "extras"
    with pytest.raises(InvalidInput, match="own gig"):
        package_order(gig, package, buyer=gig.seller, source=CARD)
    assert world() == before


def test_the_same_form_twice_opens_one_order():
    gig, package = packaged_gig()
    buyer = UserFactory()
    give_balance(buyer)
    key = uuid.uuid4().hex
    kwargs = {"buyer": buyer, "gig": gig, "package": package, "extra_ids": [], "answers": {}, "key": key}
    order = package_order_start(**kwargs, source=BALANCE)
    with pytest.raises(Exception) as again:
        package_order_start(**kwargs, source=BALANCE)
    assert getattr(again.value, "obj", None) == order
    assert gig.orders.count() == 1


def test_seller_acceptance_accepts_the_plan_and_continue_waits_for_the_approval():
    order, first = ordered_and_accepted()
    assert first.state == S.IN_PROGRESS
    second = steps_of(order)[1]
    assert second.state == S.PLANNED
    with pytest.raises(InvalidTransition, match="approved"):
        milestone_continue(buyer=order.buyer, milestone=second, key="k1", source=CARD)
    assert not Checkout.objects.filter(purpose="continue").exists()


def test_continue_from_the_balance_funds_the_next_step_and_starts_it_at_once():
    order, first = ordered_and_accepted()
    approve(first)
    give_balance(order.buyer)
    second = steps_of(order)[1]
    before = balance(AccountKind.BUYER_BALANCE, user=order.buyer)
    assert milestone_continue(buyer=order.buyer, milestone=second, key="k1", source=BALANCE) is None
    second.refresh_from_db()
    assert second.state == S.IN_PROGRESS
    assert abs(second.deadline - (timezone.now() + timedelta(days=5))) < timedelta(minutes=1)
    assert balance(AccountKind.ESCROW, milestone=second) == usd("200.00")
    assert before - balance(AccountKind.BUYER_BALANCE, user=order.buyer) == second.total_charged
    assert Notification.objects.filter(recipient=order.seller, event="milestone_continued").exists()
    # A second press (another tab) funds nothing more.
    with pytest.raises(InvalidTransition):
        milestone_continue(buyer=order.buyer, milestone=second, key="k2", source=BALANCE)
    assert Transaction.objects.filter(milestone=second).count() == 1
    # The third waits for the second.
    with pytest.raises(InvalidTransition):
        milestone_continue(buyer=order.buyer, milestone=steps_of(order)[2], key="k3", source=BALANCE)
    assert ledger_audit().ok
    assert_money_conserved()


def test_continue_by_card_funds_when_paid_and_a_second_click_reuses_the_checkout():
    order, first = ordered_and_accepted()
    approve(first)
    second = steps_of(order)[1]
    checkout = milestone_continue(buyer=order.buyer, milestone=second, key="k1", source=CARD)
    assert checkout is not None and checkout.amount == second.total_charged
    assert milestone_continue(buyer=order.buyer, milestone=second, key="k2", source=CARD) == checkout
    second.refresh_from_db()
    assert second.state == S.PLANNED
    from demo.checkout import TEST_CARD  # noqa: F401 - the sandbox's good card, as pay_on_sandbox uses
    from payments.checkout import checkout_open

    checkout_open(checkout=checkout, success_url="http://testserver/x", cancel_url="http://testserver/y")
    pay_on_sandbox(Checkout.objects.get(pk=checkout.pk))
    second.refresh_from_db()
    assert second.state == S.IN_PROGRESS
    assert balance(AccountKind.ESCROW, milestone=second) == usd("200.00")
    assert ledger_audit().ok
    assert_money_conserved()


def test_stop_cancels_the_planned_steps_with_no_money_moved_and_completes_the_order():
    order, first = ordered_and_accepted()
    approve(first)
    second = steps_of(order)[1]
    checkout = milestone_continue(buyer=order.buyer, milestone=second, key="k1", source=CARD)
    transactions = Transaction.objects.count()
    with pytest.raises(NotAllowed):
        order_stop(buyer=order.seller, order=order)
    order_stop(buyer=order.buyer, order=order)
    assert [m.state for m in steps_of(order)] == [S.APPROVED, S.CANCELLED, S.CANCELLED]
    assert Transaction.objects.count() == transactions
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.CANCELLED
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert Notification.objects.filter(recipient=order.seller, event="order_stopped").exists()
    with pytest.raises(InvalidTransition):
        order_stop(buyer=order.buyer, order=order)
    assert ledger_audit().ok
    assert_money_conserved()


def test_the_continue_timer_reminds_the_buyer_then_stops_the_order_once():
    order, first = ordered_and_accepted()
    approved_at = approve(first).approved_at
    assert approved_at is not None
    period = settings.CONTINUE_PERIOD
    second = steps_of(order)[1]
    with time_machine.travel(approved_at + period - timedelta(days=2) + timedelta(minutes=1), tick=False):
        sweep_continue()
        sweep_continue()
    with time_machine.travel(approved_at + period - timedelta(days=1) + timedelta(minutes=1), tick=False):
        sweep_continue()
    reminders = Notification.objects.filter(recipient=order.buyer, event="continue_reminder")
    assert reminders.count() == 2
    assert set(MilestoneReminder.objects.filter(milestone=second).values_list("kind", flat=True)) == {
        "continue:172800",
        "continue:86400",
    }
    transactions = Transaction.objects.count()
    with time_machine.travel(approved_at + period - timedelta(minutes=1), tick=False):
        sweep_continue()
    assert Milestone.objects.get(pk=second.pk).state == S.PLANNED
    with time_machine.travel(approved_at + period + timedelta(minutes=1), tick=False):
        sweep_continue()
        sweep_continue()
    assert [m.state for m in steps_of(order)] == [S.APPROVED, S.CANCELLED, S.CANCELLED]
    assert Transaction.objects.count() == transactions
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert Notification.objects.filter(recipient=order.buyer, event="order_stopped").count() == 1
    assert ledger_audit().ok


def test_included_revisions_are_counted_then_a_revision_is_bought_from_the_seller():
    order, first = ordered_and_accepted()
    assert (first.revisions_included, first.revisions_left) == (1, 1)
    milestone_submit(milestone=first, actor=order.seller, message="Done.")
    milestone_request_revision(milestone=first, actor=order.buyer, feedback="Bigger logo")
    milestone_submit(milestone=Milestone.objects.get(pk=first.pk), actor=order.seller, message="Again.")
    first.refresh_from_db()
    assert (first.revision_count, first.revisions_left) == (1, 0)
    with pytest.raises(InvalidTransition, match="Buy a revision"):
        milestone_request_revision(milestone=first, actor=order.buyer, feedback="Smaller logo")
    assert Milestone.objects.get(pk=first.pk).state == S.IN_REVIEW
    revision_purchase_request(buyer=order.buyer, milestone=first)
    assert Notification.objects.filter(recipient=order.seller, event="revision_purchase_requested").exists()


def test_milestones_made_by_hand_keep_unlimited_revisions():
    order = OrderFactory()
    milestone = milestone_accept(milestone=create_milestone(order), actor=order.seller)
    assert milestone.revisions_included is None and milestone.revisions_left is None
    for _ in range(3):
        milestone_submit(milestone=Milestone.objects.get(pk=milestone.pk), actor=order.seller, message="Done.")
        milestone_request_revision(milestone=milestone, actor=order.buyer, feedback="Again")
    assert Milestone.objects.get(pk=milestone.pk).revision_count == 3
    with pytest.raises(InvalidTransition):
        revision_purchase_request(buyer=order.buyer, milestone=milestone)


def test_changes_to_a_planned_step_move_no_money_and_change_what_continue_charges():
    from milestones.services.changes import changes_accept, changes_request

    order, first = ordered_and_accepted()
    second = steps_of(order)[1]
    transactions = Transaction.objects.count()
    proposal = changes_request(
        milestone=second, actor=order.seller, new_deadline=None, new_amount=usd("240.00"), new_description=""
    )
    changes_accept(proposal=proposal, actor=order.buyer, method="card")
    second.refresh_from_db()
    assert (second.state, second.amount) == (S.PLANNED, usd("240.00"))
    assert Transaction.objects.count() == transactions
    approve(first)
    give_balance(order.buyer)
    milestone_continue(buyer=order.buyer, milestone=second, key="k", source=BALANCE)
    assert balance(AccountKind.ESCROW, milestone=Milestone.objects.get(pk=second.pk)) == usd("240.00")
    assert ledger_audit().ok
    assert_money_conserved()


def test_the_demo_seeds_a_package_order_in_progress_on_its_second_step():
    from django.core.management import call_command

    from orders.models import Order

    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    order = Order.objects.exclude(package_name="").get()
    states = [m.state for m in steps_of(order)]
    assert states[:2] == [S.APPROVED, S.IN_PROGRESS] and set(states[2:]) == {S.PLANNED}
    assert ledger_audit().ok


def test_a_planned_step_cancelled_by_agreement_closes_with_no_money_moved():
    from milestones.services.proposals import cancellation_request, proposal_accept

    order, _ = ordered_and_accepted()
    second, third = steps_of(order)[1:]
    transactions = Transaction.objects.count()
    proposal = cancellation_request(milestone=third, actor=order.seller, refund=usd("1.00"), reason="Not needed")
    assert proposal.refund_amount == third.amount  # nothing is held, nothing to split
    proposal_accept(proposal=proposal, actor=order.buyer)
    assert Milestone.objects.get(pk=third.pk).state == S.CANCELLED
    assert Milestone.objects.get(pk=second.pk).state == S.PLANNED
    assert Transaction.objects.count() == transactions
    assert ledger_audit().ok


def test_an_expired_continue_checkout_leaves_the_step_planned_and_the_same_form_opens_a_new_one():
    from payments.checkout import checkout_expired

    order, first = ordered_and_accepted()
    approve(first)
    second = steps_of(order)[1]
    checkout = milestone_continue(buyer=order.buyer, milestone=second, key="same-form", source=CARD)
    assert checkout is not None
    assert checkout_expired(checkout_id=checkout.pk, now=checkout.expires_at) == "expired"
    assert Milestone.objects.get(pk=second.pk).state == S.PLANNED
    again = milestone_continue(buyer=order.buyer, milestone=second, key="same-form", source=CARD)
    assert again is not None and again.pk != checkout.pk and again.is_open
