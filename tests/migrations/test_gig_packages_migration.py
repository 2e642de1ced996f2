"""gigs 0006, on both backends: every gig published before packages becomes one package "Basic"
of one step on the gig's own terms (title, description, days, price, 1 revision), in batches; a
gig that has packages already is left as it is, and a second run changes nothing.

The function is called as ``migrate`` calls it, with the app registry and the connection."""

from __future__ import annotations

import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from djmoney.money import Money

from gigs.models import GigPackage, PackageStep
from gigs.packages import GigPackagesInput, PackageInput, StepInput
from gigs.services import gig_create
from tests.backends import BOTH
from tests.factories import GigFactory, UserFactory

pytestmark = pytest.mark.django_db(databases=BOTH)

packages_for_existing_gigs = importlib.import_module("gigs.migrations.0006_packages_for_existing_gigs")


def migrate() -> None:
    packages_for_existing_gigs.packages_for_existing_gigs(apps, SimpleNamespace(connection=connection))


def rows() -> list[tuple]:
    return list(
        PackageStep.objects.order_by("package__gig_id").values_list(
            "package__gig__title",
            "package__position",
            "package__name",
            "package__description",
            "position",
            "title",
            "deliverables",
            "days",
            "price",
            "price_currency",
            "revisions_included",
        )
    )


def test_each_gig_becomes_one_basic_package_of_one_step_on_its_own_terms(backend, monkeypatch):
    assert connection.vendor == backend
    # Batches of 2, so that three old gigs take two batches and a third that finds none.
    monkeypatch.setattr(packages_for_existing_gigs, "BATCH", 2)
    seller = UserFactory()
    long_description = "Logo files. " * 120  # 1,440 characters: the package keeps the first 1,000
    GigFactory(
        seller=seller,
        title="Logo design",
        description=long_description,
        starting_price=Money("80.00", "EUR"),
        delivery_days=4,
    )
    GigFactory(seller=seller, title="Copywriting", description="Two pages.", delivery_days=2)
    GigFactory(seller=seller, title="Paused", description="Resting.", is_active=False)
    has_packages = gig_create(
        seller=seller,
        title="Already packaged",
        description="New style.",
        packages=GigPackagesInput(
            packages=(PackageInput("Starter", "", (StepInput("Plan", "A plan.", 1, Money("10.00", "USD"), 3),)),)
        ),
    )
    migrate()
    migrate()  # a second run (a resumed migration) adds nothing
    assert rows() == [
        (
            "Logo design",
            1,
            "Basic",
            long_description[:1000],
            1,
            "Logo design",
            long_description,
            4,
            Decimal("80.00"),
            "EUR",
            1,
        ),
        ("Copywriting", 1, "Basic", "Two pages.", 1, "Copywriting", "Two pages.", 2, Decimal("100.00"), "USD", 1),
        ("Paused", 1, "Basic", "Resting.", 1, "Paused", "Resting.", 14, Decimal("100.00"), "USD", 1),
        ("Already packaged", 1, "Starter", "", 1, "Plan", "A plan.", 1, Decimal("10.00"), "USD", 3),
    ]
    assert GigPackage.objects.filter(gig=has_packages).count() == 1
