"""The demo gig (issue 35): the product description's mobile app in three packages, the
"Standard" one with its four phases (UI/UX design, backend development, testing, final launch),
two extras and two requirement questions. Written through the services, as the seller's editor
writes it."""

from __future__ import annotations

from djmoney.money import Money

from accounts.models import User
from gigs.models import Gig, GigPackage
from gigs.packages import ExtraInput, GigPackagesInput, PackageInput, QuestionInput, StepInput
from gigs.services import gig_create, gig_update

TITLE = "I will design and build your mobile app, phase by phase"
DESCRIPTION = "UI/UX design, backend, testing and launch, each as its own milestone with clear deliverables."


def _step(title: str, deliverables: str, days: int, price: str, revisions: int = 1) -> StepInput:
    return StepInput(title, deliverables, days, Money(price, "USD"), revisions)


DESIGN = _step("UI/UX design", "Wireframes, a Figma file of every screen and a style guide.", 7, "400.00", 2)
BACKEND = _step("Backend development", "The API and database, deployed to staging, with its docs.", 14, "900.00")
TESTING = _step("Testing", "Automated tests and a test report from real devices.", 7, "300.00")
LAUNCH = _step("Final launch", "The app in the App Store and Google Play.", 3, "250.00", 0)

DEMO_PACKAGES = GigPackagesInput(
    packages=(
        PackageInput(
            "Basic",
            "The design of your app, ready to build.",
            (DESIGN, _step("Clickable prototype", "A prototype to test with users.", 3, "150.00")),
        ),
        PackageInput("Standard", "Your app from design to launch, in four phases.", (DESIGN, BACKEND, TESTING, LAUNCH)),
        PackageInput(
            "Premium",
            "Design to launch, with a discovery workshop first and a month of support after.",
            (
                _step("Discovery workshop", "A two-hour call and a written scope.", 2, "200.00", 0),
                DESIGN,
                BACKEND,
                TESTING,
                LAUNCH,
                _step("30 days of support", "Bug fixes for a month after launch.", 30, "350.00", 0),
            ),
        ),
    ),
    extras=(
        ExtraInput("Documentation", Money("120.00", "USD"), 3, None),
        ExtraInput("Bonus graphics: app icon and store screenshots", Money("80.00", "USD"), 2, 1),
    ),
    questions=(
        QuestionInput("What should the app do? Describe its main screens.", "text", True),
        QuestionInput("Which platforms?", "choice", True, "iOS\nAndroid\nBoth"),
    ),
)


def demo_gig(seller: User) -> Gig:
    """The seller's gig with the demo packages (idempotent: a gig seeded before packages, which
    the data migration gave one package, gets the three)."""
    gig = Gig.objects.filter(seller=seller).first()
    if gig is None:
        return gig_create(
            seller=seller, title=TITLE, description=DESCRIPTION, category="development", packages=DEMO_PACKAGES
        )
    if not GigPackage.objects.filter(gig=gig, position=3).exists():
        gig = gig_update(
            gig=gig,
            actor=seller,
            title=gig.title,
            description=gig.description,
            category=gig.category,
            packages=DEMO_PACKAGES,
        )
    return gig
