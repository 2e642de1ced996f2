"""Who may reach which URL: every URL of the project, five kinds of visitor, GET and POST.

The matrix is the written policy. ``test_every_url_is_classified`` fails as
soon as someone adds a URL without deciding here who may use it.

Reading the codes:

* ``LOGIN``: a redirect to the login page (anonymous visitors).
* ``404`` for an outsider on anything inside an order: an outsider must not
  learn that the order exists, so an existing id and a made-up one answer
  the same (``test_outsider_cannot_tell_existing_ids_from_missing_ones``).
* ``405``: the view refuses the method before looking anything up.
* ``FORM``: the parties' POST with an empty form is answered (form errors, or
  a refusal message and a redirect back) and never a 403/404/500.

Every GET, and every POST by an anonymous visitor, an outsider or staff on
an order's URL, must leave the database exactly as it was (``unchanged``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from payments.models import Transaction

ROLES = ("anonymous", "outsider", "staff", "seller", "buyer")
PARTIES = ("buyer", "seller")
LOGIN = "login"
FORM = (200, 302, 400)
# An API action's answer to a party: done, bad input, not their role, not in this state.
API_ANSWERED = (200, 400, 403, 409)
MISSING_ID = 987_654_321


def everyone(code) -> dict:
    return dict.fromkeys(ROLES, code)


def signed_in(code, anonymous=LOGIN) -> dict:
    return {**dict.fromkeys(ROLES, code), "anonymous": anonymous}


def order_scoped(*, anonymous=LOGIN, staff, buyer, seller, outsider=404) -> dict:
    return {"anonymous": anonymous, "outsider": outsider, "staff": staff, "buyer": buyer, "seller": seller}


@dataclass(frozen=True)
class Rule:
    scope: str  # public | account | order
    get: dict
    post: dict
    kwargs: Callable = field(default=lambda w: {})


def _order(w):
    return {"pk": w.order.pk}


def _an_inquiry(w):
    """The buyer's conversation with the seller about the gig, before any order."""
    from django.utils import timezone

    from inbox.services import conversation_url, inquiry_start
    from notifications.models import Notification

    inquiry = inquiry_start(gig=w.gig, buyer=w.buyer, body="A question before ordering.").inquiry
    # Read already, so that opening it (the one write a GET may make) has nothing left to read.
    url = conversation_url(inquiry=inquiry)
    Notification.objects.filter(recipient=w.seller, url=url).update(read_at=timezone.now())
    return inquiry


def _a_request_file(w):
    """A file posted with the buyer's open request."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from djmoney.money import Money

    from requests_board.models import RequestAttachment
    from requests_board.services import RequestInput, request_post

    buyer_request = request_post(
        buyer=w.buyer,
        data=RequestInput(title="A logo", description="Round.", category="design", budget=Money("80", "USD")),
        files=[SimpleUploadedFile("brief.txt", b"Round and warm.")],
    )
    return {"pk": buyer_request.pk, "file_pk": RequestAttachment.objects.get(request=buyer_request).pk}


def _a_request(w, *, proposal: bool = False):
    """The buyer's open request; with ``proposal``, the seller's pending proposal on it."""
    from djmoney.money import Money

    from gigs.packages import StepInput
    from requests_board.services import ProposalInput, RequestInput, proposal_send, request_post

    buyer_request = request_post(
        buyer=w.buyer,
        data=RequestInput(title="A logo", description="Round.", category="design", budget=Money("80", "USD")),
    )
    if not proposal:
        return {"pk": buyer_request.pk}
    steps = (StepInput(title="Sketch", deliverables="A sketch", days=2, price=Money("80", "USD")),)
    made = proposal_send(seller=w.seller, buyer_request=buyer_request, data=ProposalInput(message="Yes.", steps=steps))
    return {"pk": buyer_request.pk, "proposal_pk": made.pk}


def _a_calendar_feed(w):
    """The buyer's feed, its read noted just now, so reading it again writes nothing."""
    from django.utils import timezone

    from calendar_feed.models import CalendarFeed
    from calendar_feed.services import calendar_feed_create

    feed, token = calendar_feed_create(user=w.buyer)
    CalendarFeed.objects.filter(pk=feed.pk).update(last_read_at=timezone.now())
    return token


def _an_order_message_file(w):
    from django.core.files.base import ContentFile

    from orders.models import OrderMessage, OrderMessageFile

    message = OrderMessage.objects.create(order=w.order, author=w.buyer, body="See the brief attached.")
    return OrderMessageFile.objects.create(
        message=message, file=ContentFile(b"brief", name="brief.txt"), original_name="brief.txt", size=5
    )


