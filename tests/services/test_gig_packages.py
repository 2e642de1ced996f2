"""A gig's packages, steps, extras and requirement questions (issue 35): saved with the gig's
terms in one go, every bad input refused with the field it is about and nothing changed, and the
gig's starting price and delivery days kept as the cheapest package's sums."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from djmoney.money import Money

from gigs.models import GigExtra, GigPackage, PackageStep, RequirementQuestion
from gigs.packages import (
    ExtraInput,
    GigPackagesInput,
    PackageInput,
    QuestionInput,
    StepInput,
    extra_field,
    package_field,
    packages_errors,
    question_field,
    step_field,
)
from gigs.services import gig_create, gig_update
from marketplace.errors import InvalidInput, NotAllowed
from orders.models import Order
from tests.concurrency import run_together
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def step(title: str = "Design", price: str = "100.00", days: int = 3, revisions: int = 1) -> StepInput:
    return StepInput(title, f"{title} files.", days, Money(price, "USD"), revisions)


BASIC = PackageInput("Basic", "One page.", (step("Design", "60.00", 2),))
STANDARD = PackageInput(
    "Standard",
    "The app in four phases.",
    (
        step("UI/UX design", "200.00", 5, 2),
        step("Backend development", "400.00", 10),
        step("Testing", "100.00", 3),
        step("Final launch", "50.00", 1, 0),
    ),
)
OFFER = GigPackagesInput(
    packages=(STANDARD, BASIC),
    extras=(
        ExtraInput("Documentation", Money("30.00", "USD"), 2, 4),
        ExtraInput("Bonus graphics", Money("20.00", "USD")),
    ),
    questions=(
        QuestionInput("What is your brand?", "text", True),
        QuestionInput("Which platform?", "choice", False, "iOS\nAndroid\n"),
        QuestionInput("Your logo", "file", False),
    ),
)
TERMS = {"title": "I will build your app", "description": "From design to launch.", "category": "development"}


def saved(gig) -> tuple:
    """Everything the editor writes, as plain values."""
    gig.refresh_from_db()
    return (
        gig.title,
        gig.starting_price,
        gig.delivery_days,
        list(GigPackage.objects.filter(gig=gig).values_list("position", "name", "description")),
        list(
            PackageStep.objects.filter(package__gig=gig).values_list(
                "package__position", "position", "title", "days", "price", "price_currency", "revisions_included"
            )
        ),
        list(
            GigExtra.objects.filter(gig=gig).values_list(
                "position", "title", "price", "price_currency", "days", "attach_to_step"
            )
        ),
        list(
            RequirementQuestion.objects.filter(gig=gig).values_list(
                "position", "question", "answer_type", "required", "choices"
            )
        ),
    )


@pytest.fixture
def gig(seller):
    return gig_create(seller=seller, **TERMS, packages=OFFER)


def test_a_gig_is_published_with_its_packages_extras_and_questions(gig):
    _, price, days, packages, steps, extras, questions = saved(gig)
    assert packages == [(1, "Standard", "The app in four phases."), (2, "Basic", "One page.")]
    assert [(p, s, t, d, r) for p, s, t, d, _, _, r in steps] == [
        (1, 1, "UI/UX design", 5, 2),
        (1, 2, "Backend development", 10, 1),
        (1, 3, "Testing", 3, 1),
        (1, 4, "Final launch", 1, 0),
        (2, 1, "Design", 2, 1),
    ]
    assert extras == [
        (1, "Documentation", Decimal("30.00"), "USD", 2, 4),
        (2, "Bonus graphics", Decimal("20.00"), "USD", 0, None),
    ]
    assert questions == [
        (1, "What is your brand?", "text", True, ""),
        (2, "Which platform?", "choice", False, "iOS\nAndroid"),
        (3, "Your logo", "file", False, ""),
    ]
    # The cheapest package (Basic, the second) gives the gig its price and days, as search reads them.
    assert (price, days) == (Money("60.00", "USD"), 2)


def test_a_gig_published_with_a_price_alone_gets_one_basic_package_of_one_step(seller):
    gig = gig_create(seller=seller, **TERMS, starting_price=Money("80.00", "EUR"), delivery_days=4)
    _, price, days, packages, steps, extras, questions = saved(gig)
    assert packages == [(1, "Basic", "From design to launch.")]
    assert steps == [(1, 1, "I will build your app", 4, Decimal("80.00"), "EUR", 1)]
    assert (price, days, extras, questions) == (Money("80.00", "EUR"), 4, [], [])


def test_an_edit_replaces_packages_and_moves_the_starting_price(gig, seller):
    dearer_basic = PackageInput("Basic", "One page.", (step("Design", "900.00", 20),))
    gig_update(gig=gig, actor=seller, **TERMS, packages=GigPackagesInput(packages=(STANDARD, dearer_basic)))
    _, price, days, _, steps, extras, questions = saved(gig)
    # Standard is now the cheaper: 200 + 400 + 100 + 50, in 5 + 10 + 3 + 1 days.
    assert (price, days) == (Money("750.00", "USD"), 19)
    assert len(steps) == 5 and extras == [] and questions == []


def test_a_package_keeps_its_row_so_that_an_order_of_it_still_points_at_it(gig, seller, buyer):
    standard = GigPackage.objects.get(gig=gig, position=1)
    order = OrderFactory(gig=gig, seller=seller, buyer=buyer, package=standard, package_name="Standard")
    renamed = replace(STANDARD, name="Full app")
    gig_update(gig=gig, actor=seller, **TERMS, packages=GigPackagesInput(packages=(renamed,)))
    order.refresh_from_db()
    assert order.package_id == standard.pk and order.package_name == "Standard"
    assert list(GigPackage.objects.filter(gig=gig).values_list("name", flat=True)) == ["Full app"]


def with_standard_steps(*steps: StepInput) -> GigPackagesInput:
    return replace(OFFER, packages=(replace(STANDARD, steps=steps), BASIC))


BAD = [
    ("no step", with_standard_steps(), step_field(1, 1, "title")),
    ("seven steps", with_standard_steps(*[step(f"Phase {n}") for n in range(7)]), step_field(1, 7, "title")),
    ("a price under the minimum", with_standard_steps(step(price="4.99")), step_field(1, 1, "price")),
    ("a price of zero", with_standard_steps(step(price="0")), step_field(1, 1, "price")),
    ("a price with a third decimal", with_standard_steps(step(price="10.005")), step_field(1, 1, "price")),
    ("zero days", with_standard_steps(step(days=0)), step_field(1, 1, "days")),
    ("21 revisions", with_standard_steps(step(revisions=21)), step_field(1, 1, "revisions")),
    ("negative revisions", with_standard_steps(step(revisions=-1)), step_field(1, 1, "revisions")),
    ("a step with no title", with_standard_steps(step(title=" ")), step_field(1, 1, "title")),
    ("no package", replace(OFFER, packages=()), package_field(1, "name")),
    ("four packages", replace(OFFER, packages=(BASIC, STANDARD, BASIC, BASIC)), package_field(4, "name")),
    ("a package with no name", replace(OFFER, packages=(replace(BASIC, name=""),)), package_field(1, "name")),
    (
        "two packages of one name",
        replace(OFFER, packages=(BASIC, replace(STANDARD, name="basic"))),
        package_field(2, "name"),
    ),
    ("six extras", replace(OFFER, extras=OFFER.extras * 3), extra_field(6, "title")),
    ("an extra of 1.00", replace(OFFER, extras=(ExtraInput("Docs", Money("1.00", "USD")),)), extra_field(1, "price")),
    ("an extra in euros", replace(OFFER, extras=(ExtraInput("Docs", Money("10", "EUR")),)), extra_field(1, "price")),
    ("eleven questions", replace(OFFER, questions=OFFER.questions * 4), question_field(11, "question")),
    (
        "a choice question with no choices",
        replace(OFFER, questions=(QuestionInput("Which platform?", "choice", True, "  \n"),)),
        question_field(1, "choices"),
    ),
    (
        "an unknown answer type",
        replace(OFFER, questions=(QuestionInput("Which?", "video"),)),
        question_field(1, "answer_type"),
    ),
]


@pytest.mark.parametrize(("case", "offer", "field"), BAD, ids=[case for case, _, _ in BAD])
def test_bad_input_names_its_field_and_changes_nothing(gig, seller, case, offer, field):
    before = saved(gig)
    with pytest.raises(InvalidInput) as refused:
        gig_update(gig=gig, actor=seller, **{**TERMS, "title": "A new title"}, packages=offer)
    assert refused.value.field == field, refused.value.message
    assert saved(gig) == before


@pytest.mark.parametrize(("case", "offer", "field"), BAD[:3], ids=[case for case, _, _ in BAD[:3]])
def test_a_gig_with_bad_packages_is_not_published(seller, case, offer, field):
    with pytest.raises(InvalidInput):
        gig_create(seller=seller, **TERMS, packages=offer)
    assert not GigPackage.objects.exists() and not Order.objects.exists()


def test_every_error_is_reported_at_once():
    offer = GigPackagesInput(
        packages=(PackageInput("", "", (step(price="1.00", days=0, revisions=30),)),),
        questions=(QuestionInput("", "choice", True, ""),),
    )
    assert {error.field for error in packages_errors(offer)} == {
        package_field(1, "name"),
        step_field(1, 1, "price"),
        step_field(1, 1, "days"),
        step_field(1, 1, "revisions"),
        question_field(1, "question"),
        question_field(1, "choices"),
    }


def test_only_the_seller_may_change_the_packages(gig, buyer):
    before = saved(gig)
    with pytest.raises(NotAllowed):
        gig_update(gig=gig, actor=buyer, **TERMS, packages=GigPackagesInput(packages=(BASIC,)))
    assert saved(gig) == before


def test_the_demo_gig_has_three_packages_the_standard_one_in_the_four_phases(seller):
    from demo.gig import demo_gig

    # Seeded before packages: the migration's one package; the demo gives it the three.
    old = gig_create(seller=seller, **TERMS, starting_price=Money("250.00", "USD"), delivery_days=30)
    gig = demo_gig(seller)
    assert gig.pk == old.pk
    first = saved(gig)
    again = saved(demo_gig(seller))
    assert again == first  # a second seeding changes nothing
    _, price, days, packages, steps, extras, questions = again
    assert [name for _, name, _ in packages] == ["Basic", "Standard", "Premium"]
    assert [title for p, _, title, *_ in steps if p == 2] == [
        "UI/UX design",
        "Backend development",
        "Testing",
        "Final launch",
    ]
    assert len(extras) == 2 and len(questions) == 2
    assert (price, days) == (Money("550.00", "USD"), 10)


@pytest.mark.django_db(transaction=True)
def test_two_edits_at_once_apply_one_after_the_other_never_mixed(seller):
    """Two tabs save different packages at the same instant: the gig's lock makes the second wait
    for the first, so the gig ends with one tab's packages whole (no unique-position clash, no
    mixture), and its starting price is that tab's."""
    gig = gig_create(seller=seller, **TERMS, packages=OFFER)
    one = GigPackagesInput(packages=(BASIC,))
    other = GigPackagesInput(packages=(STANDARD, replace(BASIC, name="Other")))
    results = run_together(
        lambda: gig_update(gig=gig, actor=seller, **TERMS, packages=one),
        lambda: gig_update(gig=gig, actor=seller, **TERMS, packages=other),
    )
    assert not [result for result in results if isinstance(result, Exception)], results
    _, price, days, packages, steps, extras, questions = saved(gig)
    names = [name for _, name, _ in packages]
    assert names in (["Basic"], ["Standard", "Other"])
    assert len(steps) == (1 if names == ["Basic"] else 5)
    assert (price, days) == (Money("60.00", "USD"), 2)
    assert extras == [] and questions == []
