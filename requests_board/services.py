"""The writes of buyer requests and proposals (issue 36, item 1): posting a request, sending,
editing and withdrawing a proposal, hiring on one, and the expiry of a request.

Lock order (docs/ARCHITECTURE.md, "Lock order"): a request's flows start at their own row, the
request (``lock_request``), then its proposals in id order; hiring then opens the order (a new
row, locked by ``plan_order_open``), its milestones, and the ledger's accounts last. No flow locks
a request after an order, a milestone or an account.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from djmoney.money import Money

from accounts.models import User
from accounts.services import require_verified_email
from gigs.packages import MAX_PACKAGE_DAYS, StepInput, _price_errors, _text_errors
from marketplace.errors import DuplicateRequest, InvalidInput, InvalidTransition, NotAllowed
from marketplace.money import Amount
from marketplace.uploads import validate_deliverable_file
from milestones.services.packages import Plan, PlanStep, plan_order_open
from notifications.services import notification_send
from orders.models import Order
from orders.services import order_create
from payments.services import FundingSource
from requests_board.models import (
    BuyerRequest,
    ProposalState,
    ProposalStep,
    RequestAttachment,
    RequestProposal,
    RequestState,
)

logger = logging.getLogger(__name__)

MAX_PROPOSAL_STEPS = 6
# A request's files follow the deliverables' rules (``marketplace.uploads``): the same count, size and types.
MAX_REQUEST_FILES = settings.DELIVERABLE_MAX_FILES
CATEGORIES = dict(settings.GIG_CATEGORIES)

# Why a pending proposal was declined (``_close``), one whole sentence each, made in the seller's
# language when the notice is written.
DECLINED_NOTICES = {
    "withdrawn": gettext_lazy("The buyer withdrew the request: your proposal on “{title}” was declined."),
    "hired": gettext_lazy("The buyer hired another seller: your proposal on “{title}” was declined."),
    "expired": gettext_lazy("The request expired: your proposal on “{title}” was declined."),
    "account_closed": gettext_lazy("The buyer closed their account: your proposal on “{title}” was declined."),
}
# "This request is <state>; …", one whole sentence per state.
REQUEST_NOT_OPEN_NOTHING_CHANGED = {
    RequestState.OPEN: gettext_lazy("This request is open; nothing changed."),
    RequestState.HIRED: gettext_lazy("This request is hired; nothing changed."),
    RequestState.EXPIRED: gettext_lazy("This request is expired; nothing changed."),
    RequestState.WITHDRAWN: gettext_lazy("This request is withdrawn; nothing changed."),
}
REQUEST_NOT_OPEN_NO_HIRE = {
    RequestState.OPEN: gettext_lazy("This request is open; no one was hired."),
    RequestState.HIRED: gettext_lazy("This request is hired; no one was hired."),
    RequestState.EXPIRED: gettext_lazy("This request is expired; no one was hired."),
    RequestState.WITHDRAWN: gettext_lazy("This request is withdrawn; no one was hired."),
}
PROPOSAL_ANSWERED_NO_CHANGE = {
    ProposalState.PENDING: gettext_lazy("This proposal was pending; it can no longer change."),
    ProposalState.HIRED: gettext_lazy("This proposal was hired; it can no longer change."),
    ProposalState.DECLINED: gettext_lazy("This proposal was declined; it can no longer change."),
    ProposalState.WITHDRAWN: gettext_lazy("This proposal was withdrawn; it can no longer change."),
}
PROPOSAL_ANSWERED_NO_HIRE = {
    ProposalState.PENDING: gettext_lazy("This proposal was pending; no one was hired."),
    ProposalState.HIRED: gettext_lazy("This proposal was hired; no one was hired."),
    ProposalState.DECLINED: gettext_lazy("This proposal was declined; no one was hired."),
    ProposalState.WITHDRAWN: gettext_lazy("This proposal was withdrawn; no one was hired."),
}


class RequestErrors(InvalidInput):
    """Every rule the input breaks, at once (``errors``); its own message is the first's."""

    def __init__(self, errors: list[InvalidInput]) -> None:
        super().__init__(errors[0].message, field=errors[0].field)
        self.errors = errors


