"""Paying a milestone by card on the sandbox provider, as a buyer does it in the
browser: our checkout opened, the card typed on the sandbox's page, then the
return page asking the provider. Used by the demo data, the benchmarks' seed
and the tests' factories; never by the marketplace itself."""

from __future__ import annotations

from django.urls import reverse

from milestones.models import Milestone
from payments.checkout import checkout_open, checkout_sync
from payments.models import Checkout
from sandbox.services import session_pay

TEST_CARD = "4242424242424242"


def open_checkout(milestone: Milestone, *, site: str) -> Checkout:
    """What "Pay by card" does after the milestone's row commits: the provider's page."""
    back = site + reverse("milestone_checkout_return", args=[milestone.pk])
    return checkout_open(
        checkout=Checkout.objects.select_related("buyer", "milestone__order").get(milestone=milestone),
        success_url=back + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=back + "?cancelled=1",
    )


def pay_in_sandbox(
    milestone: Milestone, *, site: str, card: str = TEST_CARD, webhook: bool = True, sync: bool = True
) -> Checkout:
    """Pay on the sandbox's page; its webhook (to ``site``, if ``webhook``) is
    queued for the worker, and ``sync`` is the buyer's return that funds it."""
    checkout = open_checkout(milestone, site=site)
    webhook_url = site + reverse("payment_webhook", args=["sandbox"]) if webhook else ""
    session_pay(session_id=checkout.session_id, card_number=card, webhook_url=webhook_url)
    if sync:
        checkout_sync(checkout=checkout)
        checkout.refresh_from_db()
    return checkout


def pay_tip_in_sandbox(checkout: Checkout, *, site: str, card: str = TEST_CARD) -> Checkout:
    """A tip's checkout (``milestones.services.tips.tip_leave`` by card) paid on the
    sandbox's page, then the buyer's return that posts it."""
    milestone_id = int(checkout.idempotency_key.split(":")[2])
    back = site + reverse("tip_checkout_return", args=[milestone_id])
    checkout = checkout_open(
        checkout=checkout, success_url=back + "?session_id={CHECKOUT_SESSION_ID}", cancel_url=back + "?cancelled=1"
    )
    session_pay(session_id=checkout.session_id, card_number=card, webhook_url="")
    checkout_sync(checkout=checkout)
    checkout.refresh_from_db()
    return checkout


def pay_continue_in_sandbox(checkout: Checkout, *, site: str, card: str = TEST_CARD) -> Checkout:
    """The checkout of "Continue to next milestone" by card (``milestones.services.packages``)
    paid on the sandbox's page, then the buyer's return that funds and starts the step."""
    milestone_id = int(checkout.idempotency_key.split(":")[2])
    back = site + reverse("continue_checkout_return", args=[milestone_id])
    checkout = checkout_open(
        checkout=checkout, success_url=back + "?session_id={CHECKOUT_SESSION_ID}", cancel_url=back + "?cancelled=1"
    )
    session_pay(session_id=checkout.session_id, card_number=card, webhook_url="")
    checkout_sync(checkout=checkout)
    checkout.refresh_from_db()
    return checkout