def _a_requirement_file(w):
    from django.core.files.base import ContentFile

    from orders.models import RequirementAnswer

    answer, _ = RequirementAnswer.objects.get_or_create(
        order=w.order,
        position=1,
        defaults={
            "question": "Brand guide",
            "file": ContentFile(b"guide", name="guide.txt"),
            "file_name": "guide.txt",
            "content_type": "text/plain",
            "size": 5,
        },
    )
    return answer


def _an_inquiry_file(w):
    from django.core.files.base import ContentFile

    from inbox.models import InquiryFile, InquiryMessage

    message = InquiryMessage.objects.create(inquiry=_an_inquiry(w), author=w.buyer, body="My sketch.")
    return InquiryFile.objects.create(
        message=message, file=ContentFile(b"sketch", name="sketch.txt"), original_name="sketch.txt", size=6
    )


def _a_webhook(w):
    """The buyer's webhook endpoint, with one delivery in its log."""
    import uuid

    from webhooks.models import WebhookDelivery, WebhookEndpoint

    endpoint, _ = WebhookEndpoint.objects.get_or_create(
        user=w.buyer, url="https://hooks.example.com/in", defaults={"events": ["message.created"]}
    )
    delivery = endpoint.deliveries.first() or WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="message.created", event_id=uuid.uuid4(), payload={}, status="delivered"
    )
    return endpoint, delivery


def _a_proposal(w):
    """An extension request on the milestone in review: any answer is refused (it is no longer in work)."""
    from datetime import timedelta

    from milestones.models import Proposal

    proposal, _ = Proposal.objects.get_or_create(
        milestone=w.in_review,
        kind="extension",
        defaults={
            "proposer": w.seller,
            "reason": "More time",
            "new_deadline": w.in_review.deadline + timedelta(days=3),
            "respond_by": w.in_review.deadline,
        },
    )
    return {"pk": proposal.pk}


def _a_gig_image(w):
    """An image of the seller's gig, its two files stored."""
    from django.core.files.base import ContentFile

    from tests.factories import GigImageFactory
    from tests.images import picture_bytes

    content = picture_bytes("WEBP", (40, 30))
    return GigImageFactory(
        gig=w.gig, image=ContentFile(content, name="display.webp"), thumbnail=ContentFile(content, name="thumb.webp")
    )


def _gig_image(w):
    return {"pk": w.gig.pk, "image_pk": _a_gig_image(w).pk}