def step_field(step: int, name: str) -> str:
    return f"step-{step}-{name}"


def lock_request(pk: int) -> BuyerRequest:
    return BuyerRequest.objects.select_for_update(of=("self",)).get(pk=pk)


def _raise_all(errors: list[InvalidInput]) -> None:
    if errors:
        raise RequestErrors(errors)


# --- the request --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestInput:
    title: str
    description: str
    category: str
    budget: Money | None
    deadline: object = None  # a date, or None


def request_errors(data: RequestInput, *, today=None) -> list[InvalidInput]:
    errors = [
        *_text_errors(data.title, field="title", limit=200, missing=_("Give the request a title.")),
        *_text_errors(data.description, field="description", limit=10000, missing=_("Describe what you need done.")),
    ]
    if data.category not in CATEGORIES:
        errors.append(InvalidInput(_("Choose a category."), field="category"))
    if data.budget is None:
        errors.append(InvalidInput(_("Give a budget."), field="budget"))
    else:
        errors += _price_errors(data.budget, field="budget", currency=None, what="The budget")
    today = today or timezone.localdate()
    if data.deadline is not None and data.deadline < today:
        errors.append(InvalidInput(_("The deadline cannot be in the past."), field="deadline"))
    return errors


def request_files_checked(
    files: Sequence[UploadedFile],
) -> tuple[list[tuple[UploadedFile, str, str]], list[InvalidInput]]:
    """Each file with its safe name and type (``validate_deliverable_file``), and every file that
    breaks a rule, as errors on ``files``."""
    files = [f for f in files if f]
    errors: list[InvalidInput] = []
    if len(files) > MAX_REQUEST_FILES:
        message = ngettext("Attach at most %(count)d file.", "Attach at most %(count)d files.", MAX_REQUEST_FILES)
        errors.append(InvalidInput(message % {"count": MAX_REQUEST_FILES}, field="files"))
        return [], errors
    checked = []
    for upload in files:
        try:
            name, content_type = validate_deliverable_file(upload)
        except InvalidInput as error:
            errors.append(InvalidInput(error.message, field="files"))
        else:
            checked.append((upload, name, content_type))
    return checked, errors


def request_post(
    *,
    buyer: User,
    data: RequestInput,
    files: Sequence[UploadedFile] = (),
    now: datetime | None = None,
) -> BuyerRequest:
    """ "Post a request": open until someone is hired, it is withdrawn or ``REQUEST_EXPIRY`` runs
    out, with optional files (a sketch, a brief). Bad input, a file included, raises
    ``RequestErrors`` with every error and writes nothing: no row and no file."""
    now = now or timezone.now()
    checked, file_errors = request_files_checked(files)
    _raise_all([*request_errors(data), *file_errors])
    assert data.budget is not None
    with transaction.atomic():
        buyer_request = BuyerRequest.objects.create(
            buyer=buyer,
            title=data.title.strip(),
            description=data.description.strip(),
            category=data.category,
            budget=data.budget,
            deadline=data.deadline,
            created_at=now,
            expires_at=now + settings.REQUEST_EXPIRY,
        )
        for upload, name, content_type in checked:
            RequestAttachment.objects.create(
                request=buyer_request, file=upload, original_name=name, content_type=content_type, size=upload.size or 0
            )
        logger.info(
            "request_posted", extra={"request_id": buyer_request.pk, "buyer_id": buyer.pk, "files": len(checked)}
        )
    return buyer_request


