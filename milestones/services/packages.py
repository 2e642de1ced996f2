"""Ordering a gig package (issue 35): the buyer answers the seller's requirements, ticks extras
and pays the first step; the order is created with one milestone per step, the first funded
exactly as a buyer-created milestone is (``milestone_create``: awaiting the seller's acceptance,
which accepts the plan), the rest ``planned``: agreed, holding no money. After each approval the
buyer continues (``milestone_continue``: the next planned step is funded, from the balance or
through a hosted checkout of purpose ``continue``, and starts at once) or stops
(``order_stop``: every planned step is cancelled, no money moves, the order completes). The
``continue`` sweep stops an order left ``CONTINUE_PERIOD`` without continuing.

Locks, as every milestone service: the order, its milestones, then the checkout, then the
ledger's accounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy
from djmoney.money import Money

from accounts.models import User
from accounts.services import require_verified_email
from gigs.models import AnswerType, Gig, GigExtra, GigPackage, RequirementQuestion
from marketplace.errors import DuplicateRequest, InvalidInput, InvalidTransition
from marketplace.money import Amount, format_money
from marketplace.uploads import validate_deliverable_file
from milestones.models import (
    OPEN_STATES,
    Milestone,
    MilestoneState,
    lock_milestone,
    lock_planned_milestones,
)
from milestones.selectors import waits_for_earlier
from milestones.services.completion import order_complete_if_done
from milestones.services.creation import milestone_create, new_milestone
from milestones.services.steps import (
    log,
    notify,
    refresh_order,
    refused,
    require_buyer,
    require_open_accounts,
    save,
    sentences,
    state_words,
    transition,
    withdraw_pending_proposals,
)
from notifications.times import notice_time
from orders.models import Order, OrderStatus, RequirementAnswer, lock_order
from orders.services import order_create
from payments.checkout import (
    checkout_close,
    checkout_mark_paid,
    late_payment_refund,
    lock_checkout,
    new_checkout,
    payment_matches,
)
from payments.fees import buyer_service_fee
from payments.models import Checkout, CheckoutStatus
from payments.services import FundingSource, escrow_fund

S = MilestoneState
# Waiting for the buyer's next step: the earlier ones of a planned step may not be in these.
_NOT_DONE = frozenset(OPEN_STATES | {S.AWAITING_PAYMENT, S.PLANNED})


# --- the plan: a package's steps with the ticked extras ----------------------------------------


@dataclass
class PlanStep:
    title: str
    description: str
    amount: Money
    days: int
    revisions_included: int | None
    extras: list[str] = field(default_factory=list)

    @property
    def fee(self) -> Money:
        return buyer_service_fee(self.amount)


@dataclass(frozen=True)
class Plan:
    steps: list[PlanStep]

    @property
    def total(self) -> Money:
        return sum((step.amount for step in self.steps[1:]), self.steps[0].amount)

    @property
    def days(self) -> int:
        return sum(step.days for step in self.steps)

    @property
    def charged_now(self) -> Money:
        """The first step and its service fee: all that is charged when ordering."""
        return self.steps[0].amount + self.steps[0].fee


def package_plan(package: GigPackage, extras: Iterable[GigExtra]) -> Plan:
    """The package's steps as milestones will copy them, each ticked extra added to the step it is
    attached to (the last one if the package has fewer), or its own last step."""
    steps = [
        PlanStep(
            title=step.title,
            description=(step.deliverables or "").strip() or step.title,
            amount=step.price,
            days=step.days,
            revisions_included=step.revisions_included,
        )
        for step in package.steps.order_by("position")
    ]
    own: list[PlanStep] = []
    for extra in sorted(extras, key=lambda e: e.position):
        if extra.attach_to_step is None:
            own.append(
                PlanStep(
                    title=extra.title,
                    description=f"Extra: {extra.title}",
                    amount=extra.price,
                    days=max(1, extra.days),
                    revisions_included=0,
                )
            )
            continue
        target = steps[min(extra.attach_to_step, len(steps)) - 1]
        target.amount = target.amount + extra.price
        target.days += extra.days
        target.extras.append(extra.title)
    for step in steps:
        if step.extras:
            step.description += "\n\nExtras: " + ", ".join(step.extras)
    return Plan(steps=steps + own)


# --- the requirements --------------------------------------------------------------------------


def answer_field(question: RequirementQuestion) -> str:
    """The form field of a question's answer (and the ``field`` of its errors)."""
    return f"answer_{question.pk}"


