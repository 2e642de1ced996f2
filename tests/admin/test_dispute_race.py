"""Two members of staff resolve the same dispute at the same moment."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client

from marketplace.errors import DomainError, InvalidTransition
from milestones.models import Dispute, DisputeState
from milestones.models import MilestoneState as S
from milestones.services.disputes import dispute_resolve
from notifications.models import Notification
from payments.ledger import account_for
from payments.models import AccountKind, Earning, Transaction
from tests.admin.conftest import resolve_url
from tests.factories import OrderFactory, StaffFactory, milestone_in, staff_login


@pytest.mark.django_db(transaction=True)
def test_two_staff_resolving_at_once_give_one_outcome(audit):
    order = OrderFactory()
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00")
    dispute = Dispute.objects.get(milestone=milestone)
    first, second = StaffFactory(), StaffFactory()
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def resolve(name: str, actor, outcome: str) -> None:
        try:
            barrier.wait(timeout=10)
            dispute_resolve(dispute=dispute, actor=actor, outcome=outcome, note=f"{name} decides")
            results[name] = outcome
        except DomainError as error:
            results[name] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=resolve, args=("first", first, "release")),
        threading.Thread(target=resolve, args=("second", second, "refund")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    won = [name for name, result in results.items() if isinstance(result, str)]
    lost = [result for result in results.values() if not isinstance(result, str)]
    assert len(won) == 1, results
    assert len(lost) == 1 and isinstance(lost[0], InvalidTransition)
    assert "already resolved" in lost[0].message

    dispute.refresh_from_db()
    assert dispute.state == DisputeState.RESOLVED
    assert dispute.outcome == results[won[0]]
    assert Transaction.objects.filter(idempotency_key=f"settle:{milestone.pk}").count() == 1
    assert Notification.objects.filter(event="dispute_resolved").count() == 2  # one each, once
    seller_pending = account_for(kind=AccountKind.SELLER_PENDING, currency="USD", user=order.seller).cached_balance
    buyer_balance = account_for(kind=AccountKind.BUYER_BALANCE, currency="USD", user=order.buyer).cached_balance
    if dispute.outcome == "release":
        assert (seller_pending.amount, buyer_balance.amount) == (80, 0)
        assert Earning.objects.filter(milestone=milestone).count() == 1
    else:
        # A full refund returns the 5.50 service fee too.
        assert (seller_pending.amount, buyer_balance.amount) == (0, Decimal("105.50"))
        assert not Earning.objects.filter(milestone=milestone).exists()
    audit()


@pytest.mark.django_db(transaction=True)
def test_two_staff_clicking_confirm_in_the_admin_at_once_resolve_it_once(audit):
    order = OrderFactory()
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00")
    dispute = Dispute.objects.get(milestone=milestone)
    barrier = threading.Barrier(2)
    said: dict[str, list[str]] = {}

    def click(name: str, outcome: str, data: dict) -> None:
        client = Client()
        staff_login(client, StaffFactory(username=name))
        try:
            barrier.wait(timeout=10)
            response = client.post(resolve_url(dispute, outcome), {"confirm": "1", "note": name, **data})
            said[name] = [str(m) for m in get_messages(response.wsgi_request)]
        finally:
            connection.close()

    threads = [
        threading.Thread(target=click, args=("ann_staff", "split", {"seller_amount": "30.00"})),
        threading.Thread(target=click, args=("ben_staff", "refund", {})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    texts = [" ".join(messages) for messages in said.values()]
    assert len(texts) == 2
    assert sum("Dispute resolved." in text for text in texts) == 1
    assert sum("already resolved; nothing was changed" in text for text in texts) == 1
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.RESOLVED
    assert Transaction.objects.filter(idempotency_key=f"settle:{milestone.pk}").count() == 1
    assert LogEntry.objects.filter(object_id=str(dispute.pk)).count() == 1
    assert LogEntry.objects.get(object_id=str(dispute.pk)).user.username == dispute.resolved_by.username
    audit()