MATRIX: dict[str, Rule] = {
    # --- public pages ---------------------------------------------------------------
    "healthz": Rule("public", everyone(200), everyone(405)),
    "readyz": Rule("public", everyone(200), everyone(405)),
    "livez": Rule("public", everyone(200), everyone(405)),
    # Allowed by address, not by account (METRICS_ALLOWED_IPS; the test client is 127.0.0.1).
    "metrics": Rule("public", everyone(200), everyone(405)),
    "home": Rule("public", everyone(200), everyone(200)),
    "gig_detail": Rule("public", everyone(200), everyone(200), lambda w: {"pk": w.gig.pk}),
    # The provider's side: its signature is the only credential; a bad one is 400.
    "payment_webhook": Rule("public", everyone(405), everyone(400), lambda w: {"provider": "sandbox"}),
    # The sandbox provider's hosted page: no account (a provider's page), an unknown session is 404.
    "sandbox_checkout": Rule("public", everyone(404), everyone(404), lambda w: {"session_id": "cs_no_such"}),
    # The public seller profile; a deliverable is public only in a portfolio its buyer allowed.
    "profile_public": Rule("public", everyone(200), everyone(405), lambda w: {"username": w.seller.username}),
    "portfolio_file": Rule("public", everyone(404), everyone(405), lambda w: {"pk": w.delivery_file.pk}),
    # --- the signed-in user's own pages -------------------------------------------------
    "review_reply": Rule("account", everyone(405), signed_in(404), lambda w: {"pk": MISSING_ID}),
    "gig_create": Rule("account", signed_in(200), signed_in(FORM)),
    # The seller's own gig; anyone else gets 404 for it, as for a gig that does not exist.
    "gig_edit": Rule(
        "account", {**signed_in(404), "seller": 200}, {**signed_in(404), "seller": FORM}, lambda w: {"pk": w.gig.pk}
    ),
    **{
        name: Rule("account", signed_in(405), {**signed_in(404), "seller": 302}, lambda w: {"pk": w.gig.pk})
        for name in ("gig_pause", "gig_resume")
    },
    # The gig's "Images" page and its forms: the seller's own, 404 to anyone else (as gig_edit).
    "gig_images": Rule(
        "account", {**signed_in(404), "seller": 200}, {**signed_in(404), "seller": FORM}, lambda w: {"pk": w.gig.pk}
    ),
    "gig_image_alt": Rule("account", signed_in(405), {**signed_in(404), "seller": FORM}, _gig_image),
    **{
        name: Rule("account", signed_in(405), {**signed_in(404), "seller": 302}, _gig_image)
        for name in ("gig_image_move", "gig_image_remove")
    },
    # "Save" and "Saved": POST only; anyone signed in goes back where they pressed it (the seller of
    # the gig with a message that it is their own), anyone else to log in first.
    **{
        name: Rule("account", everyone(405), signed_in(302), lambda w: {"pk": w.gig.pk})
        for name in ("gig_save", "gig_unsave")
    },
    # The "Saved" page: one's own saves.
    "saved_gigs": Rule("account", signed_in(200), everyone(405)),
    # Buyer requests (issue 36): open requests are listed to every signed-in seller; proposals are
    # the proposing seller's and the buyer's only, anyone else gets 404.
    "request_list": Rule("account", signed_in(200), everyone(405)),
    "request_new": Rule("account", signed_in(200), signed_in(FORM)),
    "request_detail": Rule("account", signed_in(200), {**signed_in(FORM), "buyer": 404}, _a_request),
    "proposal_withdraw": Rule(
        "account", everyone(405), {**signed_in(404), "seller": 302}, lambda w: _a_request(w, proposal=True)
    ),
    # "Withdraw request": POST only, the buyer's; anyone else 404 (an open request is theirs to see,
    # not to close).
    "request_withdraw": Rule("account", everyone(405), {**signed_in(404), "buyer": 302}, _a_request),
    # A request's file: whoever may see the request (open: every signed-in user; closed: the buyer
    # and the sellers who proposed, tests/views/test_buyer_requests.py).
    "request_file": Rule("account", signed_in(200), everyone(405), _a_request_file),
    "proposal_hire": Rule(
        "account",
        {**signed_in(404), "buyer": 200},
        {**signed_in(404), "buyer": FORM},
        lambda w: _a_request(w, proposal=True),
    ),
    # An image's file, to whoever may see the gig's page (a listed gig: everyone).
    "gig_image_file": Rule("public", everyone(200), everyone(405), lambda w: {**_gig_image(w), "size": "thumbnail"}),
    "order_start": Rule(
        "account",
        {**signed_in(200), "seller": 302},  # the seller's own gig: "you cannot order your own gig"
        {**signed_in(FORM), "seller": 302},
        lambda w: {"pk": w.gig.pk},
    ),
    # Now allauth's "Change password" (account_change_password), at its old address.
    "password_change": Rule("account", signed_in(302), signed_in(302)),
    # --- django-allauth's pages: the site's names for log in and sign up, then its own ------------
    **{
        name: Rule("public", {**everyone(302), "anonymous": 200}, {**everyone(302), "anonymous": 200})
        for name in ("login", "account_login", "signup", "account_signup")
    },
    # The footer's "Language": a POST from anyone (a visitor's goes in a cookie), then back to the page.
    "set_language": Rule("public", everyone(405), everyone(302)),
    # Log out is a POST; signed out already, it just goes home.
    **{name: Rule("public", everyone(405), everyone(302)) for name in ("logout", "account_logout")},
    # Pages that only say something (an inactive account, a link sent, a password reset), and
    # the e-mail link landing page: nothing to act on, POST refused or answered by the form.
    **{
        name: Rule("public", everyone(200), everyone(405))
        for name in (
            "account_inactive",
            "account_email_verification_sent",
            "account_reset_password_done",
            "account_reset_password_from_key_done",
        )
    },
    "account_confirm_email": Rule("public", everyone(200), everyone(404), lambda w: {"key": "not-a-real-key"}),
    "account_reset_password": Rule("public", everyone(200), everyone(FORM)),
    "account_reset_password_from_key": Rule(
        "public", everyone(200), everyone(FORM), lambda w: {"uidb36": "1", "key": "not-a-real-key"}
    ),
    # The second step of a log-in (a code by e-mail, the two-factor code): only inside a log-in.
    **{
        name: Rule("public", {**everyone(302), "anonymous": LOGIN}, {**everyone(302), "anonymous": LOGIN})
        for name in ("account_confirm_login_code", "mfa_authenticate")
    },
    "account_reauthenticate": Rule("account", signed_in(200), signed_in(FORM)),
    "account_email": Rule("account", signed_in(200), signed_in(302)),
    "account_change_password": Rule("account", signed_in(200), signed_in(FORM)),
    # Every account has a password here: "set" sends to "change".
    "account_set_password": Rule("account", signed_in(302), signed_in(302)),
    "mfa_index": Rule("account", signed_in(200), signed_in(405)),
    # Changing two-factor asks for the password (or code) again first; only an enrolled user
    # (staff here) has an authenticator to deactivate, or codes to see.
    **{
        name: Rule("account", signed_in(302), signed_in(302))
        for name in ("mfa_activate_totp", "mfa_generate_recovery_codes")
    },
    "mfa_reauthenticate": Rule("account", {**signed_in(302), "staff": 200}, {**signed_in(302), "staff": 200}),
    "mfa_deactivate_totp": Rule("account", {**signed_in(404), "staff": 302}, {**signed_in(404), "staff": 302}),
    "mfa_view_recovery_codes": Rule("account", signed_in(404), signed_in(405)),
    "mfa_download_recovery_codes": Rule("account", signed_in(404), signed_in(404)),
    "profile": Rule("account", signed_in(200), signed_in(FORM)),
    # Data rights: one's own data only (there is no other user's to ask for).
    "your_data": Rule("account", signed_in(200), everyone(405)),
    "data_download": Rule("account", everyone(405), signed_in(200)),
    "account_delete": Rule("account", everyone(405), signed_in(FORM)),
    # Webhooks: one's own endpoints only; anyone else's endpoint or delivery is a 404.
    "webhooks": Rule("account", signed_in(200), everyone(405)),
    "webhook_add": Rule("account", signed_in(200), signed_in(FORM)),
    "webhook_endpoint": Rule(
        "account", {**signed_in(404), "buyer": 200}, everyone(405), lambda w: {"endpoint_id": _a_webhook(w)[0].pk}
    ),
    "webhook_set_active": Rule(
        "account", everyone(405), {**signed_in(404), "buyer": 302}, lambda w: {"endpoint_id": _a_webhook(w)[0].pk}
    ),
    "webhook_delete": Rule(
        "account", everyone(405), {**signed_in(404), "buyer": 302}, lambda w: {"endpoint_id": _a_webhook(w)[0].pk}
    ),
    "webhook_resend": Rule(
        "account", everyone(405), {**signed_in(404), "buyer": 302}, lambda w: {"delivery_id": _a_webhook(w)[1].pk}
    ),
    "dashboard": Rule("account", signed_in(200), signed_in(200)),
    "buyer_dashboard": Rule("account", signed_in(200), signed_in(200)),
    "seller_dashboard": Rule("account", signed_in(200), signed_in(200)),
    # The calendar feed: made and revoked by its owner from a dashboard (POST only), read by anyone
    # holding its secret address, signed in or not (the token is the credential); GET only.
    "calendar_feed_create": Rule("account", signed_in(405), signed_in(302)),
    "calendar_feed_revoke": Rule("account", signed_in(405), signed_in(302)),
    "calendar_feed_ics": Rule("public", everyone(200), everyone(405), lambda w: {"token": _a_calendar_feed(w)}),
    "notifications": Rule("account", signed_in(200), signed_in(200)),
    "notifications_read": Rule("account", signed_in(405), signed_in(302)),
    # One of the buyer's notices: theirs to open; anyone else's 404.
    "notification_open": Rule(
        "account",
        signed_in(405),
        {**signed_in(404), "buyer": 302},
        lambda w: {"pk": w.order.buyer.notifications.order_by("pk").first().pk},
    ),
    "earnings": Rule("account", signed_in(200), signed_in(200)),
    "withdraw": Rule("account", signed_in(405), signed_in(400)),
    "withdrawal_method_choose": Rule("account", signed_in(405), signed_in(400)),
    "refund_to_card": Rule("account", signed_in(405), signed_in(400)),
    "earnings_export": Rule("account", signed_in(200), signed_in(405)),
    "milestones_export": Rule("account", signed_in(200), signed_in(405)),
    "payout_onboarding": Rule("account", signed_in(405), signed_in(302)),
    "payout_onboarding_return": Rule("account", signed_in(302), signed_in(405)),
    # --- inside an order: parties and staff see it, outsiders get 404 ---------------------
    "order_detail": Rule(
        "order",
        order_scoped(staff=200, buyer=200, seller=200),
        order_scoped(staff=200, buyer=FORM, seller=FORM),
        _order,
    ),
    # The order page's poll: no login page for a script, 403 signed out; else as the order.
    "order_live": Rule(
        "order",
        order_scoped(anonymous=403, staff=200, buyer=200, seller=200),
        everyone(405),
        _order,
    ),
    "order_message": Rule(
        "order",
        everyone(405),
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        _order,
    ),
    "order_complete": Rule("order", everyone(405), order_scoped(staff=302, buyer=302, seller=302), _order),
    "milestone_new": Rule(
        "order",
        order_scoped(staff=302, buyer=200, seller=302),
        order_scoped(staff=302, buyer=FORM, seller=302),
        _order,
    ),
    "milestone_pay": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=302),  # an unknown draft key: back to the form
        order_scoped(staff=302, buyer=302, seller=302),
        lambda w: {"pk": w.order.pk, "key": "no-such-draft"},
    ),
    "milestone_accept": Rule(
        "order", everyone(405), order_scoped(staff=302, buyer=302, seller=302), lambda w: {"pk": w.awaiting.pk}
    ),
    "milestone_decline": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=200),
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.awaiting.pk},
    ),
    "milestone_cancel": Rule(
        "order",
        order_scoped(staff=302, buyer=200, seller=302),
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.awaiting.pk},
    ),
    # "Pay now" on a milestone already paid: back to the order with a message.
    "milestone_checkout": Rule(
        "order", everyone(405), order_scoped(staff=302, buyer=302, seller=302), lambda w: {"pk": w.awaiting.pk}
    ),
    "milestone_checkout_return": Rule(
        "order", order_scoped(staff=302, buyer=302, seller=302), everyone(405), lambda w: {"pk": w.awaiting.pk}
    ),
    "receipt": Rule(
        "order",
        order_scoped(staff=200, buyer=200, seller=404),
        signed_in(405),
        lambda w: {
            "pk": Transaction.objects.filter(milestone=w.in_review, kind="fund").values_list("pk", flat=True).first()
        },
    ),
    "milestone_extension": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=302),  # in review: no deadline to move now
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.in_review.pk},
    ),
    "milestone_cancellation": Rule(
        "order",
        order_scoped(staff=302, buyer=200, seller=200),  # in review: either party may ask
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.in_review.pk},
    ),
    **{
        name: Rule("order", everyone(405), order_scoped(staff=302, buyer=302, seller=302), _a_proposal)
        for name in ("proposal_decline", "proposal_withdraw")
    },
    # GET is the confirmation page of a cancellation only; this one is an extension: 405.
    "proposal_accept": Rule(
        "order",
        order_scoped(staff=405, buyer=405, seller=405),
        order_scoped(staff=302, buyer=302, seller=302),
        _a_proposal,
    ),
    # The cancellation form's live figures: the parties only (staff do not ask to cancel).
    "cancellation_figures": Rule(
        "order",
        order_scoped(staff=404, buyer=200, seller=200),
        everyone(405),
        lambda w: {"pk": w.in_review.pk},
    ),
    # Not approved (in review): the parties are sent back with a message.
    "milestone_portfolio": Rule(
        "order", everyone(405), order_scoped(staff=302, buyer=302, seller=302), lambda w: {"pk": w.in_review.pk}
    ),
    # Not approved (in review): nobody may tip it yet, every party is sent back with a message.
    "milestone_tip": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=302),
        order_scoped(staff=302, buyer=302, seller=302),
        lambda w: {"pk": w.in_review.pk},
    ),
    "tip_checkout_return": Rule(
        "order", order_scoped(staff=302, buyer=302, seller=302), everyone(405), lambda w: {"pk": w.in_review.pk}
    ),
    # The order is not complete: nobody may review it yet, everyone is sent back with a message.
    "review_new": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=302),
        order_scoped(staff=302, buyer=302, seller=302),
        _order,
    ),
    "review_request": Rule("order", everyone(405), order_scoped(staff=302, buyer=302, seller=302), _order),
    # --- agreeing on terms: offers and changes ---------------------------------------------
    "offer_new": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=200),  # "Propose a milestone" is the seller's
        order_scoped(staff=302, buyer=302, seller=FORM),
        _order,
    ),
    # Not an offer (awaiting acceptance): every party is sent back with a message.
    "offer_accept": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=302),
        order_scoped(staff=302, buyer=302, seller=302),
        lambda w: {"pk": w.awaiting.pk},
    ),
    "offer_decline": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=302),
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.awaiting.pk},
    ),
    "offer_withdraw": Rule(
        "order", everyone(405), order_scoped(staff=302, buyer=302, seller=302), lambda w: {"pk": w.awaiting.pk}
    ),
    "milestone_changes": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=200),  # the seller, before accepting
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.awaiting.pk},
    ),
    "changes_checkout_return": Rule(
        "order", order_scoped(staff=302, buyer=302, seller=302), everyone(405), _a_proposal
    ),
    # A custom offer from the seller's own gig page; anyone else gets 404 for it.
    "custom_offer_new": Rule(
        "account",
        {**signed_in(404), "seller": 200},
        {**signed_in(404), "seller": FORM},
        lambda w: {"pk": w.gig.pk},
    ),
    "milestone_submit": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=302),  # in review: nothing to submit now
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.in_review.pk},
    ),
    "milestone_request_revision": Rule(
        "order",
        order_scoped(staff=302, buyer=200, seller=302),
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.in_review.pk},
    ),
    "milestone_approve": Rule(
        "order",
        order_scoped(staff=302, buyer=200, seller=302),  # the confirmation page, to the buyer only
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.in_review.pk},
    ),
    "milestone_dispute": Rule(
        "order",
        order_scoped(staff=302, buyer=200, seller=200),
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.in_review.pk},
    ),
    "dispute_statement": Rule(
        "order",
        order_scoped(staff=302, buyer=200, seller=200),
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.disputed.pk},
    ),
    "deliverable_download": Rule(
        "order",
        order_scoped(staff=200, buyer=200, seller=200),
        everyone(405),
        lambda w: {"pk": w.delivery_file.pk},
    ),
    "dispute_attachment": Rule(
        "order",
        order_scoped(staff=200, buyer=200, seller=200),
        everyone(405),
        lambda w: {"pk": w.statement.pk},
    ),
    # --- ordered packages (issue 35) -----------------------------------------------------------
    # The world's gig has no packages: every signed-in visitor gets 404 for its first one.
    "package_order": Rule("account", signed_in(404), signed_in(404), lambda w: {"gig_id": w.gig.pk, "position": 1}),
    # Not a planned step (awaiting acceptance): every party is sent back with a message.
    "milestone_continue": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=302),
        order_scoped(staff=302, buyer=302, seller=302),
        lambda w: {"pk": w.awaiting.pk},
    ),
    "continue_checkout_return": Rule(
        "order", order_scoped(staff=302, buyer=302, seller=302), everyone(405), lambda w: {"pk": w.awaiting.pk}
    ),
    "order_stop": Rule(
        "order",
        order_scoped(staff=302, buyer=302, seller=302),
        order_scoped(staff=FORM, buyer=FORM, seller=FORM),
        lambda w: {"pk": w.awaiting.pk},
    ),
    # A hand-made milestone has unlimited revisions: nothing to buy, every party is sent back.
    "milestone_buy_revision": Rule(
        "order", everyone(405), order_scoped(staff=302, buyer=302, seller=302), lambda w: {"pk": w.in_review.pk}
    ),
    "requirement_file": Rule(
        "order",
        order_scoped(staff=200, buyer=200, seller=200),
        everyone(405),
        lambda w: {"pk": _a_requirement_file(w).pk},
    ),
    # --- the inbox ------------------------------------------------------------------------------
    "inbox": Rule("account", signed_in(200), everyone(405)),
    "order_list": Rule("account", signed_in(200), everyone(405)),
    # The inbox's and a conversation's polls: no login page for a script, 403 signed out.
    "inbox_live": Rule("account", {**signed_in(200), "anonymous": 403}, everyone(405)),
    "inquiry_live": Rule(
        "order",
        order_scoped(anonymous=403, staff=200, buyer=200, seller=200),
        everyone(405),
        lambda w: {"pk": _an_inquiry(w).pk},
    ),
    # "Contact seller": the gig's seller is sent back (their own gig); anyone else to the conversation.
    # "Contact seller": the form for the first message (the seller's own gig: "This is your own gig").
    "inquiry_start": Rule(
        "account",
        {**signed_in(200), "seller": 302},
        {**signed_in(FORM), "seller": 302},
        lambda w: {"pk": w.gig.pk},
    ),
    # A conversation before any order: its two parties and staff read it; an empty message is a form error.
    "inquiry_detail": Rule(
        "order",
        order_scoped(staff=200, buyer=200, seller=200),
        order_scoped(staff=400, buyer=400, seller=400),
        lambda w: {"pk": _an_inquiry(w).pk},
    ),
    "message_file": Rule(
        "order",
        order_scoped(staff=200, buyer=200, seller=200),
        everyone(405),
        lambda w: {"pk": _an_order_message_file(w).pk},
    ),
    "inquiry_file": Rule(
        "order",
        order_scoped(staff=200, buyer=200, seller=200),
        everyone(405),
        lambda w: {"pk": _an_inquiry_file(w).pk},
    ),
    # --- the REST API (api/): 401 (not a login redirect) without credentials; what is not the
    # caller's own is 404; staff are members there (nothing of an order they are not party to) ---------
    "api_schema": Rule("public", everyone(200), everyone(405)),
    "api_docs": Rule("public", everyone(200), everyone(405)),
    "api_tokens": Rule("account", signed_in(200), signed_in(FORM)),
    "api_token_revoke": Rule("account", everyone(405), signed_in(404), lambda w: {"pk": MISSING_ID}),
    **{
        name: Rule("account", signed_in(200, anonymous=401), signed_in(405, anonymous=401))
        for name in (
            "api-root",
            "api-ledger",
            "api-me",
            "api-balance",
            "api-order-list",
            "api-proposal-list",
            "api-notification-list",
        )
    },
    # Creating needs an order of one's own: an empty POST names the missing fields.
    "api-milestone-list": Rule("account", signed_in(200, anonymous=401), signed_in(400, anonymous=401)),
    "api-notification-detail": Rule(
        "account", signed_in(404, anonymous=401), signed_in(405, anonymous=401), lambda w: {"pk": MISSING_ID}
    ),
    "api-notification-read": Rule(
        "account", signed_in(405, anonymous=401), signed_in(404, anonymous=401), lambda w: {"pk": MISSING_ID}
    ),
    # A receipt: one's own transaction's only; an id that is no one's (or someone else's) is 404.
    "api-receipt": Rule(
        "account", signed_in(404, anonymous=401), signed_in(405, anonymous=401), lambda w: {"pk": MISSING_ID}
    ),
    "api-notification-read-all": Rule("account", signed_in(405, anonymous=401), signed_in(200, anonymous=401)),
    # Gigs: the list and a listed gig are public; a seller's own gig is theirs alone to change.
    "api-gig-list": Rule("public", everyone(200), signed_in(400, anonymous=401)),
    "api-gig-detail": Rule("public", everyone(200), signed_in(405, anonymous=401), lambda w: {"pk": w.gig.pk}),
    **{
        f"api-gig-{name}": Rule(
            "account",
            signed_in(405, anonymous=401),
            {**signed_in(404, anonymous=401), "seller": API_ANSWERED},
            lambda w: {"pk": w.gig.pk},
        )
        for name in ("pause", "resume")
    },
    "api-order-detail": Rule(
        "order",
        order_scoped(anonymous=401, staff=404, buyer=200, seller=200),
        {**signed_in(405, anonymous=401), "outsider": 405},
        _order,
    ),
    "api-order-messages": Rule(
        "order",
        order_scoped(anonymous=401, staff=404, buyer=200, seller=200),
        order_scoped(anonymous=401, staff=404, buyer=400, seller=400),
        _order,
    ),
    # The seller's offer of a milestone: an empty one names its fields; the buyer may not offer.
    "api-order-offers": Rule(
        "order",
        {**signed_in(405, anonymous=401), "outsider": 405},
        order_scoped(anonymous=401, staff=404, buyer=403, seller=400),
        _order,
    ),
    "api-milestone-detail": Rule(
        "order",
        order_scoped(anonymous=401, staff=404, buyer=200, seller=200),
        {**signed_in(405, anonymous=401), "outsider": 405},
        lambda w: {"pk": w.in_review.pk},
    ),
    # The actions on the milestone in review: answered (done, bad input, not their role, not now),
    # never a 404 or a 500, to the parties; 404 to everyone else.
    **{
        f"api-milestone-{action}": Rule(
            "order",
            {**signed_in(405, anonymous=401), "outsider": 405},
            order_scoped(anonymous=401, staff=404, buyer=API_ANSWERED, seller=API_ANSWERED),
            lambda w: {"pk": w.in_review.pk},
        )
        for action in (
            "accept",
            "decline",
            "submit",
            "request-revision",
            "approve",
            "cancel",
            "dispute",
            "accept-offer",
            "decline-offer",
            "withdraw-offer",
            "changes",
            "extension",
            "cancellation",
        )
    },
    "api-proposal-detail": Rule(
        "order",
        order_scoped(anonymous=401, staff=404, buyer=200, seller=200),
        {**signed_in(405, anonymous=401), "outsider": 405},
        _a_proposal,
    ),
    **{
        f"api-proposal-{answer}": Rule(
            "order",
            {**signed_in(405, anonymous=401), "outsider": 405},
            order_scoped(anonymous=401, staff=404, buyer=API_ANSWERED, seller=API_ANSWERED),
            _a_proposal,
        )
        for answer in ("accept", "decline", "withdraw")
    },
}


