"""Every balance can leave (issue 32, items 1 and 5), in real Chromium: a buyer cancels a milestone,
types their IBAN as the payout account (kept as "•••• 5432"), is told by "Your data" exactly which
step frees the account, withdraws the refund on the Earnings page, and, once the payout is sent,
deletes the account.

Regression: before the fix the Earnings page said "Available to withdraw 0.00 USD" with no
withdraw form, and "Your data" said only "Buyer balance holds 105.50 USD: withdraw or spend it".
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from milestones.models import MilestoneState as S
from payments.audit import ledger_audit
from payments.models import Withdrawal
from payments.services import withdrawal_process
from tests.browser.conftest import PASSWORD, log_in
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
IBAN = "GB82 WEST 1234 5698 7654 32"


def test_a_buyer_withdraws_a_cancelled_milestones_refund_then_deletes_the_account(page):
    buyer = UserFactory(username="carla_buyer", payout_account="", payout_token="")
    order = OrderFactory(buyer=buyer, title="Logo")
    milestone_in(S.AWAITING_ACCEPTANCE, order=order, amount="100.00", title="Concepts")
    log_in(page, buyer)

    # The buyer cancels before the seller accepts: 100.00 and the 5.50 service fee back to the balance.
    page.goto(order.get_absolute_url())
    page.get_by_role("button", name="Cancel", exact=True).click()
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("body")).to_contain_text("You cancelled “Concepts”")

    # The payout account, typed whole once and kept as its last four characters.
    page.goto("/accounts/profile/")
    page.get_by_label("Payout account").fill(IBAN)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("body")).to_contain_text("Your profile is saved.")
    expect(page.get_by_label("Payout account")).to_have_value("•••• 5432")

    # "Your data" names the step that frees the account, and links to where it is done.
    page.get_by_role("link", name="Your data").click()
    step = "Withdraw your 105.50 USD balance on the Earnings page first."
    blocker = page.get_by_role("listitem").filter(has_text=step)
    expect(blocker).to_be_visible()
    expect(page.get_by_role("button", name="Delete my account")).to_have_count(0)
    blocker.get_by_role("link", name="Earnings").click()

    balance = page.locator(".balance-main")
    expect(balance).to_contain_text("Available to withdraw")
    expect(balance).to_contain_text("105.50 USD")
    expect(page.locator("#withdraw")).to_contain_text("Paid to your Bank transfer (•••• 5432).")
    page.get_by_label("Amount", exact=True).fill("105.50")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.locator("body")).to_contain_text("Withdrawal of 105.50 USD requested to your Bank transfer.")
    expect(page.locator(".balance-main")).to_contain_text("0.00 USD")
    expect(page.locator("body")).not_to_contain_text(IBAN.replace(" ", ""))

    # Still being paid out: the page says to wait. Then the worker pays it (here, the same call).
    page.goto("/accounts/data/")
    expect(page.locator("body")).to_contain_text("Your withdrawal of 105.50 USD is still being paid out")
    withdrawal = Withdrawal.objects.get(seller=buyer)
    assert withdrawal.destination == "•••• 5432"
    assert withdrawal_process(withdrawal_id=withdrawal.pk).status == "paid"

    page.reload()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("I understand my account cannot be recovered").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("body")).to_contain_text("Your account is deleted.")
    deleted = User.objects.get(pk=buyer.pk)
    assert not deleted.is_active and re.fullmatch(r"deleted-\d+", deleted.username)
    report = ledger_audit()
    assert report.ok, report.summary()
