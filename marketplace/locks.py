"""Row locks, taken in one fixed order so two services never deadlock.

Every service that changes a state or moves money locks, inside its
``transaction.atomic()``:

1. the order (``lock_order``), which serialises everything on one order:
   sequential activation of phases depends on seeing all its milestones;
2. then the milestone(s) of that order (``lock_milestone``);
3. then the ledger accounts, in ascending id (done by ``payments.services.ledger_post``).

Flows with no order (clearance, withdrawals) start at step 2 or 3 with the
rows they own (earning, withdrawal) and then the accounts. Locks are
``SELECT ... FOR UPDATE``; on SQLite (demo only) the IMMEDIATE transaction
mode serialises writers instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from milestones.models import Milestone
    from orders.models import Order


def lock_order(order_id: int) -> Order:
    from orders.models import Order

    # of=("self",): the joined buyer and seller rows are read, not locked;
    # locking them would make every write by one user queue behind their
    # writes on all their other orders.
    return Order.objects.select_for_update(of=("self",)).select_related("buyer", "seller").get(pk=order_id)


def lock_milestone(milestone_id: int) -> Milestone:
    """Lock a milestone and, first, its order. Returns the fresh milestone."""
    from milestones.models import Milestone

    order_id = Milestone.objects.values_list("order_id", flat=True).get(pk=milestone_id)
    order = lock_order(order_id)
    milestone = Milestone.objects.select_for_update().get(pk=milestone_id)
    milestone.order = order
    return milestone