def walk(resolver=None, namespace=None):
    """(namespace, name, route) of every URL pattern, however deeply included."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield namespace, pattern.name, str(pattern.pattern)


def check(response, expected, *, what: str) -> None:
    code = response.status_code
    if expected == LOGIN:
        assert code == 302, f"{what}: expected a redirect to login, got {code}"
        assert response["Location"].startswith(reverse("login")), f"{what}: redirects to {response['Location']}"
    elif isinstance(expected, tuple):
        assert code in expected, f"{what}: got {code}, expected one of {expected}"
    else:
        assert code == expected, f"{what}: got {code}, expected {expected}"


def test_every_url_is_classified():
    """A new URL fails here until someone writes down who may use it."""
    seen = {}
    for namespace, name, route in walk():
        if namespace == "admin":
            continue  # the admin is classified as a whole: test_admin_is_staff_only
        assert name, f"URL {route!r} has no name, so it cannot be classified"
        seen[name] = route
    assert set(seen) - set(MATRIX) == set(), "URLs missing from the authorization matrix"
    assert set(MATRIX) - set(seen) == set(), "the matrix lists URLs that no longer exist"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_matrix(name, world, unchanged):
    rule = MATRIX[name]
    url = reverse(name, kwargs=rule.kwargs(world))
    with unchanged():
        for role in ROLES:
            check(world.client(role).get(url), rule.get[role], what=f"GET {url} as {role}")
    # Those who may not act go first, and together must change nothing.
    bystanders = [r for r in ROLES if r == "anonymous" or (rule.scope == "order" and r not in PARTIES)]
    with unchanged():
        for role in bystanders:
            check(world.client(role).post(url), rule.post[role], what=f"POST {url} as {role}")
    for role in ROLES:
        if role not in bystanders:
            check(world.client(role).post(url), rule.post[role], what=f"POST {url} as {role}")
    if rule.scope == "order":
        outsider_learns_nothing(name, rule, world)


def outsider_learns_nothing(name: str, rule: Rule, world) -> None:
    """An existing id and a made-up one answer the outsider alike; a party gets 404 for the made-up one."""
    real = rule.kwargs(world)
    fake = {key: MISSING_ID if isinstance(value, int) else value for key, value in real.items()}
    client = world.client("outsider")
    for method in ("get", "post"):
        existing = getattr(client, method)(reverse(name, kwargs=real))
        missing = getattr(client, method)(reverse(name, kwargs=fake))
        assert existing.status_code == missing.status_code, f"{method.upper()} {name}: the outsider can tell"
        assert existing.status_code in (404, 405)
    for role in PARTIES:
        response = world.client(role).get(reverse(name, kwargs=fake))
        assert response.status_code in (404, 405), f"GET {name} with a missing id as {role}"


@pytest.mark.django_db
def test_outsider_sees_no_trace_of_the_order_in_the_404(world):
    response = world.client("outsider").get(reverse("order_detail", kwargs={"pk": world.order.pk}))
    assert response.status_code == 404
    body = response.content.decode()
    for secret in (world.order.title, world.buyer.username, world.in_review.title):
        assert secret not in body


@pytest.mark.django_db
def test_admin_is_staff_only(world):
    """Every model page of the admin: staff get it, everyone else goes to the admin login."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    login = reverse("admin:login")
    for url in urls:
        for role in ("anonymous", "buyer", "seller", "outsider"):
            response = world.client(role).get(url)
            assert response.status_code == 302, f"{url} as {role}"
            assert response["Location"].startswith(login), f"{url} as {role}"
        assert world.client("staff").get(url).status_code == 200, url