@dataclass(frozen=True)
class CheckedAnswer:
    question: RequirementQuestion
    text: str = ""
    upload: UploadedFile | None = None
    file_name: str = ""
    content_type: str = ""


def package_order_errors(
    *, buyer: User, gig: Gig, package: GigPackage, extra_ids: Iterable[int], answers: Mapping[int, object]
) -> tuple[list[InvalidInput], list[GigExtra], list[CheckedAnswer]]:
    """Every rule the order breaks, one per field (the page shows them all), with the extras and
    the checked answers when none is broken."""
    errors: list[InvalidInput] = []
    if not gig.is_active:
        errors.append(InvalidInput(_("This gig is no longer available.")))
    if gig.seller_id == buyer.pk:
        errors.append(InvalidInput(_("You cannot order your own gig.")))
    if package.gig_id != gig.pk:
        errors.append(InvalidInput(_("This package is not one of the gig's.")))
    wanted = {int(pk) for pk in extra_ids}
    extras = list(GigExtra.objects.filter(gig=gig, pk__in=wanted))
    if len(extras) != len(wanted):
        errors.append(InvalidInput(_("Choose among this gig's extras."), field="extras"))
    currency = None
    first = package.steps.order_by("position").first()
    if first is None:
        errors.append(InvalidInput(_("This package has no steps to order.")))
    else:
        currency = str(first.price.currency)
        if any(str(e.price.currency) != currency for e in extras):
            errors.append(InvalidInput(_("An extra is priced in another currency than the package."), field="extras"))
    checked: list[CheckedAnswer] = []
    for question in gig.questions.order_by("position"):
        name = answer_field(question)
        value = answers.get(question.pk)
        if question.answer_type == AnswerType.FILE:
            if not isinstance(value, UploadedFile):
                if question.required:
                    errors.append(InvalidInput(_("Attach a file: the seller needs it to start."), field=name))
                continue
            try:
                file_name, content_type = validate_deliverable_file(value)
            except InvalidInput as error:
                errors.append(InvalidInput(error.message, field=name))
                continue
            checked.append(CheckedAnswer(question, upload=value, file_name=file_name, content_type=content_type))
            continue
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            if question.required:
                errors.append(InvalidInput(_("Answer this question: the seller needs it to start."), field=name))
            continue
        if len(text) > 5000:
            errors.append(InvalidInput(_("Keep the answer to 5,000 characters or fewer."), field=name))
            continue
        if question.answer_type == AnswerType.CHOICE and text not in question.choice_list:
            errors.append(InvalidInput(_("Choose one of the answers offered."), field=name))
            continue
        checked.append(CheckedAnswer(question, text=text))
    return errors, extras, checked


def _brief(answers: list[CheckedAnswer]) -> str:
    lines = [f"{a.question.question}\n{a.text or ('File: ' + a.file_name)}" for a in sorted(answers, key=_position)]
    return "\n\n".join(lines)[:10000]


def _position(answer: CheckedAnswer) -> int:
    return answer.question.position


# --- ordering ----------------------------------------------------------------------------------


