"""The gig page shows the seller's packages side by side (issue 35): each with its name,
description, total price and days, its workflow (step titles, days, price, revisions) and a button
"Order <package name>" to the package's order page; the extras; and "Order with your own
milestones" for an order without a package, as before. Its queries do not grow with the steps.

The package's order page (``package_order``) is the ordering pages' (built beside this); this
module's URLconf adds a stand-in of the same path so that the button shows here. Without it the
button is left out (the last test)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, path, reverse
from djmoney.money import Money

from gigs.packages import ExtraInput, GigPackagesInput, PackageInput, StepInput
from gigs.services import gig_create
from marketplace.urls import urlpatterns as site_urlpatterns

pytestmark = pytest.mark.django_db

urlpatterns = [
    *site_urlpatterns,
    path("gigs/<int:gig_id>/packages/<int:position>/order/", lambda request, **_: HttpResponse(), name="package_order"),
]
with_package_order = pytest.mark.urls(__name__)


def step(title: str, price: str, days: int, revisions: int = 1) -> StepInput:
    return StepInput(title, f"{title}: the files.", days, Money(price, "USD"), revisions)


def app_gig(seller, *, steps_in_standard: int = 4):
    phases = [
        step("UI/UX design", "200.00", 5, 2),
        step("Backend development", "400.00", 10),
        step("Testing", "100.00", 3),
        step("Final launch", "50.00", 1, 0),
        step("Handover", "50.00", 1),
        step("Support", "50.00", 1),
    ]
    return gig_create(
        seller=seller,
        title="I will build your app",
        description="From design to launch.",
        category="development",
        packages=GigPackagesInput(
            packages=(
                PackageInput("Basic", "A one-page app.", (step("Design and build", "150.00", 7),)),
                PackageInput("Standard", "The app in four phases.", tuple(phases[:steps_in_standard])),
                PackageInput("Premium", "With support.", tuple(phases)),
            ),
            extras=(
                ExtraInput("Documentation", Money("30.00", "USD"), 2, 3),
                ExtraInput("Bonus graphics", Money("20.00", "USD"), 0, None),
            ),
        ),
    )


def package_card(html: str, position: int) -> str:
    found = re.search(rf'<article class="package card" id="package-{position}".*?</article>', html, re.S)
    assert found, f"no package {position}"
    return found.group(0)


@with_package_order
def test_the_packages_show_side_by_side_with_their_workflow_totals_and_order_buttons(client, seller, buyer):
    gig = app_gig(seller)
    client.force_login(buyer)
    html = client.get(reverse("gig_detail", args=[gig.pk])).content.decode()
    assert '<h2 id="packages-heading">Packages</h2>' in html
    assert '<div class="packages packages-3">' in html
    standard = package_card(html, 2)
    assert '<h3 class="card-title" id="package-2-name">Standard</h3>' in standard
    assert "The app in four phases." in standard
    # 200 + 400 + 100 + 50 in 5 + 10 + 3 + 1 days.
    assert "750.00\u00a0USD" in standard and "19 days in all" in standard and "4 milestones" in standard
    titles = re.findall(r'<span class="package-step-title">Step (\d): ([^<]*)</span>', standard)
    assert titles == [("1", "UI/UX design"), ("2", "Backend development"), ("3", "Testing"), ("4", "Final launch")]
    assert "200.00\u00a0USD</span> · 5 days · 2 revisions" in standard
    assert "50.00\u00a0USD</span> · 1 day · 0 revisions" in standard
    assert f'<form method="get" action="/gigs/{gig.pk}/packages/2/order/"' in standard
    assert '<button type="submit" class="btn btn-primary">Order Standard</button>' in standard
    for position, name in ((1, "Basic"), (3, "Premium")):
        card = package_card(html, position)
        assert f'action="/gigs/{gig.pk}/packages/{position}/order/"' in card and f">Order {name}</button>" in card
    # On a phone: one at a time, picked by name.
    assert re.search(r'<ul class="package-names"[^>]*>.*href="#package-3">Premium</a>', html, re.S)
    assert 'Documentation: <span class="amount">+30.00\u00a0USD</span>, +2 days · added to step 3' in html
    assert 'Bonus graphics: <span class="amount">+20.00\u00a0USD</span> · its own last step' in html
    # An order without a package, as before.
    assert f'<form method="get" action="{reverse("order_start", args=[gig.pk])}"' in html
    assert ">Order with your own milestones</button>" in html


@with_package_order
def test_the_seller_sees_the_packages_but_no_order_buttons(client, seller):
    gig = app_gig(seller)
    client.force_login(seller)
    html = client.get(reverse("gig_detail", args=[gig.pk])).content.decode()
    assert "Backend development" in html
    assert ">Order Standard</button>" not in html and "Order with your own milestones</button>" not in html


@with_package_order
def test_the_page_queries_do_not_grow_with_the_steps(client, seller, buyer, django_assert_max_num_queries):
    client.force_login(buyer)
    counts = []
    for steps in (1, 6):
        gig = app_gig(seller, steps_in_standard=steps)
        url = reverse("gig_detail", args=[gig.pk])
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            html = client.get(url).content.decode()
        assert package_card(html, 2).count('class="package-step-title"') == steps
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(counts[0]):
        client.get(url)


def test_without_the_ordering_page_the_package_buttons_are_left_out(client, seller, buyer):
    gig = app_gig(seller)
    client.force_login(buyer)
    html = client.get(reverse("gig_detail", args=[gig.pk])).content.decode()
    assert "Backend development" in html
    assert ">Order with your own milestones</button>" in html
    try:
        reverse("package_order", args=[gig.pk, 2])
    except NoReverseMatch:  # the ordering pages are not part of the site (yet)
        assert ">Order Standard</button>" not in html
    else:
        assert ">Order Standard</button>" in html
