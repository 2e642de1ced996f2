"""factory-boy factories for every model, plus a driver that takes a
milestone to any state *through the services*, so the ledger stays true."""

from __future__ import annotations

import uuid
from datetime import timedelta

import factory
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User, WithdrawalMethod
from gigs.models import Gig, GigImage
from milestones.models import Milestone, MilestoneState
from notifications.models import Notification
from orders.models import Order, OrderMessage
from payments.services import FundingSource

S = MilestoneState
# Paying by card: the milestone waits for payment, then ``create_milestone``
# pays its checkout on the sandbox provider as a buyer would (``pay_checkout``).
CARD = FundingSource(method="checkout")
BALANCE = FundingSource(method="balance")
GOOD_CARD = "4242424242424242"
# The TOTP secret (base32) of every StaffFactory user.
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
DECLINED_CARD_NUMBER = "4000000000000002"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        # The hooks below write rows of their own; the user needs no second save.
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")
    withdrawal_method = WithdrawalMethod.BANK_TRANSFER
    # Chosen on the profile; ``UserFactory(withdrawal_method_chosen_at=None)`` for a new user on the default.
    withdrawal_method_chosen_at = factory.LazyFunction(timezone.now)
    # As the profile keeps GB33BUKB20201555555555: its mask and a token (one the sandbox never made
    # pays, as its payouts always did). ``payout_account_set`` types a number in as a person would.
    payout_account = "•••• 5555"
    payout_token = "pdt_sandbox_factory"

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        """A confirmed e-mail address, as after following allauth's link;
        ``UserFactory(verified=False)`` for one who has not."""
        if create and extracted is not False:
            from allauth.account.models import EmailAddress

            from accounts.services import email_mark_verified

            if EmailAddress.objects.filter(user=self).exists():
                email_mark_verified(self)  # a user found by username: the service sorts out its addresses
            else:
                # A new user: what the service leaves, its one address verified and primary, in one
                # INSERT instead of the service's seven statements (update, savepoints, select, insert).
                EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


def payout_account_set(user: User, number: str, *, method: str | None = None) -> User:
    """Type ``number`` as the payout account on the profile (checked, tokenized by the sandbox,
    masked), with ``method`` as the withdrawal method if given. ``FAILING_PAYOUT`` for payouts
    the sandbox refuses."""
    from accounts.services import user_update_profile

    return user_update_profile(
        user=user, bio=user.bio, withdrawal_method=method or user.withdrawal_method, payout_account=number
    )


# Stripe's test bank account whose payouts fail (``sandbox.cards.FAILING_PAYOUT_DESTINATIONS``).
FAILING_PAYOUT = "000111111116"


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    is_superuser = True

    @factory.post_generation
    def totp(self, create, extracted, **kwargs):
        """Enrolled in two-factor (the admin opens only then), with ``STAFF_TOTP_SECRET``;
        ``StaffFactory(totp=False)`` for one who is not."""
        if create and extracted is not False:
            from allauth.mfa.models import Authenticator
            from allauth.mfa.totp.internal.auth import TOTP

            if not Authenticator.objects.filter(user=self, type=Authenticator.Type.TOTP).exists():
                TOTP.activate(self, STAFF_TOTP_SECRET)


class GigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gig

    seller = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"I will build phase {n} of your app")
    description = "Design, build and test, one milestone at a time."
    starting_price = Money("100.00", "USD")
    delivery_days = 14


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    buyer = factory.SubFactory(UserFactory)
    seller = factory.SubFactory(UserFactory)
    gig = factory.SubFactory(GigFactory, seller=factory.SelfAttribute("..seller"))
    title = factory.Sequence(lambda n: f"Order {n}")
    brief = "Build the thing."
    currency = "USD"


class OrderMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderMessage

    order = factory.SubFactory(OrderFactory)
    author = factory.SelfAttribute("order.buyer")
    body = factory.Sequence(lambda n: f"Message {n}")


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    event = "new_message"
    message = "Something happened."
    url = "/"


def create_milestone(
    order: Order,
    *,
    amount: str = "100.00",
    title: str = "Design",
    days: int = 7,
    source: FundingSource = CARD,
    key: str | None = None,
    pay: bool = True,
) -> Milestone:
    """A milestone created by the buyer; by card it is paid on the sandbox's
    hosted checkout unless ``pay=False`` (then it stays ``awaiting_payment``)."""
    from milestones.services.creation import milestone_create

    milestone = milestone_create(
        order=order,
        actor=order.buyer,
        title=title,
        description="Wireframes for every screen.",
        deadline=timezone.now() + timedelta(days=days),
        amount=Money(amount, order.currency),
        source=source,
        idempotency_key=key or uuid.uuid4().hex,
    )
    if pay and milestone.state == S.AWAITING_PAYMENT:
        pay_checkout(milestone)
        milestone.refresh_from_db()
    return milestone