def package_order_start(
    *,
    buyer: User,
    gig: Gig,
    package: GigPackage,
    extra_ids: Iterable[int],
    answers: Mapping[int, object],
    key: str,
    source: FundingSource,
) -> Order:
    """Open an order of ``package``: its requirement answers, one milestone per step, the first
    created and paid as a buyer-created milestone is (``milestone_create``: from the balance at
    once, or by card through its ``Checkout``, which the caller opens after commit), the others
    planned. Bad input raises the first ``InvalidInput`` and changes nothing (the page shows every
    one, ``package_order_errors``). The same form's ``key`` twice raises ``DuplicateRequest``
    carrying the order it opened."""
    if not key:
        raise InvalidInput(_("The form has expired; please fill it in again."))
    errors, extras, checked = package_order_errors(
        buyer=buyer, gig=gig, package=package, extra_ids=extra_ids, answers=answers
    )
    if errors:
        raise errors[0]
    plan = package_plan(package, extras)
    try:
        return _package_order_open(
            buyer=buyer, gig=gig, package=package, plan=plan, checked=checked, key=key, source=source
        )
    except IntegrityError:
        # The same form sent twice at the same moment: the other one holds the key (a unique index).
        already = _already_started(key, buyer)
        if already is None:
            raise
        raise already from None


def _already_started(key: str, buyer: User) -> DuplicateRequest | None:
    existing = Milestone.objects.filter(funding_key=key).select_related("order").first()
    if existing is None:
        return None
    mine = existing.order.buyer_id == buyer.pk
    return DuplicateRequest(_("This order was already started."), obj=existing.order if mine else None)


def _package_order_open(
    *,
    buyer: User,
    gig: Gig,
    package: GigPackage,
    plan: Plan,
    checked: list[CheckedAnswer],
    key: str,
    source: FundingSource,
) -> Order:
    now = timezone.now()
    with transaction.atomic():
        already = _already_started(key, buyer)
        if already is not None:
            raise already
        order = order_create(
            buyer=buyer,
            gig=gig,
            title=f"{gig.title} · {package.name}"[:200],
            brief=_brief(checked),
            currency=str(plan.steps[0].amount.currency),
        )
        order.package = package
        order.package_name = package.name
        order.save(update_fields=["package", "package_name", "updated_at"])
        for answer in checked:
            RequirementAnswer.objects.create(
                order=order,
                position=answer.question.position,
                question=answer.question.question,
                answer=answer.text,
                file=answer.upload or "",
                file_name=answer.file_name,
                content_type=answer.content_type,
                size=(answer.upload.size or 0) if answer.upload else 0,
            )
        order = plan_order_open(buyer=buyer, order=order, plan=plan, key=key, source=source, now=now)
    return order


def plan_order_open(*, buyer: User, order: Order, plan: Plan, key: str, source: FundingSource, now: datetime) -> Order:
    """The milestones of a new ``order`` from ``plan``: the first created and funded as a
    buyer-created milestone is (``milestone_create``: the balance now, or the card through its
    ``Checkout``), the others ``planned``. Shared by ordering a package and hiring on a buyer's
    request (``requests_board.services.request_hire``). Caller is in the transaction that made the
    order; returns the order locked."""
    first, *later = plan.steps
    milestone_create(
        order=order,
        actor=buyer,
        title=first.title,
        description=first.description,
        deadline=now + timedelta(days=first.days),
        amount=first.amount,
        source=source,
        idempotency_key=key,
        revisions_included=first.revisions_included,
    )
    order = lock_order(order.pk)
    for number, step in enumerate(later, start=2):
        # While planned, the deadline holds the step's own length from now (``planned_length``);
        # it is set from the day it starts.
        planned = new_milestone(
            order,
            key=f"{key}:{number}",
            already=_("This order was already started."),
            title=step.title,
            description=step.description,
            deadline=now + timedelta(days=step.days),
            amount=step.amount,
            state=S.PLANNED,
            revisions_included=step.revisions_included,
        )
        log(
            planned,
            buyer,
            "planned",
            "",
            ngettext(
                "{amount}, {n} day; paid when continued", "{amount}, {n} days; paid when continued", step.days
            ).format(amount=format_money(step.amount), n=step.days),
        )
    return order


# --- continue ----------------------------------------------------------------------------------