def request_withdraw(*, buyer: User, buyer_request: BuyerRequest, now: datetime | None = None) -> BuyerRequest:
    """ "Withdraw request": closed for good; every pending proposal is declined and its seller told
    (``_close``). A second press is ``DuplicateRequest`` and changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        buyer_request = lock_request(buyer_request.pk)
        if buyer_request.buyer_id != buyer.pk:
            raise NotAllowed(_("Only the buyer who posted the request can withdraw it."))
        if buyer_request.state == RequestState.WITHDRAWN:
            raise DuplicateRequest(_("You already withdrew this request; nothing changed."), obj=buyer_request)
        if buyer_request.state != RequestState.OPEN:
            raise InvalidTransition(str(REQUEST_NOT_OPEN_NOTHING_CHANGED[RequestState(buyer_request.state)]))
        _close(buyer_request, RequestState.WITHDRAWN, now, why="withdrawn")
        logger.info("request_withdrawn", extra={"request_id": buyer_request.pk})
    return buyer_request


def _close(buyer_request: BuyerRequest, state: str, now: datetime, *, why: str, hired: int | None = None) -> None:
    """Close the request; every other pending proposal is declined with a notice. Caller holds
    the request's lock."""
    buyer_request.state = state
    buyer_request.closed_at = now
    buyer_request.save(update_fields=["state", "closed_at", "order"])
    others = list(
        RequestProposal.objects.select_for_update(of=("self",))
        .filter(request=buyer_request, state=ProposalState.PENDING)
        .exclude(pk=hired)
        .order_by("pk")
        .select_related("seller")
    )
    RequestProposal.objects.filter(pk__in=[p.pk for p in others]).update(state=ProposalState.DECLINED, updated_at=now)
    for proposal in others:
        notification_send(
            recipient=proposal.seller,
            event="proposal_declined",
            message=format_lazy(DECLINED_NOTICES[why], title=buyer_request.title),
            url=buyer_request.get_absolute_url(),
        )


# --- proposals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalInput:
    message: str
    steps: tuple[StepInput, ...]


def proposal_errors(data: ProposalInput) -> list[InvalidInput]:
    errors = _text_errors(data.message, field="message", limit=5000, missing=_("Write the buyer a message."))
    if not 1 <= len(data.steps) <= MAX_PROPOSAL_STEPS:
        errors.append(
            InvalidInput(_("Propose between 1 and {count} steps.").format(count=MAX_PROPOSAL_STEPS), field="steps")
        )
    currency = next((str(s.price.currency) for s in data.steps if s.price is not None), None)
    for number, step in enumerate(data.steps, start=1):
        errors += _text_errors(
            step.title, field=step_field(number, "title"), limit=200, missing=_("Give the step a title.")
        )
        errors += _text_errors(
            step.deliverables,
            field=step_field(number, "deliverables"),
            limit=5000,
            missing=_("Say what the buyer gets at the end of this step."),
        )
        if step.price is None:
            errors.append(InvalidInput(_("Give the step a price."), field=step_field(number, "price")))
        else:
            errors += _price_errors(
                step.price, field=step_field(number, "price"), currency=currency, what="A step's price"
            )
        if step.days is None or not 1 <= step.days <= MAX_PACKAGE_DAYS:
            errors.append(
                InvalidInput(
                    _("A step takes between 1 and {count} days.").format(count=MAX_PACKAGE_DAYS),
                    field=step_field(number, "days"),
                )
            )
    return errors


def _open_for_proposals(buyer_request: BuyerRequest, now: datetime) -> None:
    if buyer_request.state != RequestState.OPEN or buyer_request.expires_at <= now:
        raise InvalidTransition(_("This request is no longer open; nothing was sent."))


def _write_steps(proposal: RequestProposal, data: ProposalInput) -> None:
    proposal.steps.all().delete()
    ProposalStep.objects.bulk_create(
        ProposalStep(
            proposal=proposal,
            position=number,
            title=step.title.strip(),
            deliverables=step.deliverables.strip(),
            days=step.days or 1,
            price=step.price,
        )
        for number, step in enumerate(data.steps, start=1)
    )


