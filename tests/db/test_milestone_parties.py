"""A milestone carries its order's buyer and seller (the dashboards read one
party's milestones off indexes made for each section). The services write
them; PostgreSQL refuses a copy that disagrees with the order."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from dashboards.selectors import BUYER_SECTIONS, SELLER_SECTIONS, dashboard_for
from milestones.models import PARTY_LISTS, Milestone
from milestones.models import MilestoneState as S
from orders.models import Order
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db


def test_a_new_milestone_names_its_orders_parties():
    milestone = milestone_in(S.IN_PROGRESS)
    order = milestone.order
    assert (milestone.buyer_id, milestone.seller_id) == (order.buyer_id, order.seller_id)


def test_a_milestone_whose_parties_differ_from_its_orders_is_refused():
    milestone = milestone_in(S.IN_PROGRESS)
    stranger = UserFactory()
    with pytest.raises(IntegrityError, match="names buyer"), transaction.atomic():
        Milestone.objects.filter(pk=milestone.pk).update(buyer_id=stranger.pk)
    milestone.refresh_from_db()
    assert milestone.buyer_id == milestone.order.buyer_id


def test_a_milestone_moved_to_another_order_must_take_that_orders_parties():
    milestone = milestone_in(S.IN_PROGRESS)
    other = OrderFactory()
    with pytest.raises(IntegrityError, match="names buyer"), transaction.atomic():
        Milestone.objects.filter(pk=milestone.pk).update(order_id=other.pk)


def test_code_from_before_the_copy_gets_the_parties_from_the_order():
    """During a deploy, processes still running the old code insert milestones
    without the parties: the trigger fills them in."""
    milestone = milestone_in(S.IN_PROGRESS)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO milestones_milestone (position, title, description, deadline, amount_currency, amount,
                buyer_fee_currency, buyer_fee, state, funding_key, created_at, revision_count, decline_reason,
                order_id)
            SELECT 99, 'Old code', '', deadline, amount_currency, amount, buyer_fee_currency, buyer_fee,
                   'awaiting_acceptance', 'old-code-key', now(), 0, '', order_id
            FROM milestones_milestone WHERE id = %s
            RETURNING buyer_id, seller_id
            """,
            [milestone.pk],
        )
        assert cursor.fetchone() == (milestone.order.buyer_id, milestone.order.seller_id)


def test_an_orders_parties_cannot_change_once_it_has_milestones():
    milestone = milestone_in(S.IN_PROGRESS)
    with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
        Order.objects.filter(pk=milestone.order_id).update(buyer_id=UserFactory().pk)
    # An order without milestones yet is still free to change.
    empty = OrderFactory()
    Order.objects.filter(pk=empty.pk).update(buyer_id=UserFactory().pk)


@pytest.mark.parametrize(("role", "sections"), [("buyer", BUYER_SECTIONS), ("seller", SELLER_SECTIONS)])
def test_every_dashboard_section_has_its_own_index(role, sections):
    """A section added or changed without its index would quietly sort a
    user's whole history again: the two lists must agree."""
    indexed = {(party, tuple(states), tuple(order)) for _, party, states, order in PARTY_LISTS}
    for section in sections:
        order = tuple("id" if name == "pk" else name for name in section.order_by)
        assert (role, tuple(section.states), order) in indexed, section.key


def test_the_section_lists_read_their_partial_indexes():
    """On PostgreSQL's plan, not by timing: each section's page is an index scan of its own index."""
    milestone = milestone_in(S.IN_PROGRESS)
    seller = milestone.order.seller
    with connection.cursor() as cursor:
        # Statistics of this table as it is now, not as earlier tests left them.
        cursor.execute(f"ANALYZE {Milestone._meta.db_table}")
        cursor.execute("SET enable_seqscan = off")
        try:
            from dashboards.selectors import _list_sql

            for section in SELLER_SECTIONS:
                cursor.execute(
                    "EXPLAIN " + _list_sql("seller", section),
                    [section.key, seller.pk, *section.states, 10, 0],
                )
                plan = "\n".join(row[0] for row in cursor.fetchall())
                name = next(n for n, party, states, _ in PARTY_LISTS if party == "seller" and states == section.states)
                assert f"using {name} on" in plan.lower(), (section.key, plan)
                assert "Sort" not in plan, plan
        finally:
            cursor.execute("SET enable_seqscan = on")


def test_the_dashboard_lists_what_it_did_before():
    milestone = milestone_in(S.IN_PROGRESS)
    board = dashboard_for(milestone.order.seller, "seller")
    rows = board["in_progress"].milestones
    assert [row.pk for row in rows] == [milestone.pk]
    row = rows[0]
    assert row.order_title == milestone.order.title
    assert row.other_party == milestone.order.buyer.username
    assert row.amount == milestone.amount
    assert row.get_absolute_url() == milestone.get_absolute_url()
    assert row.get_state_display() == milestone.get_state_display()
    assert dashboard_for(milestone.order.buyer, "buyer")["in_progress"].milestones[0].pk == milestone.pk


@pytest.mark.parametrize("party", ["buyer", "seller"])
def test_the_dashboard_version_reads_the_partys_own_index_even_when_they_own_most_of_the_log(party):
    """On PostgreSQL's plan: a user with much of the activity log, whose latest entry is older than
    everyone else's, is still one probe of ``activity_<party>_latest``. ``max(id)`` walked the
    primary key backwards past everyone else's newer activity instead."""
    from dashboards.selectors import _latest_activity_sql
    from orders.models import Activity

    busy, other = OrderFactory(), OrderFactory()
    # The busy user's 600 entries first, then 400 of someone else's, newer.
    Activity.objects.bulk_create(
        Activity(order=order, verb="noted", buyer_id=order.buyer_id, seller_id=order.seller_id)
        for order in [busy] * 600 + [other] * 400
    )
    user_id = getattr(busy, f"{party}_id")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Activity._meta.db_table}")
        cursor.execute("EXPLAIN " + _latest_activity_sql(f"{party}_id"), [user_id, user_id])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        assert f"using activity_{party}_latest on" in plan.lower(), plan
        cursor.execute(_latest_activity_sql(f"{party}_id"), [user_id, user_id])
        (latest,) = cursor.fetchone()
    assert latest == Activity.objects.filter(**{f"{party}_id": user_id}).order_by("-id").values_list("id", flat=True)[0]