def continue_blocker(milestone: Milestone) -> str:
    """Why the buyer cannot continue with this step now, or "" if they can: it must be planned,
    the first planned one, with every milestone before it closed (its previous step approved)."""
    if milestone.state != S.PLANNED:
        return _("“{title}” is {state}, not planned.").format(
            title=milestone.title, state=state_words(milestone.get_state_display())
        )
    if milestone.order.status == OrderStatus.COMPLETED:
        return _("This order is complete.")
    earlier = Milestone.objects.filter(order_id=milestone.order_id, position__lt=milestone.position)
    if earlier.filter(state__in=_NOT_DONE).exists():
        return _("Continue once the current milestone is approved.")
    return ""


def next_planned(order: Order) -> Milestone | None:
    """The planned step the buyer may continue with now, if any."""
    milestone = Milestone.objects.filter(order=order, state=S.PLANNED).order_by("position").first()
    if milestone is None:
        return None
    milestone.order = order
    return None if continue_blocker(milestone) else milestone


def continue_checkouts(milestone: Milestone):
    return Checkout.objects.filter(purpose="continue", idempotency_key__startswith=f"checkout:continue:{milestone.pk}:")


def open_continue_checkout(milestone: Milestone) -> Checkout | None:
    return continue_checkouts(milestone).filter(status=CheckoutStatus.OPEN).order_by("-pk").first()


def milestone_continue(*, buyer: User, milestone: Milestone, key: str, source: FundingSource) -> Checkout | None:
    """ "Continue to next milestone": fund the next planned step. From the balance it is funded and
    starts now (returns None); by card it returns the step's open ``Checkout`` (one per step at a
    time: a second click gets the same one), which the caller opens after commit, and the
    payment funds and starts it (``continue_checkout_paid``). Twice at once: one funding."""
    if not key:
        raise InvalidInput(_("The form has expired; please fill it in again."))
    if source.method not in ("balance", "checkout"):
        raise InvalidInput(_("Unknown payment method {method}.").format(method=repr(source.method)), field="method")
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        order = milestone.order
        require_buyer(order, buyer, "continue the order")
        if milestone.state != S.PLANNED:
            raise refused(milestone, "continued")
        blocker = continue_blocker(milestone)
        if blocker:
            raise InvalidTransition(f"{blocker} {_('Nothing was charged.')}")
        require_open_accounts(order, "continuing")
        require_verified_email(buyer, "pay for a milestone")
        if source.method == "checkout":
            for checkout in continue_checkouts(milestone).select_for_update().filter(status=CheckoutStatus.OPEN):
                if checkout.amount == milestone.total_charged:
                    return checkout
                # The price changed since (an accepted change of terms): that page may not be paid.
                checkout_close(checkout, status=CheckoutStatus.CANCELLED)
            # The form's key names the checkout; a form sent again after its checkout closed gets a new one.
            nonce = key[:16]
            if (
                continue_checkouts(milestone)
                .filter(idempotency_key=f"checkout:continue:{milestone.pk}:{nonce}")
                .exists()
            ):
                nonce = uuid.uuid4().hex[:16]
            checkout = new_checkout(
                purpose="continue",
                buyer=buyer,
                amount=milestone.total_charged,
                key=f"continue:{milestone.pk}:{nonce}",
                expires_in=settings.CHECKOUT_EXPIRY,
            )
            log(
                milestone,
                buyer,
                "continue_started",
                None,
                _("{amount} to pay by card").format(amount=format_money(milestone.total_charged)),
            )
            return checkout
        escrow_fund(milestone=milestone, buyer=buyer, source=source, key=milestone.funding_key)
        _start(
            milestone, buyer=buyer, note=_("{amount} funded into escrow").format(amount=format_money(milestone.amount))
        )
    return None


