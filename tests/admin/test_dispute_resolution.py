"""Staff resolve disputes through the admin buttons: what the money, the
parties and the logs show afterwards, and what a second click or bad input does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from djmoney.money import Money

from milestones.models import Dispute, DisputeState, Milestone
from milestones.models import MilestoneState as S
from milestones.services.lifecycle import milestone_accept
from notifications.models import Notification
from payments.ledger import account_for, escrow_balance
from payments.models import AccountKind, Earning, EarningStatus, Transaction
from tests.admin.conftest import change_url, resolve_url
from tests.factories import create_milestone

pytestmark = pytest.mark.django_db

USD = "USD"


def usd(amount: str) -> Money:
    return Money(Decimal(amount), USD)


def balance(kind: str, user=None) -> Money:
    return account_for(kind=kind, currency=USD, user=user).cached_balance


def confirm(client, dispute, outcome, note="Decided on the evidence.", **data):
    return client.post(resolve_url(dispute, outcome), {"confirm": "1", "note": note, **data})


def settle_transactions(dispute) -> int:
    return Transaction.objects.filter(idempotency_key=f"settle:{dispute.milestone_id}").count()


def assert_unchanged(dispute):
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.OPEN
    assert dispute.outcome == ""
    assert Milestone.objects.get(pk=dispute.milestone_id).state == S.DISPUTED
    assert settle_transactions(dispute) == 0
    assert escrow_balance(dispute.milestone) == usd("100.00")
    assert not Earning.objects.filter(milestone_id=dispute.milestone_id).exists()
    assert not LogEntry.objects.filter(object_id=str(dispute.pk)).exists()


def admin_log(dispute) -> LogEntry:
    return LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Dispute), object_id=str(dispute.pk), action_flag=CHANGE
    )


def resolved_notifications(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user, event="dispute_resolved").values_list("message", flat=True))


def test_the_dispute_page_offers_the_three_buttons_with_the_figures(staff_client, disputed):
    response = staff_client.get(change_url(disputed))
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Release to seller", "Refund buyer", "Split", "Amount to seller (USD or %)"):
        assert label in html
    assert 'id="escrow-balance"' in html
    # A release shows the fee and net before any click.
    assert "80.00\u00a0USD" in html and "20.00\u00a0USD" in html
    # No field can be saved from the page itself.
    assert 'name="_save"' not in html


def test_the_first_click_only_shows_the_figures_and_changes_nothing(staff_client, disputed):
    response = staff_client.post(resolve_url(disputed, "split"), {"seller_amount": "30.00"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Confirm: Split" in html
    assert "30.00\u00a0USD" in html  # the seller's part
    assert "6.00\u00a0USD" in html  # the fee, on the seller's part only
    assert "24.00\u00a0USD" in html  # the seller's net
    assert "70.00\u00a0USD" in html  # the buyer's part
    # Regression (issue 32): it said "Back to the buyer's balance 70.00" while the buyer receives 73.85.
    assert "3.85\u00a0USD" in html and "Buyer receives back</th><td><strong>73.85\u00a0USD" in html
    assert "Back to the buyer's balance" not in html
    assert_unchanged(disputed)


def test_release_pays_the_seller_as_an_approval_less_the_fee(staff_client, staff, disputed, order, audit):
    response = confirm(staff_client, disputed, "release", note="The work matches the brief.")
    assert response.status_code == 302
    assert response.url == change_url(disputed)

    disputed.refresh_from_db()
    assert disputed.state == DisputeState.RESOLVED
    assert disputed.outcome == "release"
    assert disputed.resolved_by == staff
    assert disputed.resolution_note == "The work matches the brief."
    earning = Earning.objects.get(milestone=disputed.milestone)
    assert (earning.gross, earning.fee, earning.net) == (usd("100.00"), usd("20.00"), usd("80.00"))
    assert earning.status == EarningStatus.PENDING
    assert balance(AccountKind.SELLER_PENDING, order.seller) == usd("80.00")
    assert balance(AccountKind.BUYER_BALANCE, order.buyer) == usd("0.00")
    assert escrow_balance(disputed.milestone) == usd("0.00")
    assert Milestone.objects.get(pk=disputed.milestone_id).state == S.RESOLVED
    audit()

    assert resolved_notifications(order.seller) and resolved_notifications(order.buyer)
    log = admin_log(disputed)
    assert log.user == staff
    assert "Released to seller" in log.get_change_message()
    assert "The work matches the brief." in log.get_change_message()
    # The order's activity log has it too (written by the service).
    assert disputed.milestone.activities.filter(verb="resolved", actor=staff).exists()

    page = staff_client.get(response.url)
    assert "Dispute resolved." in page.content.decode()


def test_refund_puts_the_escrow_in_the_buyers_balance(staff_client, staff, disputed, order, audit):
    response = confirm(staff_client, disputed, "refund", note="Nothing was delivered.")
    assert response.status_code == 302

    disputed.refresh_from_db()
    assert (disputed.state, disputed.outcome) == (DisputeState.RESOLVED, "refund")
    assert disputed.buyer_amount == usd("100.00")
    # A full refund returns the service fee too, as decline and cancel do.
    assert balance(AccountKind.BUYER_BALANCE, order.buyer) == usd("105.50")
    assert balance(AccountKind.SELLER_PENDING, order.seller) == usd("0.00")
    assert not Earning.objects.filter(milestone=disputed.milestone).exists()
    assert escrow_balance(disputed.milestone) == usd("0.00")
    audit()
    assert resolved_notifications(order.seller) and resolved_notifications(order.buyer)
    assert "Refunded to buyer" in admin_log(disputed).get_change_message()


def test_split_pays_exactly_the_amount_typed_with_the_fee_on_the_sellers_part(
    staff_client, staff, disputed, order, audit
):
    response = confirm(staff_client, disputed, "split", seller_amount="30.00", note="Half the screens were done.")
    assert response.status_code == 302

    disputed.refresh_from_db()
    assert (disputed.state, disputed.outcome) == (DisputeState.RESOLVED, "split")
    assert (disputed.seller_amount, disputed.buyer_amount) == (usd("30.00"), usd("70.00"))
    earning = Earning.objects.get(milestone=disputed.milestone)
    assert (earning.gross, earning.fee, earning.net) == (usd("30.00"), usd("6.00"), usd("24.00"))
    assert balance(AccountKind.SELLER_PENDING, order.seller) == usd("24.00")
    # 70% of the 5.50 service fee comes back with the 70.00: 3.85.
    assert balance(AccountKind.BUYER_BALANCE, order.buyer) == usd("73.85")
    settlement = Transaction.objects.get(idempotency_key=f"settle:{disputed.milestone_id}")
    fee_lines = sorted(e.amount for e in settlement.entries.filter(account__kind=AccountKind.PLATFORM_FEES))
    assert fee_lines == [usd("-3.85"), usd("6.00")], "commission on the seller's part, the fee's share returned"
    assert escrow_balance(disputed.milestone) == usd("0.00")
    audit()

    seller_messages = resolved_notifications(order.seller)
    buyer_messages = resolved_notifications(order.buyer)
    assert len(seller_messages) == 1 and len(buyer_messages) == 1
    assert "24.00\u00a0USD" in seller_messages[0]
    log = admin_log(disputed).get_change_message()
    assert "Split" in log and "30.00\u00a0USD" in log and "73.85\u00a0USD to the buyer" in log


@pytest.mark.parametrize(("outcome", "data"), [("release", {}), ("refund", {}), ("split", {"seller_amount": "40.00"})])
def test_resolving_starts_the_next_accepted_phase(staff_client, disputed, order, outcome, data):
    second = create_milestone(order, title="Build", amount="50.00")
    second = milestone_accept(milestone=second, actor=order.seller)
    assert second.state == S.ACCEPTED  # queued behind the disputed one

    assert confirm(staff_client, disputed, outcome, **data).status_code == 302

    second = Milestone.objects.get(pk=second.pk)
    assert second.state == S.IN_PROGRESS
    assert second.started_at is not None


def test_a_second_resolution_in_the_admin_shows_an_error_and_changes_nothing(staff_client, disputed, order, audit):
    assert confirm(staff_client, disputed, "split", seller_amount="30.00").status_code == 302
    before = (balance(AccountKind.SELLER_PENDING, order.seller), balance(AccountKind.BUYER_BALANCE, order.buyer))

    # A second member of staff, on a page loaded before the first click.
    response = confirm(staff_client, disputed, "refund", note="I think the buyer is right.", follow=False)
    assert response.status_code == 302
    page = staff_client.get(response.url)
    assert "already resolved; nothing was changed" in page.content.decode()

    disputed.refresh_from_db()
    assert disputed.outcome == "split"
    assert settle_transactions(disputed) == 1
    assert (
        balance(AccountKind.SELLER_PENDING, order.seller),
        balance(AccountKind.BUYER_BALANCE, order.buyer),
    ) == before
    assert LogEntry.objects.filter(object_id=str(disputed.pk)).count() == 1
    assert len(resolved_notifications(order.buyer)) == 1
    audit()


def test_a_resolved_dispute_shows_its_outcome_and_no_buttons(staff_client, disputed):
    confirm(staff_client, disputed, "refund")
    html = staff_client.get(change_url(disputed)).content.decode()
    assert "Refunded to buyer" in html
    assert "Release to seller</button>" not in html


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("0", "more than"),
        ("0.00", "more than"),
        ("-5.00", "more than"),
        ("100.00", "less than the"),
        ("150.00", "less than the"),
        ("10.005", "at most two decimal places"),
        ("ten dollars", "Enter a number"),
        ("", "Enter the amount for the seller"),
        ("NaN", "Enter a number"),
        ("0%", "more than 0%"),
        ("100%", "less than 100%"),
        ("0.001%", "more than"),
    ],
)
def test_a_bad_split_amount_gives_a_clear_error_and_changes_nothing(staff_client, disputed, typed, error):
    response = confirm(staff_client, disputed, "split", seller_amount=typed)
    assert response.status_code == 200
    html = response.content.decode()
    assert error in html
    assert "Nothing was changed." in html
    assert "Confirm: Split" not in html  # no figures to confirm until the amount is right
    assert_unchanged(disputed)


def test_the_note_is_required_to_confirm(staff_client, disputed):
    response = confirm(staff_client, disputed, "release", note="  ")
    assert response.status_code == 200
    assert "Write a note to both parties" in response.content.decode()
    assert_unchanged(disputed)


def test_an_unknown_outcome_is_not_found(staff_client, disputed):
    response = confirm(staff_client, disputed, "keep")
    assert response.status_code == 404
    assert_unchanged(disputed)


def test_the_buttons_accept_post_only(staff_client, disputed):
    response = staff_client.get(resolve_url(disputed, "release"))
    assert response.status_code == 405
    assert_unchanged(disputed)