SITE = "http://testserver"
WEBHOOK_URL = f"{SITE}/payments/webhooks/sandbox/"


def open_checkout(milestone: Milestone):
    """What "Pay by card" does after the milestone's row commits: the provider's page."""
    from demo.checkout import open_checkout as open_it

    return open_it(milestone, site=SITE)


def pay_checkout(milestone: Milestone, card: str = GOOD_CARD, *, sync: bool = True):
    """The buyer pays on the sandbox's page; then (``sync``) comes back, and the
    return page asks the provider, funding the milestone. The webhook the
    sandbox also queues is delivered by a worker, not here."""
    from demo.checkout import pay_in_sandbox

    return pay_in_sandbox(milestone, site=SITE, card=card, sync=sync)


def create_offer(
    order: Order, *, amount: str = "100.00", title: str = "Maintenance", days: int = 30, key: str | None = None
) -> Milestone:
    """A milestone the seller offers ("Propose a milestone"); unpaid, ``offered``."""
    from milestones.services.offers import offer_create

    return offer_create(
        order=order,
        actor=order.seller,
        title=title,
        description="Three months of fixes and updates.",
        deadline=timezone.now() + timedelta(days=days),
        amount=Money(amount, order.currency),
        idempotency_key=key or uuid.uuid4().hex,
    )


def milestone_in(state: str, order: Order | None = None, **kwargs) -> Milestone:
    """A funded milestone driven to ``state`` by the same services users call
    (the offer states: a seller's offer, unpaid)."""
    from milestones.services.disputes import dispute_resolve, milestone_open_dispute
    from milestones.services.lifecycle import (
        milestone_accept,
        milestone_approve,
        milestone_cancel,
        milestone_decline,
        milestone_request_revision,
        milestone_submit,
    )
    from milestones.services.offers import offer_decline, offer_expire
    from milestones.services.purposes import milestone_checkout_expired

    if state == S.PLANNED:
        # A planned step: the second step of an ordered package (a new order between the same parties).
        parties = {"buyer": order.buyer} if order else {}
        gig, package = packaged_gig(**({"seller": order.seller} if order else {}))
        ordered = package_order(gig, package, source=CARD, **parties)
        return Milestone.objects.filter(order=ordered).order_by("position")[1]
    order = order or OrderFactory()
    if state in (S.OFFERED, S.OFFER_DECLINED, S.OFFER_EXPIRED):
        offer = create_offer(order, **{k: v for k, v in kwargs.items() if k in ("amount", "title", "days", "key")})
        if state == S.OFFER_DECLINED:
            return offer_decline(milestone=offer, actor=order.buyer, reason="Not now")
        if state == S.OFFER_EXPIRED:
            assert offer.offer_expires_at is not None
            offer_expire(milestone_id=offer.pk, now=offer.offer_expires_at)
            offer.refresh_from_db()
        return offer
    if state in (S.AWAITING_PAYMENT, S.PAYMENT_EXPIRED):
        milestone = create_milestone(order, pay=False, **kwargs)
        if state == S.PAYMENT_EXPIRED:
            from payments.models import Checkout

            checkout = Checkout.objects.get(milestone=milestone)
            milestone_checkout_expired(checkout.pk, now=checkout.expires_at)
            milestone.refresh_from_db()
        return milestone
    if state == S.ACCEPTED:
        # Accepted means queued: an earlier milestone of the order is still open.
        create_milestone(order, title="Earlier phase")
    milestone = create_milestone(order, **kwargs)
    buyer, seller = order.buyer, order.seller
    if state == S.AWAITING_ACCEPTANCE:
        return milestone
    if state == S.DECLINED:
        return milestone_decline(milestone=milestone, actor=seller, reason="Too busy")
    if state == S.CANCELLED:
        return milestone_cancel(milestone=milestone, actor=buyer)
    milestone = milestone_accept(milestone=milestone, actor=seller)
    if state in (S.ACCEPTED, S.IN_PROGRESS):
        assert milestone.state == state, f"expected {state}, got {milestone.state}"
        return milestone
    if state == S.DISPUTED:
        milestone_open_dispute(milestone=milestone, actor=buyer, reason="No progress")
        return Milestone.objects.get(pk=milestone.pk)
    milestone_submit(
        milestone=milestone, actor=seller, message="Done, see the link.", links=["https://example.com/work"]
    )
    if state == S.IN_REVIEW:
        return Milestone.objects.get(pk=milestone.pk)
    if state == S.REVISION_REQUESTED:
        milestone_request_revision(milestone=milestone, actor=buyer, feedback="Bigger logo")
        return Milestone.objects.get(pk=milestone.pk)
    if state == S.APPROVED:
        return milestone_approve(milestone=milestone, actor=buyer)
    if state == S.RESOLVED:
        dispute = milestone_open_dispute(milestone=milestone, actor=buyer, reason="Not as agreed")
        staff = StaffFactory()
        dispute_resolve(dispute=dispute, actor=staff, outcome="refund")
        return Milestone.objects.get(pk=milestone.pk)
    raise ValueError(f"no route to {state}")