def _start(milestone: Milestone, *, buyer: User, note: str) -> None:
    """Funded: the planned step starts (or queues behind an open one). Caller holds the locks."""
    now = timezone.now()
    start_now = not waits_for_earlier(milestone)
    before = transition(milestone, "continued", milestone.fund_planned, start_now=start_now, at=now)
    save(milestone)
    # Paid at the terms as they stand: changes still waiting for an answer are moot.
    withdraw_pending_proposals(milestone, at=now)
    log(milestone, buyer, "continued", before, note)
    refresh_order(milestone.order)
    started = milestone.state == S.IN_PROGRESS
    notify(
        milestone,
        to=milestone.order.seller,
        event="milestone_continued",
        message=format_lazy(
            gettext_lazy("{user} continued with “{title}” ({amount} in escrow). Work starts now; it is due {deadline}.")
            if started
            else gettext_lazy("{user} continued with “{title}” ({amount} in escrow). It starts after the current one."),
            user=buyer.username,
            title=milestone.title,
            amount=Amount(milestone.amount),
            deadline=notice_time(milestone.deadline),
        ),
    )


def continue_milestone_id(checkout: Checkout) -> int:
    return int(checkout.idempotency_key.split(":")[2])


def continue_checkout_description(checkout: Checkout) -> str:
    milestone = Milestone.objects.select_related("order").get(pk=continue_milestone_id(checkout))
    return _("Milestone “{title}” of order “{order}” (escrow plus service fee)").format(
        title=milestone.title, order=milestone.order.title
    )


def continue_checkout_paid(checkout_id: int, payment_reference: str, amount: Money) -> str:
    """The card paid the next step: it is funded and starts, if it still may; else the payment
    goes back to the card (the order stopped meanwhile, the price changed, paid twice).
    Locks: order, milestone, checkout, then the ledger's accounts."""
    milestone_id = continue_milestone_id(Checkout.objects.get(pk=checkout_id))
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        checkout = lock_checkout(checkout_id)
        if checkout.status == CheckoutStatus.PAID and checkout.payment_reference == payment_reference:
            return "already funded"
        still_due = (
            checkout.status == CheckoutStatus.OPEN
            and not continue_blocker(milestone)
            and checkout.amount == milestone.total_charged
        )
        if still_due and payment_matches(checkout, payment_reference=payment_reference, amount=amount):
            checkout_mark_paid(checkout, payment_reference=payment_reference)
            escrow_fund(
                milestone=milestone,
                buyer=checkout.buyer,
                source=FundingSource(method="checkout", payment_reference=payment_reference),
                key=milestone.funding_key,
            )
            _start(milestone, buyer=checkout.buyer, note=_("{amount} paid by card").format(amount=format_money(amount)))
            return "funded"
        why = "after the step could no longer be continued" if not still_due else "for a different amount"
        if checkout.status == CheckoutStatus.OPEN and not still_due:
            checkout_close(checkout, status=CheckoutStatus.CANCELLED)
        return late_payment_refund(checkout, payment_reference=payment_reference, amount=amount, why=why)


def continue_checkout_expired(checkout_id: int, *, now: datetime | None = None) -> str:
    """Not paid in time: the checkout closes; the step stays planned (the buyer may continue again
    until the continue period runs out)."""
    milestone_id = continue_milestone_id(Checkout.objects.get(pk=checkout_id))
    with transaction.atomic():
        lock_milestone(milestone_id)
        checkout = lock_checkout(checkout_id)
        if checkout.status != CheckoutStatus.OPEN:
            return f"nothing to expire ({checkout.status})"
        checkout_close(checkout, status=CheckoutStatus.EXPIRED)
    return "expired"


# --- stop --------------------------------------------------------------------------------------


def continue_due_at(order: Order) -> datetime | None:
    """When the continue period of the order's next planned step runs out (None: nothing waits)."""
    step = next_planned(order)
    if step is None:
        return None
    last = Milestone.objects.filter(order=order, position__lt=step.position).aggregate(m=Max("closed_at"))["m"]
    return None if last is None else last + settings.CONTINUE_PERIOD


