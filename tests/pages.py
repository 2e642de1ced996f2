"""The main pages of the site, with data on them, for the checks that look at
every page the same way (HTML validity, accessibility)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from gigs.packages import ExtraInput, GigPackagesInput, PackageInput, QuestionInput, StepInput
from gigs.services import gig_update
from inbox.services import inquiry_message_send, inquiry_start
from milestones.models import MilestoneState
from milestones.services.completion import order_complete
from orders.services import order_message_send
from reviews.services import review_submit
from tests.factories import GigFactory, OrderFactory, UserFactory, milestone_in

S = MilestoneState


def _step(title: str, price: str, days: int, revisions: int = 1) -> StepInput:
    return StepInput(title, f"{title}, delivered as files.", days, Money(price, "USD"), revisions)


# Two packages, the second of three steps, an extra and a question of each kind: every part of the
# gig page and the editor shows.
PACKAGES = GigPackagesInput(
    packages=(
        PackageInput("Basic", "A logo.", (_step("Logo", "120.00", 5),)),
        PackageInput(
            "Standard",
            "The whole identity.",
            (
                _step("Discovery", "100.00", 3, 0),
                _step("Logo concepts", "200.00", 7, 2),
                _step("Brand book", "150.00", 5),
            ),
        ),
    ),
    extras=(
        ExtraInput("Social media kit", Money("40.00", "USD"), 2, 3),
        ExtraInput("Source files", Money("25.00", "USD")),
    ),
    questions=(
        QuestionInput("What does your company do?", "text", True),
        QuestionInput("Which style?", "choice", False, "Classic\nModern"),
        QuestionInput("Your current logo", "file", False),
    ),
)


@dataclass
class MainPages:
    buyer: object
    seller: object
    pages: list[tuple[str, str, object]]  # (name, URL, who looks: a user or None)


def main_pages() -> MainPages:
    """A buyer and a seller with an order in several states, messages, a
    conversation about a gig; the pages each of them uses most."""
    seller = UserFactory(username="pat_seller", bio="I design brands.")
    buyer = UserFactory(username="quinn_buyer")
    gig = GigFactory(seller=seller, title="Brand identity, phase by phase")
    gig_update(
        gig=gig, actor=seller, title=gig.title, description=gig.description, category="design", packages=PACKAGES
    )
    order = OrderFactory(buyer=buyer, seller=seller, gig=gig, title="New brand")
    milestone_in(S.APPROVED, order, title="Discovery")
    milestone_in(S.IN_REVIEW, order, title="Logo concepts")
    order_message_send(order=order, author=buyer, body="Looking forward to it.")
    order_message_send(order=order, author=seller, body="Email me at pat@example.com")
    # A finished order both parties reviewed: the stars on the order page and the profile.
    done = OrderFactory(buyer=buyer, seller=seller, gig=gig, title="Business cards")
    milestone_in(S.APPROVED, done, title="Cards")
    order_complete(order=done, actor=buyer)
    review_submit(order=done, actor=buyer, text="Clear and fast.", communication=5, service=5, recommend=4)
    review_submit(order=done, actor=seller, text="A pleasure to work with.", rating=5)
    # A new seller who has not chosen how they are paid (the earnings page asks), and one whose
    # pending earning was released under bank transfer before they switched to instant (it says so).
    new_seller = UserFactory(username="rae_new", withdrawal_method_chosen_at=None, payout_account="", payout_token="")
    milestone_in(S.APPROVED, OrderFactory(buyer=buyer, seller=new_seller), title="First job")
    switched = UserFactory(username="sol_switched")
    milestone_in(S.APPROVED, OrderFactory(buyer=buyer, seller=switched), title="Before the switch")
    switched.withdrawal_method = WithdrawalMethod.INSTANT
    switched.save(update_fields=["withdrawal_method"])
    inquiry = inquiry_start(gig=gig, buyer=buyer, body="Do you do packaging too?").inquiry
    inquiry_message_send(inquiry=inquiry, author=seller, body="Yes: boxes and labels.")
    another_gig = GigFactory(seller=seller, title="Packaging design")
    pages = [
        ("home", reverse("home"), None),
        ("search", reverse("home") + "?q=brand&category=design", None),
        ("gig", reverse("gig_detail", args=[gig.pk]), buyer),
        ("new gig", reverse("gig_create"), seller),
        ("edit gig", reverse("gig_edit", args=[gig.pk]), seller),
        ("profile", reverse("profile_public", args=[seller.username]), None),
        ("login", reverse("login"), None),
        ("signup", reverse("signup"), None),
        ("order as buyer", order.get_absolute_url(), buyer),
        ("order as seller", order.get_absolute_url(), seller),
        ("reviewed order", done.get_absolute_url(), buyer),
        ("buyer dashboard", reverse("buyer_dashboard"), buyer),
        ("seller dashboard", reverse("seller_dashboard"), seller),
        ("orders", reverse("order_list"), buyer),
        ("earnings", reverse("earnings"), seller),
        ("earnings, no method chosen yet", reverse("earnings"), new_seller),
        ("earnings, method changed since release", reverse("earnings"), switched),
        ("inbox", reverse("inbox"), buyer),
        ("conversation", inquiry.get_absolute_url(), seller),
        ("contact seller", reverse("inquiry_start", args=[another_gig.pk]), buyer),
        ("notifications", reverse("notifications"), seller),
        ("new milestone", reverse("milestone_new", args=[order.pk]), buyer),
        ("account profile", reverse("profile"), buyer),
        ("API tokens", reverse("api_tokens"), buyer),
    ]
    return MainPages(buyer=buyer, seller=seller, pages=pages)