def proposal_send(
    *, seller: User, buyer_request: BuyerRequest, data: ProposalInput, now: datetime | None = None
) -> RequestProposal:
    """ "Send a proposal": at most one pending per seller and request (a partial unique index)."""
    now = now or timezone.now()
    _raise_all(proposal_errors(data))
    try:
        with transaction.atomic():
            buyer_request = lock_request(buyer_request.pk)
            if buyer_request.buyer_id == seller.pk:
                raise NotAllowed(_("You cannot propose on your own request."))
            _open_for_proposals(buyer_request, now)
            if RequestProposal.objects.filter(
                request=buyer_request, seller=seller, state=ProposalState.PENDING
            ).exists():
                raise DuplicateRequest(_("You already have a proposal waiting on this request; edit it instead."))
            proposal = RequestProposal.objects.create(
                request=buyer_request, seller=seller, message=data.message.strip()
            )
            _write_steps(proposal, data)
            notification_send(
                recipient=buyer_request.buyer,
                event="proposal_received",
                message=format_lazy(
                    gettext_lazy("{seller} sent a proposal on “{title}”."),
                    seller=seller.username,
                    title=buyer_request.title,
                ),
                url=buyer_request.get_absolute_url(),
            )
    except IntegrityError:
        raise DuplicateRequest(_("You already have a proposal waiting on this request; edit it instead.")) from None
    return proposal


def _lock_own_pending(seller: User, proposal: RequestProposal, now: datetime) -> tuple[BuyerRequest, RequestProposal]:
    buyer_request = lock_request(proposal.request_id)
    proposal = RequestProposal.objects.select_for_update(of=("self",)).get(pk=proposal.pk)
    if proposal.seller_id != seller.pk:
        raise NotAllowed(_("Only the seller who sent the proposal can change it."))
    if proposal.state != ProposalState.PENDING:
        raise InvalidTransition(str(PROPOSAL_ANSWERED_NO_CHANGE[ProposalState(proposal.state)]))
    _open_for_proposals(buyer_request, now)
    return buyer_request, proposal


def proposal_edit(
    *, seller: User, proposal: RequestProposal, data: ProposalInput, now: datetime | None = None
) -> RequestProposal:
    """Editable until answered: pending, on an open request."""
    now = now or timezone.now()
    _raise_all(proposal_errors(data))
    with transaction.atomic():
        _, proposal = _lock_own_pending(seller, proposal, now)
        proposal.message = data.message.strip()
        proposal.save(update_fields=["message", "updated_at"])
        _write_steps(proposal, data)
    return proposal


def proposal_withdraw(*, seller: User, proposal: RequestProposal, now: datetime | None = None) -> RequestProposal:
    now = now or timezone.now()
    with transaction.atomic():
        _, proposal = _lock_own_pending(seller, proposal, now)
        proposal.state = ProposalState.WITHDRAWN
        proposal.save(update_fields=["state", "updated_at"])
    return proposal


def proposal_plan(proposal: RequestProposal) -> Plan:
    return Plan(
        steps=[
            PlanStep(
                title=step.title,
                description=step.deliverables,
                amount=step.price,
                days=step.days,
                revisions_included=None,
            )
            for step in proposal.steps.order_by("position")
        ]
    )


# --- hiring -------------------------------------------------------------------------------------