def order_stop(*, buyer: User | None, order: Order, now: datetime | None = None) -> Order:
    """ "Stop the order here": every planned step is cancelled, no money moves (none was held), then
    the order completes if nothing else is open or unpaid; the seller is told. ``buyer=None`` is
    the ``continue`` sweep, allowed only once the continue period has run out."""
    now = now or timezone.now()
    with transaction.atomic():
        order = lock_order(order.pk)
        if buyer is not None:
            require_buyer(order, buyer, "stop the order")
        planned = lock_planned_milestones(order)
        if not planned:
            raise InvalidTransition(_("Nothing is planned on this order any more; nothing was changed."))
        if buyer is None:
            due = continue_due_at(order)
            if due is None or due > now:
                raise InvalidTransition(_("The continue period has not run out; nothing was changed."))
        for milestone in planned:
            # A card payment for it arriving later is refunded (``continue_checkout_paid``).
            for checkout in continue_checkouts(milestone).select_for_update().filter(status=CheckoutStatus.OPEN):
                checkout_close(checkout, status=CheckoutStatus.CANCELLED)
            before = transition(milestone, "stopped", milestone.stop_planned, at=now)
            save(milestone)
            withdraw_pending_proposals(milestone, at=now)
            why = (
                _("The buyer stopped the order; no money moved.")
                if buyer is not None
                else _("Not continued within the continue period; no money moved.")
            )
            log(milestone, buyer, "stopped", before, why)
        refresh_order(order)
        completed = order_complete_if_done(
            order=order, actor=buyer, note=_("Stopped: the remaining planned steps were cancelled.")
        )
        titles = ", ".join(f"“{m.title}”" for m in planned)
        ending = gettext_lazy("The order is complete.") if completed else ""
        if buyer is not None:
            notify(
                planned[0],
                to=order.seller,
                event="order_stopped",
                message=sentences(
                    format_lazy(
                        gettext_lazy(
                            "{user} stopped “{order}” here: {titles} will not be done; no money moved for them."
                        ),
                        user=buyer.username,
                        order=order.title,
                        titles=titles,
                    ),
                    ending,
                ),
            )
        else:
            days = settings.CONTINUE_PERIOD.days
            notify(
                planned[0],
                to=[order.buyer, order.seller],
                event="order_stopped",
                message=sentences(
                    format_lazy(
                        ngettext_lazy(
                            "“{order}” stopped: the next step was not continued within {n} day, "
                            "so {titles} will not be done; no money moved for them.",
                            "“{order}” stopped: the next step was not continued within {n} days, "
                            "so {titles} will not be done; no money moved for them.",
                            days,
                        ),
                        order=order.title,
                        n=days,
                        titles=titles,
                    ),
                    ending,
                ),
            )
    return order


# --- revisions beyond those included -----------------------------------------------------------


def revision_purchase_request(*, buyer: User, milestone: Milestone) -> Milestone:
    """ "Buy a revision": the step's included revisions are used up, so the buyer asks the seller to
    offer one (the seller answers with "Propose a milestone", the existing offer flow, as an add-on
    to this step). Only a notice and the log: nothing is charged until the buyer accepts an offer."""
    with transaction.atomic():
        milestone = lock_milestone(milestone.pk)
        require_buyer(milestone.order, buyer, "buy a revision")
        if milestone.state != S.IN_REVIEW:
            raise refused(milestone, "sent back for another revision")
        if milestone.revisions_left != 0:
            raise InvalidTransition(_("This milestone still has revisions included; use “Request revision”."))
        log(milestone, buyer, "revision_purchase_requested", None, _("Asked the seller to offer a paid revision."))
        notify(
            milestone,
            to=milestone.order.seller,
            event="revision_purchase_requested",
            message=format_lazy(
                gettext_lazy(
                    "{user} has used the revisions included in “{title}” and would like to buy another. "
                    "Offer one with “Propose a milestone” (an add-on to this step)."
                ),
                user=buyer.username,
                title=milestone.title,
            ),
        )
    return milestone
