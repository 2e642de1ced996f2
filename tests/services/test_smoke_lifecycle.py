from decimal import Decimal

import pytest
from djmoney.money import Money

from milestones.models import MilestoneState as S
from payments.ledger import account_for
from payments.models import AccountKind
from tests.factories import milestone_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("state", [s.value for s in S])
def test_every_state_is_reachable_and_the_ledger_stays_true(state, audit):
    milestone = milestone_in(state)
    assert milestone.state == state
    audit()


def test_approval_pays_the_seller_less_commission(order, audit):
    milestone = milestone_in(S.APPROVED, order=order, amount="100.00")
    pending = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=order.seller)
    assert pending.cached_balance == Money(Decimal("80.00"), "USD")
    assert milestone.seller_fee == Money("20.00", "USD")
    audit()
