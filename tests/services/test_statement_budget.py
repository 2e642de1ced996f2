"""The money paths in a fixed number of statements (issue 16): an approval
reads its accounts in one query and does not grow with the order's other
milestones; a clearance batch moves every balance in one statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import WithdrawalMethod
from milestones.models import MilestoneState as S
from milestones.services.lifecycle import milestone_approve
from payments.ledger import Want, account_for, accounts_for
from payments.models import Account, AccountKind
from payments.services import earnings_clear_batch
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db

# An approval whose accounts exist, counted as the test sees it (the test's
# savepoint stands for BEGIN and COMMIT): lock the order through the milestone,
# then the milestone (2); read the accounts and lock the guarded ones, in one
# statement; the transaction (ON CONFLICT DO NOTHING: no savepoint, and no key
# check of its own); the entries; the balances in one UPDATE; the earning; the
# milestone (its changed columns only); the activity; the proposals; the
# order's open milestones; the order; the notice; and the savepoint (2). A
# change that adds a query per account or per milestone shows here. Plus the parties' webhook
# endpoints, one query per event (the release and the change of state: 2).
APPROVAL_BUDGET = 17


def _statements(fn) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("others", [0, 6])
def test_an_approval_costs_the_same_statements_however_many_milestones_the_order_has(others):
    seller = UserFactory(withdrawal_method=WithdrawalMethod.PAYPAL)
    # A first approval creates the seller's accounts; the one measured finds them.
    milestone_in(S.APPROVED, order=OrderFactory(seller=seller))
    order = OrderFactory(seller=seller)
    milestone = milestone_in(S.IN_REVIEW, order=order)
    for _ in range(others):
        milestone_in(S.AWAITING_ACCEPTANCE, order=order)  # open, and not next in line: nothing starts
    statements = _statements(lambda: milestone_approve(milestone=milestone, actor=order.buyer))
    account_reads = [s for s in statements if 'FROM "payments_account"' in s and s.startswith(("SELECT", "WITH"))]
    # One statement reads them all and locks the guarded ones (escrow, seller's pending) in id order,
    # and the platform's fee account, which every approval on the site credits, is read without a lock.
    assert len(account_reads) == 1, account_reads
    (locking, platform) = account_reads[0].split(" UNION ALL ")
    assert 'ORDER BY a."id" FOR UPDATE' in locking and "'escrow'" in locking and "'seller_pending'" in locking
    assert "'platform_fees'" in platform and "FOR UPDATE" not in platform
    assert not [s for s in statements if "payments_transaction" in s and s.startswith("SELECT")], "no key check"
    assert not [s for s in statements if s.startswith('INSERT INTO "payments_account"')], "no account is made"
    assert len(statements) == APPROVAL_BUDGET, "\n".join(statements)


def test_accounts_for_reads_every_account_in_one_query_and_makes_the_missing_ones():
    seller = UserFactory()
    pending = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=seller)
    fees = account_for(kind=AccountKind.PLATFORM_FEES, currency="USD")
    with CaptureQueriesContext(connection) as ctx:
        found = accounts_for(
            {"pending": Want(AccountKind.SELLER_PENDING, user=seller), "fees": Want(AccountKind.PLATFORM_FEES)},
            currency="USD",
        )
    assert found == {"pending": pending, "fees": fees}
    assert len(ctx) == 1
    # A missing account is made on first use, unless it is optional: then it is left out.
    found = accounts_for(
        {
            "available": Want(AccountKind.SELLER_AVAILABLE, user=seller),
            "balance": Want(AccountKind.BUYER_BALANCE, user=seller, optional=True),
        },
        currency="USD",
    )
    assert found == {"available": Account.objects.get(kind=AccountKind.SELLER_AVAILABLE, user=seller)}
    assert not Account.objects.filter(kind=AccountKind.BUYER_BALANCE, user=seller).exists()
    # An account in another currency is another account.
    euro = accounts_for({"pending": Want(AccountKind.SELLER_PENDING, user=seller)}, currency="EUR")["pending"]
    assert euro.currency == "EUR" and euro.pk != pending.pk


def test_a_clearance_batch_moves_every_balance_in_one_statement():
    sellers = [UserFactory(withdrawal_method=WithdrawalMethod.PAYPAL) for _ in range(3)]
    for seller in sellers:
        for _ in range(2):
            milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="50.00")
    from payments.models import Earning, EarningStatus

    ids = list(Earning.objects.filter(status=EarningStatus.PENDING).values_list("pk", flat=True))
    later = timezone.now() + timedelta(days=3, seconds=1)
    statements = _statements(lambda: earnings_clear_batch(earning_ids=ids, now=later))
    balance_updates = [s for s in statements if s.startswith('UPDATE "payments_account"')]
    assert len(balance_updates) == 1, statements
    for seller in sellers:
        available = Account.objects.get(kind=AccountKind.SELLER_AVAILABLE, user=seller, currency="USD")
        assert available.balance > 0


def test_an_approval_writes_only_the_milestones_changed_columns():
    seller = UserFactory(withdrawal_method=WithdrawalMethod.PAYPAL)
    order = OrderFactory(seller=seller)
    milestone = milestone_in(S.IN_REVIEW, order=order, title="Logo")
    statements = _statements(lambda: milestone_approve(milestone=milestone, actor=order.buyer))
    (update,) = [s for s in statements if s.startswith('UPDATE "milestones_milestone"')]
    assert '"state" = ' in update and '"approved_at" = ' in update
    assert '"title" = ' not in update and '"description" = ' not in update
    milestone.refresh_from_db()
    assert milestone.state == S.APPROVED and milestone.title == "Logo" and milestone.approved_at is not None
    assert milestone.seller_fee.amount > 0