def request_hire(
    *, buyer: User, proposal: RequestProposal, key: str, source: FundingSource, now: datetime | None = None
) -> Order:
    """ "Hire": an order with the proposal's seller and steps, opened as ordering a package does
    (``plan_order_open``: the first step funded now, from the balance or by card through its
    checkout, which the caller opens; the rest planned). The request becomes hired, the proposal
    hired, every other pending proposal declined with a notice. Locks the request, then its
    proposals, then what ordering locks."""
    now = now or timezone.now()
    if not key:
        raise InvalidInput(_("The form has expired; please fill it in again."))
    if source.method not in ("balance", "checkout"):
        raise InvalidInput(_("Unknown payment method {method}.").format(method=repr(source.method)), field="method")
    with transaction.atomic():
        buyer_request = lock_request(proposal.request_id)
        if buyer_request.buyer_id != buyer.pk:
            raise NotAllowed(_("Only the buyer who posted the request can hire."))
        if buyer_request.state == RequestState.HIRED and buyer_request.order_id is not None:
            mine = RequestProposal.objects.filter(pk=proposal.pk, state=ProposalState.HIRED).exists()
            raise DuplicateRequest(_("You already hired on this request."), obj=buyer_request.order if mine else None)
        if buyer_request.state != RequestState.OPEN:
            raise InvalidTransition(str(REQUEST_NOT_OPEN_NO_HIRE[RequestState(buyer_request.state)]))
        if buyer_request.expires_at <= now:
            raise InvalidTransition(_("This request has expired; no one was hired."))
        proposals = {
            p.pk: p
            for p in RequestProposal.objects.select_for_update(of=("self",))
            .filter(request=buyer_request)
            .order_by("pk")
            .select_related("seller")
        }
        proposal = proposals[proposal.pk]
        if proposal.state != ProposalState.PENDING:
            raise InvalidTransition(str(PROPOSAL_ANSWERED_NO_HIRE[ProposalState(proposal.state)]))
        require_verified_email(buyer, "pay for a milestone")
        plan = proposal_plan(proposal)
        if not plan.steps:
            raise InvalidInput(_("This proposal has no steps."))
        order = order_create(
            buyer=buyer,
            gig=None,
            seller=proposal.seller,
            title=buyer_request.title,
            brief=f"{buyer_request.description}\n\nProposal:\n{proposal.message}"[:10000],
            currency=str(plan.steps[0].amount.currency),
        )
        order = plan_order_open(buyer=buyer, order=order, plan=plan, key=key, source=source, now=now)
        proposal.state = ProposalState.HIRED
        proposal.save(update_fields=["state", "updated_at"])
        buyer_request.order = order
        _close(buyer_request, RequestState.HIRED, now, why="hired", hired=proposal.pk)
        notification_send(
            recipient=proposal.seller,
            event="proposal_hired",
            message=format_lazy(
                gettext_lazy("{buyer} hired you on “{title}” ({amount} over {days} days)."),
                buyer=buyer.username,
                title=buyer_request.title,
                amount=Amount(plan.total),
                days=plan.days,
            ),
            url=order.get_absolute_url(),
        )
        logger.info("request_hired", extra={"request_id": buyer_request.pk, "order_id": order.pk})
    return order


# --- expiry -------------------------------------------------------------------------------------


def request_expire(*, request_id: int, now: datetime | None = None) -> bool:
    """Past ``expires_at`` and still open: expired, its pending proposals declined. Idempotent."""
    now = now or timezone.now()
    with transaction.atomic():
        buyer_request = lock_request(request_id)
        if buyer_request.state != RequestState.OPEN or buyer_request.expires_at > now:
            return False
        _close(buyer_request, RequestState.EXPIRED, now, why="expired")
        notification_send(
            recipient=buyer_request.buyer,
            event="request_expired",
            message=format_lazy(
                gettext_lazy("Your request “{title}” expired without a hire."), title=buyer_request.title
            ),
            url=buyer_request.get_absolute_url(),
        )
    return True


# --- a closed account ---------------------------------------------------------------------------


def requests_erase_for(user: User, *, now: datetime | None = None) -> None:
    """Deleting an account (``privacy.services.account_delete``, under the user's lock): their
    requests and proposals are theirs alone and go. A seller with a pending proposal on one of
    their open requests is told it was withdrawn first; a hired request's order keeps its own copy
    (the brief and the milestones). The requests' files go with them, from storage too, once the
    caller's transaction commits (a rollback keeps them, with their rows)."""
    now = now or timezone.now()
    for pk in (
        BuyerRequest.objects.filter(buyer=user, state=RequestState.OPEN).order_by("pk").values_list("pk", flat=True)
    ):
        buyer_request = lock_request(pk)
        _close(buyer_request, RequestState.WITHDRAWN, now, why="account_closed")
    names = list(RequestAttachment.objects.filter(request__buyer=user).values_list("file", flat=True))
    BuyerRequest.objects.filter(buyer=user).delete()
    RequestProposal.objects.filter(seller=user).delete()
    if names:
        transaction.on_commit(lambda: _delete_files(names))


def _delete_files(names: list[str]) -> None:
    """Delete stored files; one the store fails to delete is logged and left (an orphan costs
    storage, not correctness)."""
    storage = RequestAttachment._meta.get_field("file").storage  # type: ignore[attr-defined]
    for name in names:
        if name:
            try:
                storage.delete(name)
            except Exception:
                logger.exception("request_file_not_deleted", extra={"name": name})
