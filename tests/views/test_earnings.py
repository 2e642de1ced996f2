"""The earnings page: balances from the ledger, pending earnings with their
clearance date, withdrawals (and their replay), the ledger history."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from milestones.models import MilestoneState
from payments.models import Account, AccountKind, Earning, Withdrawal
from payments.services import earning_clear, withdrawal_process
from tests.factories import OrderFactory, UserFactory, milestone_in, payout_account_set

S = MilestoneState
pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def balance(user, kind: str, currency: str = "USD") -> Money:
    account = Account.objects.filter(user=user, kind=kind, currency=currency).first()
    return account.cached_balance if account else Money(0, currency)


def dd(html: str, label: str) -> str:
    """The value shown under a balance label on the page."""
    match = re.search(rf"<dt>{re.escape(label)}</dt><dd[^>]*>([^<]*)</dd>", html)
    assert match, label
    return match.group(1)


def form_key(html: str) -> str:
    return re.search(r'name="key" value="([0-9a-f]+)"', html).group(1)


@pytest.fixture
def instant_seller(seller):
    """A seller paid at once on approval: 100.00 approved → 80.00 USD available."""
    seller.withdrawal_method = WithdrawalMethod.INSTANT
    seller.save()
    return seller


@pytest.fixture
def available(buyer, instant_seller):
    milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=instant_seller), amount="100.00")
    assert balance(instant_seller, AccountKind.SELLER_AVAILABLE) == Money("80.00", "USD")
    return instant_seller


def withdraw(client, seller, amount: str, key: str | None = None, currency: str = "USD"):
    client.force_login(seller)
    if key is None:
        key = form_key(text(client.get(reverse("earnings"))))
    return client.post(reverse("withdraw"), {"amount": amount, "currency": currency, "key": key})


# --- balances ----------------------------------------------------------------------


def test_pending_earning_shows_when_it_clears(client, buyer, seller, audit):
    milestone = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller), title="Logo")
    earning = Earning.objects.get(milestone=milestone)
    client.force_login(seller)
    html = text(client.get(reverse("earnings")))
    assert html.count("<h1") == 1
    assert dd(html, "Pending clearance") == "80.00\u00a0USD"
    assert dd(html, "Available to withdraw") == "0.00\u00a0USD"
    assert "Logo" in html
    # In words and exact: "in 14 days · 10 Dec 09:00" (bank transfer: 14 days).
    assert f'<time datetime="{earning.clears_at.replace(microsecond=0).isoformat()}"' in html
    assert re.search(r">in 14 days · \d+ \w{3} \d\d:\d\d</time>", html)
    assert f"{reverse('order_detail', args=[milestone.order_id])}#milestone-{milestone.pk}" in html
    audit()


def test_cleared_money_becomes_available(client, buyer, seller):
    milestone = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller))
    earning = Earning.objects.get(milestone=milestone)
    assert earning_clear(earning_id=earning.pk, now=earning.clears_at + timedelta(seconds=1))
    client.force_login(seller)
    html = text(client.get(reverse("earnings")))
    assert dd(html, "Pending clearance") == "0.00\u00a0USD"
    assert dd(html, "Available to withdraw") == "80.00\u00a0USD"


def test_shown_balances_equal_the_ledger(client, available, audit):
    withdraw(client, available, "30.00")
    report = audit()
    html = text(client.get(reverse("earnings")))
    assert dd(html, "Available to withdraw") == "50.00\u00a0USD"
    assert dd(html, "Withdrawal in flight") == "30.00\u00a0USD"
    assert report.ok


def test_buyer_sees_refunds_as_their_balance(client, buyer, seller):
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=buyer, seller=seller), amount="100.00")
    client.force_login(buyer)
    html = text(client.get(reverse("earnings")))
    expected = balance(buyer, AccountKind.BUYER_BALANCE)
    assert expected.amount > 0
    assert dd(html, "Your balance as a buyer (refunds)") == f"{expected.amount:,.2f}\u00a0USD"
    assert "Your balance (refunds)" in text(client.get(reverse("dashboard")))


def test_a_user_with_no_money_sees_an_empty_state(client, outsider):
    client.force_login(outsider)
    html = text(client.get(reverse("earnings")))
    assert "No earnings yet" in html
    assert "Nothing is available to withdraw yet." in html


# --- withdrawing ----------------------------------------------------------------------


def test_withdraw_moves_available_money_to_in_flight(client, available, audit):
    response = withdraw(client, available, "30.00")
    assert response["Location"] == reverse("earnings")
    withdrawal = Withdrawal.objects.get()
    assert withdrawal.amount == Money("30.00", "USD") and withdrawal.method == "instant"
    assert balance(available, AccountKind.SELLER_AVAILABLE) == Money("50.00", "USD")
    html = text(client.get(reverse("earnings")))
    assert "Withdrawal of 30.00\u00a0USD requested" in html
    assert "badge-requested" in html and ">Requested<" in html
    audit()


def test_withdraw_form_has_amount_and_button(client, available):
    client.force_login(available)
    html = text(client.get(reverse("earnings")))
    assert ">Amount</label>" in html and ">Withdraw</button>" in html
    assert "Available: 80.00\u00a0USD" in html
    assert f'action="{reverse("withdraw")}"' in html


def test_a_replayed_withdraw_form_changes_nothing(client, available, audit):
    client.force_login(available)
    key = form_key(text(client.get(reverse("earnings"))))
    withdraw(client, available, "30.00", key=key)
    response = withdraw(client, available, "30.00", key=key)
    assert response["Location"] == reverse("earnings")
    assert "already requested" in text(client.get(reverse("earnings")))
    assert Withdrawal.objects.count() == 1
    assert balance(available, AccountKind.SELLER_AVAILABLE) == Money("50.00", "USD")
    audit()


def test_each_rendering_of_the_form_gets_a_new_key(client, available):
    client.force_login(available)
    first = form_key(text(client.get(reverse("earnings"))))
    second = form_key(text(client.get(reverse("earnings"))))
    assert first != second


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("80.01", "more than your available balance"),
        ("1000", "more than your available balance"),
        ("0", "greater than zero"),
        ("-5", "greater than zero"),
        ("1.234", "2 decimal places"),
        ("abc", "Enter a number."),
        ("", "This field is required."),
    ],
)
def test_bad_withdraw_amount_gets_a_field_error_and_changes_nothing(client, available, amount, message):
    response = withdraw(client, available, amount)
    assert response.status_code == 400
    html = text(response)
    error = re.search(r'<p class="field-error" id="id_amount_error">([^<]*)</p>', html)
    assert error and message in error.group(1), html
    assert not Withdrawal.objects.exists()
    assert balance(available, AccountKind.SELLER_AVAILABLE) == Money("80.00", "USD")


def test_withdrawing_a_currency_you_do_not_hold_is_refused(client, available):
    response = withdraw(client, available, "10.00", currency="EUR")
    assert response.status_code == 400
    assert not Withdrawal.objects.exists()


def test_withdraw_without_a_payout_account_says_where_to_add_one(client, available):
    available.payout_account = ""
    available.save()
    response = withdraw(client, available, "10.00")
    assert response.status_code == 400
    assert "payout account" in text(response)
    assert not Withdrawal.objects.exists()


def test_withdraw_is_post_only_and_needs_login(client, available):
    client.force_login(available)
    assert client.get(reverse("withdraw")).status_code == 405
    client.logout()
    response = client.post(reverse("withdraw"), {"amount": "10", "currency": "USD", "key": "a" * 32})
    assert response["Location"].startswith("/accounts/login/")
    assert not Withdrawal.objects.exists()


def test_paid_withdrawals_count_as_withdrawn(client, available, audit):
    withdraw(client, available, "30.00")
    withdrawal_process(withdrawal_id=Withdrawal.objects.get().pk)
    html = text(client.get(reverse("earnings")))
    assert dd(html, "Withdrawn") == "30.00\u00a0USD"
    assert dd(html, "Withdrawal in flight") == "0.00\u00a0USD"
    assert "badge-paid" in html
    audit()


# --- the ledger history ----------------------------------------------------------------


def test_ledger_history_lists_the_users_entries_newest_first(client, available):
    withdraw(client, available, "30.00")
    html = text(client.get(reverse("earnings")))
    ledger = html[html.index('id="ledger"') :]
    # The withdrawal (newest) comes before the release that paid the seller.
    assert ledger.index("Withdrawal requested") < ledger.index("Released to seller")
    assert "+80.00\u00a0USD" in ledger and "−30.00\u00a0USD" in ledger


def test_ledger_history_is_paginated(client, available):
    client.force_login(available)
    for _ in range(14):  # each withdrawal writes two entries on the seller's accounts
        withdraw(client, available, "1.00")
    first = text(client.get(reverse("earnings")))
    second = text(client.get(reverse("earnings") + "?page=2"))
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Released to seller" not in first[first.index('id="ledger"') :]
    assert "Released to seller" in second


def test_someone_elses_money_is_not_shown(client, available, outsider):
    client.force_login(outsider)
    html = text(client.get(reverse("earnings")))
    assert "80.00" not in html


# --- queries ------------------------------------------------------------------------


def _earn(buyer, seller, n: int) -> None:
    now = timezone.now()
    for i in range(n):
        milestone = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller), amount="20.00")
        if i % 2:
            earning_clear(earning_id=milestone.earning.pk, now=now + timedelta(days=30))
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=seller, seller=buyer))


def test_earnings_query_count_does_not_grow(client, buyer, seller, django_assert_max_num_queries, settings):
    settings.PAGE_CACHE_SECONDS = 0  # every view rendered in full: what a view after a change costs

    def count() -> int:
        client.force_login(seller)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("earnings")).status_code == 200
        return len(queries)

    _earn(buyer, seller, 3)
    withdraw(client, seller, "5.00")
    few = count()
    _earn(buyer, seller, 27)
    withdraw(client, seller, "5.00")
    assert count() == few
    # 13: with money available, whether the e-mail is confirmed (the withdraw form asks for it);
    # 14: with a balance as a buyer too, what the cards that paid can take back ("Refund to card").
    with django_assert_max_num_queries(14):
        client.get(reverse("earnings"))


def test_the_ledger_pages_through_every_account_newest_first_without_gaps_or_repeats(buyer, seller):
    """The page is cut from each account's own newest entries (``payments.selectors._LedgerIds``):
    read page by page, it is the whole ledger in the order the ORM sorts it."""
    from payments.models import Entry
    from payments.selectors import balances_for, ledger_page_for

    _earn(buyer, seller, 5)  # pending and available accounts, the seller's buyer balance from the cancel
    expected = list(
        Entry.objects.filter(account__user=seller).order_by("-transaction_id", "-id").values_list("pk", flat=True)
    )
    balances = balances_for(seller)
    assert len({pk for row in balances for pk in row.account_ids}) >= 3
    seen: list[int] = []
    number = 1
    while True:
        page, entries = ledger_page_for(balances, number, per_page=4)
        assert page.paginator.count == len(expected)
        seen += [entry.pk for entry in entries]
        if not page.has_next():
            break
        number += 1
    assert seen == expected
    assert ledger_page_for(balances, "junk", per_page=4)[0].number == 1


def test_pending_earnings_are_listed_per_currency(client, buyer, seller):
    for currency in ("USD", "EUR"):
        milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller, currency=currency), title=currency)
    client.force_login(seller)
    html = text(client.get(reverse("earnings")))
    eur_card = html[html.index('id="bal-EUR"') : html.index('id="bal-USD"')]
    usd_card = html[html.index('id="bal-USD"') : html.index('id="withdraw"')]
    # Each currency's card lists its own earning, and only that one.
    assert ">EUR</a>" in eur_card and ">USD</a>" not in eur_card
    assert ">USD</a>" in usd_card and ">EUR</a>" not in usd_card
    assert "80.00\u00a0EUR" in eur_card and "80.00\u00a0USD" in usd_card


# --- the balances and history are rendered once per change of the ledger and reused (marketplace.pages) ----


def reads_history(queries) -> bool:
    return any("payments_withdrawal" in q["sql"] or "payments_earning" in q["sql"] for q in queries.captured_queries)


def test_a_second_view_reuses_the_history_and_every_ledger_change_shows_at_once(client, buyer, seller):
    milestone = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller), title="Logo")
    client.force_login(seller)
    assert "Clearing soon" in text(client.get(reverse("earnings")))
    with CaptureQueriesContext(connection) as again:
        client.get(reverse("earnings"))
    assert not reads_history(again), "the second view read the history again"

    earning_clear(earning_id=milestone.earning.pk, now=timezone.now() + timedelta(days=30))
    html = text(client.get(reverse("earnings")))
    assert "Clearing soon" not in html
    assert dd(html, "Available to withdraw") == "80.00\xa0USD"

    assert withdraw(client, seller, "30.00").status_code == 302
    html = text(client.get(reverse("earnings")))
    assert dd(html, "Available to withdraw") == "50.00\xa0USD"
    assert dd(html, "Withdrawal in flight") == "30.00\xa0USD"
    assert "Requested" in html


def test_the_withdraw_form_is_made_fresh_on_a_reused_page(client, buyer, seller):
    """Its one-use key and the CSRF token are the view's own, never the cached page's."""
    milestone = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller))
    earning_clear(earning_id=milestone.earning.pk, now=timezone.now() + timedelta(days=30))
    client.force_login(seller)
    first = form_key(text(client.get(reverse("earnings"))))
    second = form_key(text(client.get(reverse("earnings"))))
    assert first != second
    assert withdraw(client, seller, "10.00", key=second).status_code == 302
    assert Withdrawal.objects.filter(seller=seller).count() == 1


# --- why an earning clears when it does, and the first choice of method ---------------------------


def test_an_earning_says_the_method_it_was_released_under_after_a_switch_to_instant(client, buyer, seller):
    """Released under bank transfer, the earning keeps its 14 days after the seller switches to
    instant; the page says why, and that the new method applies to earnings released from now on."""
    milestone = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller), title="Logo")
    earning = Earning.objects.get(milestone=milestone)
    assert earning.method == WithdrawalMethod.BANK_TRANSFER
    client.force_login(seller)
    client.get(reverse("earnings"))  # rendered (and kept) under bank transfer, before the switch
    payout_account_set(seller, "4000 0566 5566 5556", method=WithdrawalMethod.INSTANT)
    html = text(client.get(reverse("earnings")))
    released, clears = (timezone.localtime(t).strftime("%-d %b") for t in (earning.created_at, earning.clears_at))
    assert f"Released on {released} under Bank transfer, 14 days: available {clears}" in html
    assert "earnings released from now on are available at once" in html
    assert (
        "You are now paid by Instant (debit card): it applies to earnings released from now on, "
        "which are available at once. Those above keep the method they were released under."
    ) in html
    earning.refresh_from_db()
    assert earning.method == WithdrawalMethod.BANK_TRANSFER and earning.clearance_period == timedelta(days=14)


def test_an_earning_under_the_current_method_needs_no_word_about_a_change(client, buyer, seller):
    milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller))
    client.force_login(seller)
    html = text(client.get(reverse("earnings")))
    assert "under Bank transfer, 14 days: available" in html
    assert "You are now paid by" not in html


@pytest.fixture
def new_seller(buyer):
    """A seller who never chose a method (on the default, bank transfer) and has no payout account,
    with 80.00 USD pending."""
    seller = UserFactory(username="nina_new", withdrawal_method_chosen_at=None, payout_account="", payout_token="")
    milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller), amount="100.00")
    return seller


def test_a_new_seller_is_asked_to_choose_a_method_first_with_each_period(client, new_seller):
    client.force_login(new_seller)
    html = text(client.get(reverse("earnings")))
    assert "Choose how you are paid before your first withdrawal." in html
    assert f'action="{reverse("withdrawal_method_choose")}"' in html
    assert "<legend>How do you want to be paid?</legend>" in html
    for choice in (
        "Instant (debit card) — available as soon as it is released",
        "PayPal — clears 3 days after release",
        "Bank transfer — clears 14 days after release",
    ):
        assert choice in html
    # Nothing is chosen for them.
    assert not re.search(r'name="withdrawal_method"[^>]*checked', html)
    assert "You have not chosen how you are paid yet" in html


def test_a_seller_who_chose_is_not_asked(client, available):
    client.force_login(available)
    html = text(client.get(reverse("earnings")))
    assert "Choose how you are paid before your first withdrawal." not in html
    assert form_key(html)


def test_choosing_a_method_on_the_earnings_page(client, buyer, new_seller):
    client.force_login(new_seller)
    response = client.post(reverse("withdrawal_method_choose"), {"withdrawal_method": "paypal"}, follow=True)
    assert "You are paid by PayPal: earnings released from now on are cleared after 3 days." in text(response)
    new_seller.refresh_from_db()
    assert new_seller.withdrawal_method == WithdrawalMethod.PAYPAL and new_seller.has_chosen_withdrawal_method
    assert "Choose how you are paid before your first withdrawal." not in text(response)
    # The earning already pending keeps bank transfer; the next one is released under PayPal.
    later = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=new_seller))
    assert Earning.objects.get(milestone=later).method == WithdrawalMethod.PAYPAL
    assert {e.method for e in Earning.objects.filter(seller=new_seller)} == {"bank_transfer", "paypal"}
    # A second choice goes through the profile (which asks for the password).
    again = client.post(reverse("withdrawal_method_choose"), {"withdrawal_method": "instant"}, follow=True)
    assert "You have already chosen how you are paid; change it in your profile." in text(again)
    new_seller.refresh_from_db()
    assert new_seller.withdrawal_method == WithdrawalMethod.PAYPAL


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"withdrawal_method": "bitcoin"}, "Choose one of the withdrawal methods listed."),
        ({}, "Choose how you want to be paid."),
    ],
)
def test_a_bad_method_choice_gets_a_clear_error_and_changes_nothing(client, new_seller, data, message):
    client.force_login(new_seller)
    response = client.post(reverse("withdrawal_method_choose"), data)
    assert response.status_code == 400
    html = text(response)
    assert f'<p class="field-error" id="id_withdrawal_method_error">{message}</p>' in html
    new_seller.refresh_from_db()
    assert new_seller.withdrawal_method == WithdrawalMethod.BANK_TRANSFER
    assert not new_seller.has_chosen_withdrawal_method


def test_a_withdrawal_waits_for_the_choice_of_method(client, buyer, audit):
    """Money available (from a refund to the balance), a payout account, but no method chosen:
    the withdrawal is refused with the reason and nothing moves."""
    user = UserFactory(username="ursula", withdrawal_method_chosen_at=None)
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=user), amount="100.00")
    before = balance(user, AccountKind.BUYER_BALANCE)
    assert before.amount > 0
    client.force_login(user)
    assert f'action="{reverse("withdraw")}"' not in text(client.get(reverse("earnings")))  # the choice is asked
    response = withdraw(client, user, "10.00", key="a" * 32)  # a form kept from before, or a script
    assert response.status_code == 400
    assert "Choose how you are paid before your first withdrawal." in text(response)
    assert balance(user, AccountKind.BUYER_BALANCE) == before
    assert not Withdrawal.objects.filter(seller=user).exists()
    audit()
