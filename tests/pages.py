"""The main pages of the site, with data on them, for the checks that look at
every page the same way (HTML validity, accessibility)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from inbox.services import inquiry_message_send, inquiry_start
from milestones.models import MilestoneState
from orders.services import order_message_send
from tests.factories import GigFactory, OrderFactory, UserFactory, milestone_in

S = MilestoneState


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
    order = OrderFactory(buyer=buyer, seller=seller, gig=gig, title="New brand")
    milestone_in(S.APPROVED, order, title="Discovery")
    milestone_in(S.IN_REVIEW, order, title="Logo concepts")
    order_message_send(order=order, author=buyer, body="Looking forward to it.")
    order_message_send(order=order, author=seller, body="Email me at pat@example.com")
    inquiry = inquiry_start(gig=gig, buyer=buyer, body="Do you do packaging too?").inquiry
    inquiry_message_send(inquiry=inquiry, author=seller, body="Yes: boxes and labels.")
    another_gig = GigFactory(seller=seller, title="Packaging design")
    pages = [
        ("home", reverse("home"), None),
        ("search", reverse("home") + "?q=brand&category=design", None),
        ("gig", reverse("gig_detail", args=[gig.pk]), buyer),
        ("profile", reverse("profile_public", args=[seller.username]), None),
        ("login", reverse("login"), None),
        ("signup", reverse("signup"), None),
        ("order as buyer", order.get_absolute_url(), buyer),
        ("order as seller", order.get_absolute_url(), seller),
        ("buyer dashboard", reverse("buyer_dashboard"), buyer),
        ("seller dashboard", reverse("seller_dashboard"), seller),
        ("earnings", reverse("earnings"), seller),
        ("inbox", reverse("inbox"), buyer),
        ("conversation", inquiry.get_absolute_url(), seller),
        ("contact seller", reverse("inquiry_start", args=[another_gig.pk]), buyer),
        ("notifications", reverse("notifications"), seller),
        ("new milestone", reverse("milestone_new", args=[order.pk]), buyer),
        ("account profile", reverse("profile"), buyer),
    ]
    return MainPages(buyer=buyer, seller=seller, pages=pages)