# The admin's own pages that a signed-out visitor must reach (or that only redirect).
ADMIN_PUBLIC = {"login", "logout", "view_on_site"}


def admin_urls() -> list[tuple[str, str]]:
    """(name, a concrete path) for every named admin URL, custom ones included."""
    from django.urls import NoReverseMatch

    apps = sorted({model._meta.app_label for model in admin.site._registry})
    found = []

    def visit(resolver, namespace=None):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                visit(pattern, pattern.namespace or namespace)
            elif namespace == "admin" and pattern.name and pattern.name not in ADMIN_PUBLIC:
                params = list(pattern.pattern.regex.groupindex)
                for app in apps:
                    try:
                        kwargs = {p: (app if p == "app_label" else "1") for p in params}
                        found.append((pattern.name, reverse(f"admin:{pattern.name}", kwargs=kwargs)))
                        break
                    except NoReverseMatch:
                        continue
                else:
                    raise AssertionError(f"cannot build a URL for admin:{pattern.name}")

    visit(get_resolver())
    return found


@pytest.mark.django_db
def test_every_admin_url_sends_non_staff_to_the_admin_login(world):
    """Custom admin views too: one not wrapped in admin_view() would answer here."""
    login = reverse("admin:login")
    urls = admin_urls()
    assert len(urls) > 20
    for role in ("anonymous", "buyer"):
        client = world.client(role)
        for name, url in urls:
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                assert response.status_code == 302, f"{method.upper()} admin:{name} ({url}) as {role}"
                assert response["Location"].startswith(login), f"admin:{name} as {role}"