def totp_code(secret: str = "") -> str:
    """The code an authenticator app shows now for ``secret`` (a staff user's, by default)."""
    from demo.totp import current_code

    return current_code(secret or STAFF_TOTP_SECRET)


def staff_login(client, user, *, second_factor: bool = True):
    """Log ``user`` in on ``client`` as they would: members with their password, staff with the
    password and then the code from their authenticator app (the session's allauth authentication
    records say "mfa"); with ``second_factor=False``, the password alone."""
    import time

    from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY

    client.force_login(user)
    if second_factor and user.is_staff:
        session = client.session
        session[AUTHENTICATION_METHODS_SESSION_KEY] = [
            {"method": "password", "at": time.time(), "username": user.username},
            {"method": "mfa", "at": time.time(), "type": "totp"},
        ]
        session.save()
    return client


class GigImageFactory(factory.django.DjangoModelFactory):
    """A gig's image row with names that point at no file: for pages that only link to it (the
    cards, the gallery). Tests of what is stored use ``gigs.images.gig_image_add``."""

    class Meta:
        model = GigImage

    gig = factory.SubFactory(GigFactory)
    position = 1
    image = factory.LazyAttribute(lambda i: f"gigs/{i.gig.pk}/{uuid.uuid4().hex}.webp")
    thumbnail = factory.LazyAttribute(lambda i: f"gigs/{i.gig.pk}/{uuid.uuid4().hex}-thumb.webp")
    width = 1200
    height = 900
    thumbnail_width = 400
    thumbnail_height = 300
    alt_text = factory.Sequence(lambda n: f"Screens of app number {n}")


# --- ordered packages (issue 35) ----------------------------------------------------------------

PHASES = (("UI/UX design", "100.00", 3, 1), ("Backend development", "200.00", 5, 2), ("Testing", "50.00", 2, 1))


def packaged_gig(*, seller: User | None = None, steps=PHASES, extras=(), questions=(), name: str = "Standard"):
    """A gig with one package of ``steps`` ((title, price, days, revisions) each), its ``extras``
    ((title, price, days, attach_to_step)) and requirement ``questions`` ((question, type, choices,
    required)), written directly as the gig editor would save them. Returns (gig, package)."""
    from gigs.models import GigExtra, GigPackage, PackageStep, RequirementQuestion

    gig = GigFactory(**({"seller": seller} if seller else {}))
    package = GigPackage.objects.create(gig=gig, position=1, name=name, description="Step by step.")
    for position, (title, price, days, revisions) in enumerate(steps, start=1):
        PackageStep.objects.create(
            package=package,
            position=position,
            title=title,
            deliverables=f"{title}: what is delivered.",
            days=days,
            price=Money(price, "USD"),
            revisions_included=revisions,
        )
    for position, (title, price, days, attach) in enumerate(extras, start=1):
        GigExtra.objects.create(
            gig=gig, position=position, title=title, price=Money(price, "USD"), days=days, attach_to_step=attach
        )
    for position, (question, kind, choices, required) in enumerate(questions, start=1):
        RequirementQuestion.objects.create(
            gig=gig, position=position, question=question, answer_type=kind, choices=choices, required=required
        )
    return gig, package


def package_order(gig, package, *, buyer: User | None = None, extra_ids=(), answers=None, source=BALANCE):
    """The buyer orders ``package`` (first step paid from the balance, or by card and paid on the
    sandbox); returns the order."""
    from milestones.services.packages import package_order_start

    buyer = buyer or UserFactory()
    order = package_order_start(
        buyer=buyer,
        gig=gig,
        package=package,
        extra_ids=extra_ids,
        answers=answers or {},
        key=uuid.uuid4().hex,
        source=source,
    )
    first = order.milestones.order_by("position").first()
    if first is not None and first.state == S.AWAITING_PAYMENT:
        pay_checkout(first)
    return order
