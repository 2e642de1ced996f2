"""CSV exports: the earnings ledger and the user's milestones, the user's rows
only, streamed, parseable, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from marketplace.csv import csv_cell, safe_text
from milestones.exports import MILESTONES_CSV_HEADER
from milestones.models import MilestoneState
from payments.models import Earning, Transaction, TransactionKind
from payments.receipts import LEDGER_CSV_HEADER, receipt_number
from tests.factories import OrderFactory, UserFactory, create_milestone, milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db


def download(client, user, name: str):
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    today = timezone.localdate().isoformat()
    stem = name.removesuffix("_export")
    assert response["Content-Disposition"] == f'attachment; filename="{stem}-{today}.csv"'
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


# --- the formula guard ------------------------------------------------------------------


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r"])
def test_text_starting_like_a_formula_gets_an_apostrophe(first):
    assert safe_text(f"{first}SUM(A1)") == f"'{first}SUM(A1)"
    assert csv_cell(f"{first}SUM(A1)") == f"'{first}SUM(A1)"


def test_numbers_dates_and_plain_text_are_left_alone():
    assert csv_cell(Decimal("-30.00")) == "-30.00"
    assert csv_cell(3) == "3"
    assert csv_cell("Logo - v2") == "Logo - v2"
    assert csv_cell(None) == ""
    assert csv_cell(True) == "yes" and csv_cell(False) == "no"
    moment = timezone.now()
    assert datetime.fromisoformat(csv_cell(moment)) == moment.replace(microsecond=0)


# --- earnings ------------------------------------------------------------------------------


def test_earnings_export_lists_the_users_entries_only(client, buyer, seller, outsider):
    mine = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller), title="Logo", amount="100.00")
    other_seller = UserFactory(username="someone_else")
    milestone_in(S.APPROVED, order=OrderFactory(buyer=outsider, seller=other_seller), title="Secret", amount="55.00")

    rows = download(client, seller, "earnings_export")
    assert rows, "the seller has entries"
    assert list(rows[0]) == list(LEDGER_CSV_HEADER)
    earning = Earning.objects.get(milestone=mine)
    release = Transaction.objects.get(milestone=mine, kind=TransactionKind.RELEASE)
    released = [r for r in rows if r["What"] == "Released to seller"]
    assert len(released) == 1
    row = released[0]
    assert Decimal(row["Amount"]) == earning.net.amount
    assert row["Currency"] == "USD"
    assert row["Milestone"] == "Logo"
    assert row["Order"] == str(mine.order_id)
    assert row["Receipt"] == receipt_number(release.pk)
    assert row["Balance"] == "Seller: pending clearance"
    assert datetime.fromisoformat(row["Date"]).tzinfo is not None
    assert all(r["Milestone"] != "Secret" for r in rows)
    # Every entry on the seller's own accounts, nothing else.
    from payments.models import Entry

    assert len(rows) == Entry.objects.filter(account__user=seller).count()


def test_a_buyer_exports_their_refunds(client, buyer, seller):
    milestone = milestone_in(S.CANCELLED, order=OrderFactory(buyer=buyer, seller=seller), title="Cancelled one")
    rows = download(client, buyer, "earnings_export")
    refund = [r for r in rows if r["What"] == "Refunded to buyer"]
    assert len(refund) == 2  # the amount and the service fee, two entries on the balance
    assert sum(Decimal(r["Amount"]) for r in refund) == milestone.total_charged.amount
    assert all(r["Balance"] == "Buyer balance" for r in refund)


def test_exports_need_login_and_get(client, buyer):
    for name in ("earnings_export", "milestones_export"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
        client.force_login(buyer)
        assert client.post(reverse(name)).status_code == 405
        client.logout()


# --- milestones ------------------------------------------------------------------------------


def test_milestones_export_lists_the_users_milestones_in_both_roles(client, buyer, seller, outsider):
    as_buyer = OrderFactory(buyer=buyer, seller=seller, title="Website")
    second = milestone_in(S.APPROVED, order=as_buyer, title="Build", amount="250.00")
    first = create_milestone(as_buyer, title="Design", amount="100.00")
    as_seller = OrderFactory(buyer=outsider, seller=buyer, title="Their shop")
    create_milestone(as_seller, title="Logo", amount="40.00")
    create_milestone(OrderFactory(buyer=outsider, seller=seller, title="Not hers"), title="Secret")

    rows = download(client, buyer, "milestones_export")
    assert list(rows[0]) == list(MILESTONES_CSV_HEADER)
    assert [r["Milestone"] for r in rows] == ["Build", "Design", "Logo"]
    build, design, logo = rows
    assert design["Order"] == str(as_buyer.pk) and design["Order title"] == "Website"
    assert design["Your role"] == "buyer" and logo["Your role"] == "seller"
    assert design["Position"] == str(first.position)
    assert design["State"] == "Awaiting acceptance"
    assert design["Amount"] == "100.00" and design["Currency"] == "USD"
    assert Decimal(design["Service fee"]) == first.buyer_fee.amount
    assert datetime.fromisoformat(design["Deadline"]) == first.deadline.replace(microsecond=0)
    assert datetime.fromisoformat(design["Created"]).date() == timezone.localdate()
    assert design["Accepted"] == "" and design["Approved"] == ""
    assert build["State"] == "Approved"
    second.refresh_from_db()
    assert datetime.fromisoformat(build["Approved"]) == second.approved_at.replace(microsecond=0)
    assert build["Closed"] and build["Submitted"] and build["Accepted"]
    assert build["Revisions"] == "0" and build["Late"] == "no"


def test_a_formula_in_a_title_is_exported_as_text(client, order, buyer):
    milestone_in(S.CANCELLED, order=order, title='=HYPERLINK("http://x")')  # refunded: entries on her balance
    rows = download(client, buyer, "milestones_export")
    assert rows[0]["Milestone"] == '\'=HYPERLINK("http://x")'
    ledger = download(client, buyer, "earnings_export")
    assert ledger and all(r["Milestone"] == '\'=HYPERLINK("http://x")' for r in ledger)


def test_dashboards_link_the_export(client, buyer):
    client.force_login(buyer)
    url = reverse("milestones_export")
    for name in ("buyer_dashboard", "seller_dashboard"):
        html = client.get(reverse(name)).content.decode()
        assert f'href="{url}"' in html and "Export CSV" in html
