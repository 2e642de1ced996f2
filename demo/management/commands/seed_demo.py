"""Demo data for `make run`: idempotent, never called by production entry points.

The demo milestones are paid by card the way a buyer pays: each checkout is
opened with the sandbox provider, paid on its side with a test card, and
funded when the provider confirms it (the sandbox's webhook also arrives, once
the web process is up, and finds it done). Provider calls happen outside any
transaction, so the seeding is not one atomic block; it is idempotent instead.
The checkouts' return pages and the sandbox's webhooks go to ``SITE_URL``: the
address ``make run`` serves (its ``ADDR``), so the worker delivers them there.
"""

from datetime import timedelta

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User, WithdrawalMethod
from accounts.services import email_mark_verified, user_update_profile
from demo.checkout import pay_continue_in_sandbox, pay_in_sandbox, pay_tip_in_sandbox
from demo.gig import demo_gig
from demo.images import seed_gig_images
from demo.totp import DEMO_ADMIN_TOTP_SECRET
from gigs.models import Gig, GigExtra, GigPackage, PackageStep, RequirementQuestion
from gigs.services import gig_create
from milestones.models import Milestone
from milestones.services.completion import order_complete
from milestones.services.creation import milestone_create
from milestones.services.lifecycle import milestone_accept, milestone_approve, milestone_submit
from milestones.services.offers import offer_create
from milestones.services.packages import milestone_continue, package_order_start
from milestones.services.tips import tip_leave
from orders.models import Order
from orders.services import order_create, order_message_send
from payments.models import Checkout
from payments.services import FundingSource
from reviews.services import review_submit

PASSWORD = "marketplace-demo"
CARD = FundingSource(method="checkout")
TEST_CARD = "4242 4242 4242 4242"


