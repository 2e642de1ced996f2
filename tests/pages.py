"""The main pages of the site, with data on them, for the checks that look at
every page the same way (HTML validity, accessibility)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.levels import SellerLevel
from accounts.models import SellerLevelChange, WithdrawalMethod
from calendar_feed.services import calendar_feed_create
from gigs.packages import ExtraInput, GigPackagesInput, PackageInput, QuestionInput, StepInput
from gigs.services import gig_save, gig_update
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


def _webhook_endpoint(user) -> str:
    """An endpoint with a delivery log of a delivered and a failed event."""
    import uuid

    from django.utils import timezone

    from webhooks.models import WebhookDelivery, WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(
        user=user, url="https://hooks.example.com/in", events=["message.created", "payment.funded"]
    )
    for status, code in (("delivered", 200), ("failed", 500)):
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_type="message.created",
            event_id=uuid.uuid4(),
            payload={},
            status=status,
            attempts=1,
            last_response_code=code,
            last_error="" if code == 200 else "Answered 500.",
            delivered_at=timezone.now() if code == 200 else None,
        )
    return endpoint.get_absolute_url()


def main_pages() -> MainPages:
    """A buyer and a seller with an order in several states, messages, a
    conversation about a gig; the pages each of them uses most."""
    seller = UserFactory(username="pat_seller", bio="I design brands.")
    # Top rated, as the nightly sweep would have judged them: the level's badge on the cards, the gig
    # page and the profile (with its activity), and its shorter clearance on the earnings page.
    seller.seller_level, seller.seller_level_since = SellerLevel.TOP_RATED, timezone.now()
    seller.response_seconds, seller.response_rate = 5400, 97
    seller.save(update_fields=["seller_level", "seller_level_since", "response_seconds", "response_rate"])
    SellerLevelChange.objects.create(
        user=seller, from_level=SellerLevel.NEW, to_level=SellerLevel.TOP_RATED, created_at=timezone.now()
    )
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
    # The seller's dashboard shows a live calendar feed (Reset link, Revoke); the buyer's offers one.
    calendar_feed_create(user=seller)
    # Saved gigs: one listed, one paused, one retired (the "Saved" page says which), and the
    # buttons saying "Saved" on the cards and the gig page.
    paused_gig = GigFactory(seller=seller, title="Label design")
    retired_gig = GigFactory(seller=seller, title="Poster design")
    for saved in (gig, paused_gig, retired_gig):
        gig_save(gig=saved, user=buyer)
    paused_gig.is_active, paused_gig.paused_at = False, timezone.now()
    paused_gig.save(update_fields=["is_active", "paused_at", "updated_at"])
    retired_gig.is_active = False
    retired_gig.save(update_fields=["is_active", "updated_at"])
    pages = [
        ("home", reverse("home"), None),
        ("home, signed in with saves", reverse("home"), buyer),
        ("saved", reverse("saved_gigs"), buyer),
        ("buyer's profile", reverse("profile_public", args=[buyer.username]), None),
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
        *_package_pages(buyer, seller),
        ("webhooks", reverse("webhooks"), buyer),
        ("add webhook endpoint", reverse("webhook_add"), buyer),
        ("webhook endpoint", _webhook_endpoint(buyer), buyer),
        ("API tokens", reverse("api_tokens"), buyer),
        *_request_pages(buyer, seller),
    ]
    return MainPages(buyer=buyer, seller=seller, pages=pages)


def _package_pages(buyer, seller) -> list[tuple[str, str, object]]:
    """Issue 35: the "Requirements" page, an ordered package's order page (its brief, a step approved,
    the next one planned with "Continue to next milestone") and the continue confirmation."""
    from milestones.models import Milestone
    from milestones.services.lifecycle import milestone_accept, milestone_approve, milestone_submit
    from tests.factories import CARD, package_order, packaged_gig

    gig, package = packaged_gig(
        seller=seller,
        extras=(("Bonus graphics", "30.00", 1, 2),),
        questions=(("What is the brand called?", "text", "", True), ("Style", "choice", "Bold\nQuiet", False)),
    )
    questions = list(gig.questions.order_by("position"))
    order = package_order(gig, package, buyer=buyer, source=CARD, answers={questions[0].pk: "Northwind"})
    first, second = list(Milestone.objects.filter(order=order).order_by("position"))[:2]
    milestone_accept(milestone=first, actor=seller)
    milestone_submit(milestone=first, actor=seller, message="Moodboard.")
    milestone_approve(milestone=Milestone.objects.get(pk=first.pk), actor=buyer)
    return [
        ("requirements", reverse("package_order", args=[gig.pk, package.position]), UserFactory(username="uma_new")),
        ("ordered package as buyer", order.get_absolute_url(), buyer),
        ("ordered package as seller", order.get_absolute_url(), seller),
        ("continue to next milestone", reverse("milestone_continue", args=[second.pk]), buyer),
    ]


def _request_pages(buyer, seller) -> list[tuple[str, str, object]]:
    """Issue 36: "Requests" for a seller and a buyer, "Post a request", a request with its files and
    proposals side by side (the buyer's view, with "Withdraw request"), the seller's "Send a
    proposal" with their own proposal, and "Hire"."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from requests_board.services import ProposalInput, RequestInput, proposal_send, request_post

    wanted = request_post(
        buyer=buyer,
        data=RequestInput(
            title="A label for jam jars",
            description="Three flavours, one style.",
            category="design",
            budget=Money("400", "USD"),
        ),
        files=[SimpleUploadedFile("flavours.txt", b"Plum, fig, quince.")],
    )
    proposal = proposal_send(
        seller=seller,
        buyer_request=wanted,
        data=ProposalInput(
            message="I have done labels for a bakery.",
            steps=(_step("Sketches", "150.00", 3), _step("Final labels", "250.00", 5)),
        ),
    )
    return [
        ("requests as seller", reverse("request_list"), seller),
        ("requests as buyer", reverse("request_list"), buyer),
        ("post a request", reverse("request_new"), buyer),
        ("request with proposals", wanted.get_absolute_url(), buyer),
        ("request as seller", wanted.get_absolute_url(), seller),
        ("hire", reverse("proposal_hire", args=[wanted.pk, proposal.pk]), buyer),
    ]