class Command(BaseCommand):
    help = (
        "Create the demo accounts, a gig with three packages and orders whose milestones show several states "
        "(idempotent)."
    )

    def handle(self, *args, **options):
        buyer = self._user("buyer", "buyer@example.com")
        seller = self._user("seller", "seller@example.com", withdrawal_method=WithdrawalMethod.PAYPAL)
        if not seller.payout_token:
            # Typed as on the profile: checked and tokenized by the provider (accounts.payouts).
            user_update_profile(
                user=seller,
                bio=seller.bio,
                withdrawal_method=WithdrawalMethod.PAYPAL,
                payout_account="seller@example.com",
            )
        admin = self._user("admin", "admin@example.com", is_staff=True, is_superuser=True)
        # The admin opens only for staff enrolled in two-factor: the demo admin's
        # authenticator is this known secret (README: `python manage.py demo_totp`).
        if not Authenticator.objects.filter(user=admin, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(admin, DEMO_ADMIN_TOTP_SECRET)
        gig = demo_gig(seller)
        seed_gig_images(gig)
        if not Order.objects.filter(buyer=buyer, seller=seller).exists():
            self._demo_orders(buyer, seller, gig)
        # After the gig's packages are seeded (the gig editor's demo), so it orders one of them.
        if not Order.objects.filter(buyer=buyer, seller=seller).exclude(package_name="").exists():
            self._package_order(buyer, self._packaged_gig(seller))
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _user(self, username: str, email: str, **extra) -> User:
        user, created = User.objects.get_or_create(username=username, defaults={"email": email, **extra})
        if created:
            user.set_password(PASSWORD)
            user.save()
            # Demo accounts have confirmed their e-mail, so they can pay and withdraw at once.
            email_mark_verified(user)
        return user

    def _milestone(self, order, buyer, n: int, title: str, amount: str, days: int) -> Milestone:
        milestone = milestone_create(
            order=order,
            actor=buyer,
            title=title,
            description=f"Phase {n}: {title}. Deliverables agreed in the order's messages.",
            deadline=timezone.now() + timedelta(days=days),
            amount=Money(amount, order.currency),
            source=CARD,
            idempotency_key=f"demo-{order.pk}-{n}",
        )
        return self._pay_by_card(milestone)

    def _pay_by_card(self, milestone: Milestone) -> Milestone:
        pay_in_sandbox(milestone, site=settings.SITE_URL, card=TEST_CARD)
        milestone.refresh_from_db()
        return milestone

    def _demo_orders(self, buyer: User, seller: User, gig: Gig) -> None:
        app = order_create(
            buyer=buyer,
            gig=gig,
            title="Fitness tracking app",
            brief="An iOS and Android app to log workouts.",
        )
        order_message_send(order=app, author=buyer, body="Hi! Looking forward to working with you on this.")
        order_message_send(order=app, author=seller, body="Thanks! I'll start with the UI/UX design.")
        design = self._milestone(app, buyer, 1, "UI/UX design", "400.00", 7)
        backend = self._milestone(app, buyer, 2, "Backend development", "900.00", 21)
        testing = self._milestone(app, buyer, 3, "Testing", "300.00", 28)
        self._milestone(app, buyer, 4, "Final launch", "250.00", 35)
        milestone_accept(milestone=design, actor=seller)
        milestone_accept(milestone=backend, actor=seller)
        milestone_accept(milestone=testing, actor=seller)
        milestone_submit(
            milestone=design,
            actor=seller,
            message="Figma file and style guide attached as links.",
            links=["https://www.figma.com/file/demo"],
        )
        milestone_approve(milestone=design, actor=buyer)
        milestone_submit(
            milestone=backend,
            actor=seller,
            message="API deployed to staging; docs linked.",
            links=["https://staging.example.com/docs"],
        )

        # After a milestone is approved, the seller proposes an add-on; it waits for the buyer's "Accept and pay".
        offer_create(
            order=app,
            actor=seller,
            title="Three months of maintenance",
            description="Bug fixes, OS updates and store resubmissions for three months after launch.",
            deadline=timezone.now() + timedelta(days=120),
            amount=Money("300.00", app.currency),
            idempotency_key=f"demo-{app.pk}-offer",
        )

        logo = order_create(buyer=buyer, gig=gig, title="Brand refresh", brief="A new logo and colour palette.")
        first = self._milestone(logo, buyer, 1, "Logo concepts", "150.00", 5)
        milestone_accept(milestone=first, actor=seller)

        # A finished engagement: approved with the buyer's consent to the portfolio, completed, reviewed by both.
        site = order_create(buyer=buyer, gig=gig, title="Landing page", brief="A one-page site for the app's launch.")
        page = self._milestone(site, buyer, 1, "Landing page design and build", "350.00", 10)
        milestone_accept(milestone=page, actor=seller)
        milestone_submit(
            milestone=page,
            actor=seller,
            message="Live on the staging domain; source in the repository.",
            links=["https://launch.example.com"],
        )
        milestone_approve(milestone=page, actor=buyer, portfolio=True)
        # A thank-you by card on top of the price: the seller sees it clearing on the earnings page.
        tip = tip_leave(milestone=page, actor=buyer, amount=Money("40.00", site.currency), method="card")
        assert isinstance(tip, Checkout)
        pay_tip_in_sandbox(tip, site=settings.SITE_URL, card=TEST_CARD)
        order_complete(order=site, actor=buyer)
        review_submit(
            order=site,
            actor=buyer,
            communication=5,
            service=5,
            recommend=5,
            text="Fast, clear and the page converts. Would hire again.",
        )
        review_submit(order=site, actor=seller, rating=5, text="A precise brief and quick feedback.")

    def _packaged_gig(self, seller: User) -> tuple[Gig, GigPackage]:
        """The seller's gig with packages, its "Standard" package preferred (the description's four phases);
        if none has packages, a small one of its own: written as the gig editor saves them."""
        packages = GigPackage.objects.filter(gig__seller=seller, gig__is_active=True, steps__isnull=False).distinct()
        package = packages.filter(name="Standard").order_by("gig_id").first() or packages.order_by("gig_id").first()
        if package is not None:
            return package.gig, package
        gig = gig_create(
            seller=seller,
            title="I will take your web app from design to launch in four milestones",
            description="A fixed workflow: UI/UX design, backend development, testing and the final launch.",
            starting_price=Money("1000.00", "USD"),
            delivery_days=30,
            category="development",
        )
        package = GigPackage.objects.create(gig=gig, position=1, name="Standard", description="Four phases.")
        phases = (
            ("UI/UX design", "Wireframes and a clickable prototype of every screen.", 5, "250.00", 2),
            ("Backend development", "API, database and admin, deployed to staging.", 10, "500.00", 1),
            ("Testing", "Automated tests and a test report.", 4, "150.00", 1),
            ("Final launch", "Production deployment and a handover call.", 2, "100.00", 0),
        )
        for position, (title, deliverables, days, price, revisions) in enumerate(phases, start=1):
            PackageStep.objects.create(
                package=package,
                position=position,
                title=title,
                deliverables=deliverables,
                days=days,
                price=Money(price, "USD"),
                revisions_included=revisions,
            )
        GigExtra.objects.create(
            gig=gig, position=1, title="Documentation", price=Money("80.00", "USD"), days=2, attach_to_step=None
        )
        RequirementQuestion.objects.create(gig=gig, position=1, question="What is your app about?", required=True)
        return gig, package

    def _package_order(self, buyer: User, gig_and_package: tuple[Gig, GigPackage]) -> None:
        """An ordered package in progress on its second step: the first approved, the second continued by card."""
        gig, package = gig_and_package
        answers = {
            q.pk: (q.choice_list[0] if q.answer_type == "choice" and q.choice_list else "A habit tracker for teams.")
            for q in gig.questions.all()
            if q.answer_type != "file"
        }
        order = package_order_start(
            buyer=buyer,
            gig=gig,
            package=package,
            extra_ids=[],
            answers=answers,
            key=f"demo-package-{package.pk}",
            source=CARD,
        )
        steps = list(Milestone.objects.filter(order=order).order_by("position"))
        if len(steps) < 2:
            return
        first = self._pay_by_card(steps[0])
        milestone_accept(milestone=first, actor=order.seller)
        milestone_submit(
            milestone=first, actor=order.seller, message="Prototype linked.", links=["https://www.figma.com/file/demo"]
        )
        milestone_approve(milestone=first, actor=buyer)
        checkout = milestone_continue(buyer=buyer, milestone=steps[1], key=f"demo-continue-{order.pk}", source=CARD)
        if checkout is not None:
            pay_continue_in_sandbox(checkout, site=settings.SITE_URL, card=TEST_CARD)
