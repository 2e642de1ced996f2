"""The milestone actions, written once: who may take each, its button, its
form and the service it calls.

The order page's buttons (``templates/partials/milestone_actions.html``), the
action views (``milestones/views.py``), their URLs (``milestones/urls.py``)
and the tests all read this table, so a new action is one row here. Which
actions a viewer sees *now* is decided here too, by ``milestone_actions``
(the state machine's available transitions, filtered by the viewer's role);
the services check the same rules again: this only spares people buttons
that would be refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from accounts.models import User
from marketplace.money import format_money
from milestones.forms import (
    DATETIME_LOCAL,
    ApproveForm,
    CancelForm,
    CancellationForm,
    ChangesForm,
    ConfirmForm,
    DeclineForm,
    DeclineOfferForm,
    DisputeForm,
    ExtensionForm,
    FeedbackForm,
    StatementForm,
    SubmitForm,
)
from milestones.models import Dispute, Milestone, MilestoneState, Proposal
from milestones.services.changes import changes_money, changes_request
from milestones.services.disputes import dispute_add_statement, milestone_open_dispute
from milestones.services.lifecycle import (
    milestone_accept,
    milestone_approve,
    milestone_cancel,
    milestone_decline,
    milestone_request_revision,
    milestone_submit,
)
from milestones.services.offers import offer_accept, offer_decline, offer_withdraw
from milestones.services.packages import continue_blocker, order_stop, revision_purchase_request
from milestones.services.proposals import (
    PLANNED_WORDS,
    cancellation_figures,
    cancellation_request,
    extension_request,
)
from orders.models import BUYER, SELLER, Order
from payments.ledger import escrow_balance
from payments.services import (
    REFUND_TO_CARD,
    FundingSource,
    SettlementFigures,
    card_payment_of,
    card_refund_room,
    settlement_figures,
)

# The service's ``files`` (and the statement's ``attachment``) is the form's ``attachment``.
FILE_ALIASES = {"files": "attachment"}

Perform = Callable[[Milestone, User, dict[str, Any]], object]
# What confirming does with the money, said on the confirmation page before it happens.
Consequence = Callable[[Milestone], str]


# --- what confirming does with the money, said on the confirmation pages before it happens -------------
# (the action form's page, ``milestone_action.html``; "Accept and pay" and "Accept changes",
# ``offer_views``; accepting a cancellation, ``views.proposal_accept``)


def _receives(figures: SettlementFigures, who: str) -> str:
    """The seller's side of a settlement as they will see it: "bob receives 80.00 USD (100.00 USD less the
    20.00 USD fee)"."""
    if figures.seller_gross.amount <= 0:
        return _("{who} receives nothing").format(who=who)
    return _("{who} receives {net} ({gross} less the {fee} fee)").format(
        who=who,
        net=format_money(figures.seller_net),
        gross=format_money(figures.seller_gross),
        fee=format_money(figures.commission),
    )


def release_figures(milestone: Milestone) -> SettlementFigures:
    """Approval: all that is held goes to the seller (``escrow_settle`` with the whole amount)."""
    held = escrow_balance(milestone)
    if held.amount <= 0:
        held = milestone.amount
    return settlement_figures(buyer_fee=milestone.buyer_fee, held=held, seller_gross=held)


def _release_words(milestone: Milestone) -> str:
    figures = release_figures(milestone)
    seller = milestone.order.seller.username
    return _("{gross} is released to {seller} now; {receives}. This cannot be undone.").format(
        gross=format_money(figures.seller_gross), seller=seller, receives=_receives(figures, seller)
    )


def _cancel_words(milestone: Milestone) -> str:
    if milestone.state == MilestoneState.AWAITING_PAYMENT:
        return _("Nothing has been charged for this milestone; it closes and its checkout with it.")
    return _(
        "{total} (the amount and the service fee) comes back to you now, where you choose below; the seller is "
        "told. This cannot be undone."
    ).format(total=format_money(milestone.total_charged))


def continue_consequence(milestone: Milestone) -> str:
    """What "Continue to next milestone" does with the money, for its confirmation page."""
    return _(
        "{total} ({amount} and the {fee} service fee) is charged now; {amount} is held in escrow until you approve "
        "the work, and {seller} starts at once: they accepted the plan with the order."
    ).format(
        total=format_money(milestone.total_charged),
        amount=format_money(milestone.amount),
        fee=format_money(milestone.buyer_fee),
        seller=milestone.order.seller.username,
    )


def stop_consequence(milestone: Milestone) -> str:
    """What "Stop the order here" does, for its confirmation page: no money moves for planned steps."""
    planned = list(Milestone.objects.filter(order_id=milestone.order_id, state=MilestoneState.PLANNED))
    titles = ", ".join(f"“{m.title}”" for m in planned)
    total = sum((m.amount for m in planned[1:]), planned[0].amount) if planned else milestone.amount
    return _(
        "The remaining planned steps ({titles}, {total} in all) are cancelled. No money moves for them: none was "
        "charged, and nothing is charged or refunded now. What you approved stays paid; the order then completes "
        "and {seller} is told. This cannot be undone."
    ).format(titles=titles, total=format_money(total), seller=milestone.order.seller.username)


def offer_consequence(milestone: Milestone) -> str:
    """What "Accept and pay" does with the money, for its confirmation page."""
    return _(
        "{total} ({amount} and the {fee} service fee) is charged now; {amount} is held in escrow until you approve "
        "the work, and {seller} starts at once (or when the current milestone closes). On approval, {receives}."
    ).format(
        total=format_money(milestone.total_charged),
        amount=format_money(milestone.amount),
        fee=format_money(milestone.buyer_fee),
        seller=milestone.order.seller.username,
        receives=_receives(release_figures_of(milestone.amount, milestone), milestone.order.seller.username),
    )


def release_figures_of(amount: Money, milestone: Milestone) -> SettlementFigures:
    """Approval of ``amount`` (terms not yet held in escrow: an offer, proposed changes)."""
    return settlement_figures(buyer_fee=milestone.buyer_fee, held=amount, seller_gross=amount)


def _refund_destination(milestone: Milestone, amount: Money) -> str:
    """Where a refund of ``amount`` would go, in the buyer's words: their card
    only if they chose it and a card paid (and only up to what it can take)."""
    card = card_payment_of(milestone) if milestone.order.buyer.refund_to == REFUND_TO_CARD else None
    if card is None:
        return _("your balance")
    room = card_refund_room(card)
    if room >= amount:
        return _("your card")
    if room.amount <= 0:
        return _("your balance")
    return _("your card ({room}, what it can still take back) and your balance (the rest)").format(
        room=format_money(room)
    )


def changes_consequence(milestone: Milestone, proposal: Proposal) -> str:
    """What "Accept changes" does with the money, for its confirmation page."""
    money = changes_money(milestone, proposal)
    seller = milestone.order.seller.username
    new_amount = proposal.new_amount if proposal.new_amount is not None else milestone.amount
    receives = _receives(release_figures_of(new_amount, milestone), seller)
    if milestone.state == MilestoneState.PLANNED:
        return _(
            "No money moves now: nothing is held for a planned step. When you continue, {total} (the new amount and "
            "its service fee) is charged. On approval, {receives}."
        ).format(total=format_money(new_amount + changes_money(milestone, proposal).new_fee), receives=receives)
    if money.charges:
        return _(
            "{total} more is charged now ({amount} into escrow and {fee} of service fee); the seller then accepts "
            "or declines the new terms. On approval, {receives}."
        ).format(
            total=format_money(money.total),
            amount=format_money(money.amount),
            fee=format_money(money.fee),
            receives=receives,
        )
    if money.refunds:
        where = _refund_destination(milestone, -money.total)
        return _(
            "{total} comes back to {where} now ({amount} out of escrow and {fee} of service fee); the seller then "
            "accepts or declines the new terms. On approval, {receives}."
        ).format(
            total=format_money(-money.total),
            where=where,
            amount=format_money(-money.amount),
            fee=format_money(-money.fee),
            receives=receives,
        )
    return _("No money moves; the seller then accepts or declines the new terms. On approval, {receives}.").format(
        receives=receives
    )


def cancellation_consequence(milestone: Milestone, proposal: Proposal) -> str:
    """What accepting a cancellation does with the money, for its confirmation page."""
    assert proposal.refund_amount is not None
    if milestone.state == MilestoneState.PLANNED:
        return _("{planned} The step closes, cancelled. This cannot be undone.").format(planned=PLANNED_WORDS)
    figures = cancellation_figures(milestone, proposal.refund_amount)
    if figures is None:
        rest = milestone.amount - proposal.refund_amount
        return _(
            "{refund} goes back to the buyer and {rest} is released to the seller now; the milestone closes. This "
            "cannot be undone."
        ).format(refund=format_money(proposal.refund_amount), rest=format_money(rest))
    order = milestone.order
    buyer, seller = order.buyer.username, order.seller.username
    receives = _receives(figures, seller)
    if figures.refunded.amount <= 0:
        return _(
            "{buyer} receives nothing back and {receives} now; the milestone closes. This cannot be undone."
        ).format(buyer=buyer, receives=receives)
    to_card = (proposal.refund_to or order.buyer.refund_to) == REFUND_TO_CARD and card_payment_of(milestone)
    values = {
        "buyer": buyer,
        "refunded": format_money(figures.refunded),
        "part": format_money(figures.buyer_part),
        "fee_back": format_money(figures.fee_back),
        "receives": receives,
    }
    if figures.fee_back.amount > 0:
        if to_card:
            text = _(
                "{buyer} receives {refunded} ({part} and {fee_back} of the service fee) and {receives} now; the "
                "milestone closes. {buyer}'s refund goes to the card that paid. This cannot be undone."
            )
        else:
            text = _(
                "{buyer} receives {refunded} ({part} and {fee_back} of the service fee) and {receives} now; the "
                "milestone closes. {buyer}'s refund goes to their balance. This cannot be undone."
            )
    elif to_card:
        text = _(
            "{buyer} receives {refunded} and {receives} now; the milestone closes. {buyer}'s refund goes to the card "
            "that paid. This cannot be undone."
        )
    else:
        text = _(
            "{buyer} receives {refunded} and {receives} now; the milestone closes. {buyer}'s refund goes to their "
            "balance. This cannot be undone."
        )
    return text.format(**values)


@dataclass(frozen=True)
class CancellationPreview:
    """The figures a cancellation form shows for the refund typed so far (``figures`` None: it is not
    an amount the request would take, and ``problem`` says why)."""

    milestone: Milestone
    refund: Money | None
    figures: SettlementFigures | None
    problem: str = ""


def cancellation_preview(milestone: Milestone, raw: Any) -> CancellationPreview:
    """``raw``: the refund as typed (a string from the form or the query, a Decimal, or empty for all of it)."""
    currency = milestone.order.currency
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        amount = milestone.amount.amount
    else:
        try:
            amount = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite():
        return CancellationPreview(milestone, None, None, _("Enter the refund as a number to see what each side gets."))
    refund = Money(amount, currency)
    if milestone.state == MilestoneState.PLANNED:
        return CancellationPreview(milestone, refund, None, PLANNED_WORDS)
    figures = cancellation_figures(milestone, refund)
    if figures is None:
        problem = _("The refund must be between {low} and {high}, with at most two decimal places.").format(
            low=format_money(Money(0, currency)), high=format_money(milestone.amount)
        )
        return CancellationPreview(milestone, refund, None, problem)
    return CancellationPreview(milestone, refund, figures)


def _open_dispute_of(milestone: Milestone) -> Dispute:
    dispute = Dispute.objects.filter(milestone=milestone).first()
    if dispute is None:
        raise Http404("No dispute")
    return dispute


@dataclass(frozen=True)
class Action:
    """One thing a party can do to a milestone."""

    name: str  # the transition's name in milestones/models.py, or "add_statement"
    roles: frozenset[str]  # who may ask for it
    label: Any  # the button on the order page, and the form page's title and button
    url_name: str  # its URL: milestones/<pk>/<path>/
    path: str
    perform: Perform  # calls the service
    success: Any  # the message after it is done; {title} is the milestone's
    verb: str  # "you cannot {verb} it now" (English, for reading the table)
    # Why its form is not offered now, a whole sentence: {title} and {state} are the milestone's.
    refusal: Any = ""
    style: str = "btn-primary"
    # None: one click, a POST from the order page. Else GET shows this form.
    form: type[forms.Form] | None = None
    heading: Any = ""  # the form page's title, when it differs from the label
    aliases: dict[str, str] = field(default_factory=dict)
    # Money moves: the form page is a confirmation that says where it goes, with a "Confirm" button.
    consequence: Consequence | None = None
    submit: Any = ""  # the form page's button, when it differs from the label
    # The form's first values, read from the milestone (proposed changes start from the terms as they are).
    initial: Callable[[Milestone], dict[str, Any]] | None = None
    # Its page is a view of its own (it may send the buyer to the payment provider), not ``milestone_action``.
    own_view: bool = False
    # The form's keyword arguments for this viewer (the cancellation asks the buyer where the refund goes).
    form_kwargs: Callable[[Milestone, User], dict[str, Any]] | None = None
    # The figures shown under the form, for the value typed so far (field name, and the URL that
    # re-renders them as one types: ``views.cancellation_figures``).
    live_field: str = ""
    live_url_name: str = ""

    @property
    def one_click(self) -> bool:
        return self.form is None

    @property
    def button(self) -> str:
        """The form page's button: "Confirm" where money moves, else the action's label."""
        return _("Confirm") if self.consequence else str(self.submit or self.label)


def _terms_now(milestone: Milestone) -> dict[str, Any]:
    return {
        "deadline": timezone.localtime(milestone.deadline).strftime(DATETIME_LOCAL),
        "amount": milestone.amount.amount,
        "description": milestone.description,
    }


# In the order the buttons appear: the expected next step first.
ACTIONS: tuple[Action, ...] = (
    Action(
        name="offer_checkout",
        roles=frozenset({BUYER}),
        label=gettext_lazy("Accept and pay"),
        url_name="offer_accept",
        path="accept-offer",
        form=ConfirmForm,
        own_view=True,
        consequence=offer_consequence,
        perform=lambda m, actor, data: offer_accept(milestone=m, actor=actor, source=FundingSource(method="balance")),
        success=gettext_lazy("You accepted and paid the offer “{title}”."),
        verb="accept",
        refusal=gettext_lazy("“{title}” is {state}; you cannot accept it now. Nothing was changed."),
    ),
    Action(
        name="decline_offer",
        roles=frozenset({BUYER}),
        label=gettext_lazy("Decline offer"),
        url_name="offer_decline",
        path="decline-offer",
        form=DeclineOfferForm,
        style="btn-secondary",
        perform=lambda m, actor, data: offer_decline(milestone=m, actor=actor, reason=data.get("reason", "")),
        success=gettext_lazy("You declined the offer “{title}”; nothing was charged."),
        verb="decline",
        refusal=gettext_lazy("“{title}” is {state}; you cannot decline it now. Nothing was changed."),
    ),
    Action(
        name="withdraw_offer",
        roles=frozenset({SELLER}),
        label=gettext_lazy("Withdraw offer"),
        url_name="offer_withdraw",
        path="withdraw-offer",
        style="btn-secondary",
        perform=lambda m, actor, data: offer_withdraw(milestone=m, actor=actor),
        success=gettext_lazy("You withdrew the offer “{title}”."),
        verb="withdraw",
        refusal=gettext_lazy("“{title}” is {state}; you cannot withdraw it now. Nothing was changed."),
    ),
    Action(
        name="accept",
        roles=frozenset({SELLER}),
        label=gettext_lazy("Accept"),
        url_name="milestone_accept",
        path="accept",
        perform=lambda m, actor, data: milestone_accept(milestone=m, actor=actor),
        success=gettext_lazy("You accepted “{title}”."),
        verb="accept",
        refusal=gettext_lazy("“{title}” is {state}; you cannot accept it now. Nothing was changed."),
    ),
    Action(
        name="submit",
        roles=frozenset({SELLER}),
        label=gettext_lazy("Submit for review"),
        url_name="milestone_submit",
        path="submit",
        form=SubmitForm,
        perform=lambda m, actor, data: milestone_submit(
            milestone=m, actor=actor, message=data["message"], links=data["links"], files=data["files"]
        ),
        success=gettext_lazy("You submitted “{title}” for review."),
        verb="submit",
        refusal=gettext_lazy("“{title}” is {state}; you cannot submit it now. Nothing was changed."),
    ),
    Action(
        name="approve",
        roles=frozenset({BUYER}),
        label=gettext_lazy("Approve"),
        url_name="milestone_approve",
        path="approve",
        form=ApproveForm,
        heading=gettext_lazy("Approve and release the payment"),
        consequence=_release_words,
        perform=lambda m, actor, data: milestone_approve(
            milestone=m, actor=actor, portfolio=bool(data.get("portfolio"))
        ),
        success=gettext_lazy("You approved “{title}”; the payment is released to the seller."),
        verb="approve",
        refusal=gettext_lazy("“{title}” is {state}; you cannot approve it now. Nothing was changed."),
    ),
    Action(
        name="request_revision",
        roles=frozenset({BUYER}),
        label=gettext_lazy("Request revision"),
        url_name="milestone_request_revision",
        path="request-revision",
        form=FeedbackForm,
        style="btn-secondary",
        perform=lambda m, actor, data: milestone_request_revision(milestone=m, actor=actor, feedback=data["feedback"]),
        success=gettext_lazy("You asked for a revision of “{title}”."),
        verb="send back",
        refusal=gettext_lazy("“{title}” is {state}; you cannot send back it now. Nothing was changed."),
    ),
    Action(
        name="buy_revision",
        roles=frozenset({BUYER}),
        label=gettext_lazy("Buy a revision"),
        url_name="milestone_buy_revision",
        path="buy-revision",
        style="btn-secondary",
        perform=lambda m, actor, data: revision_purchase_request(buyer=actor, milestone=m),
        success=gettext_lazy(
            "You asked the seller to offer a revision of “{title}”; you pay only if you accept their offer."
        ),
        verb="buy a revision of",
        refusal=gettext_lazy("“{title}” is {state}; you cannot buy a revision of it now. Nothing was changed."),
    ),
    Action(
        name="fund_planned",
        roles=frozenset({BUYER}),
        label=gettext_lazy("Continue to next milestone"),
        url_name="milestone_continue",
        path="continue",
        form=ConfirmForm,
        own_view=True,
        consequence=continue_consequence,
        perform=lambda m, actor, data: None,  # its own view (it may send the buyer to the provider)
        success=gettext_lazy("You continued with “{title}”."),
        verb="continue with",
        refusal=gettext_lazy("“{title}” is {state}; you cannot continue with it now. Nothing was changed."),
    ),
    Action(
        name="stop_planned",
        roles=frozenset({BUYER}),
        label=gettext_lazy("Stop the order here"),
        url_name="order_stop",
        path="stop",
        form=ConfirmForm,
        heading=gettext_lazy("Stop the order here"),
        style="btn-secondary",
        consequence=stop_consequence,
        perform=lambda m, actor, data: order_stop(buyer=actor, order=m.order),
        success=gettext_lazy("You stopped the order before “{title}”; no money moved for the planned steps."),
        verb="stop the order before",
        refusal=gettext_lazy("“{title}” is {state}; you cannot stop the order before it now. Nothing was changed."),
    ),
    Action(
        name="add_statement",
        roles=frozenset({BUYER, SELLER}),
        label=gettext_lazy("Add to dispute"),
        heading=gettext_lazy("Add your side to the dispute"),
        url_name="dispute_statement",
        path="dispute/statement",
        form=StatementForm,
        style="btn-secondary",
        aliases=FILE_ALIASES,
        perform=lambda m, actor, data: dispute_add_statement(
            dispute=_open_dispute_of(m),
            actor=actor,
            body=data["body"],
            attachment=data.get("attachment") or None,
            idempotency_key=data.get("token") or None,
        ),
        success=gettext_lazy("Your side is added to the dispute on “{title}”."),
        verb="add to the dispute on",
        refusal=gettext_lazy("“{title}” is {state}; you cannot add to the dispute on it now. Nothing was changed."),
    ),
    Action(
        name="propose_changes",
        roles=frozenset({SELLER}),
        label=gettext_lazy("Propose changes"),
        heading=gettext_lazy("Propose changes before you accept"),
        submit=gettext_lazy("Send proposal"),
        url_name="milestone_changes",
        path="changes",
        form=ChangesForm,
        style="btn-secondary",
        initial=_terms_now,
        perform=lambda m, actor, data: changes_request(
            milestone=m,
            actor=actor,
            new_deadline=data["deadline"],
            new_amount=Money(data["amount"], m.order.currency),
            new_description=data["description"],
        ),
        success=gettext_lazy("You proposed changes to “{title}”; the buyer has been told."),
        verb="propose changes to",
        refusal=gettext_lazy("“{title}” is {state}; you cannot propose changes to it now. Nothing was changed."),
    ),
    Action(
        name="request_extension",
        roles=frozenset({SELLER}),
        label=gettext_lazy("Request extension"),
        heading=gettext_lazy("Ask for a later deadline"),
        submit=gettext_lazy("Send request"),
        url_name="milestone_extension",
        path="extension",
        form=ExtensionForm,
        style="btn-secondary",
        perform=lambda m, actor, data: extension_request(
            milestone=m, actor=actor, new_deadline=data["new_deadline"], reason=data["reason"]
        ),
        success=gettext_lazy("You asked for a later deadline on “{title}”; the buyer has been told."),
        verb="ask for an extension on",
        refusal=gettext_lazy("“{title}” is {state}; you cannot ask for an extension on it now. Nothing was changed."),
    ),
    Action(
        name="request_cancellation",
        roles=frozenset({BUYER, SELLER}),
        label=gettext_lazy("Request cancellation"),
        heading=gettext_lazy("Ask to cancel by agreement"),
        submit=gettext_lazy("Send request"),
        url_name="milestone_cancellation",
        path="cancellation",
        form=CancellationForm,
        form_kwargs=lambda m, user: {"buyer": user.pk == m.order.buyer_id},
        live_field="refund",
        live_url_name="cancellation_figures",
        style="btn-secondary btn-small",
        perform=lambda m, actor, data: cancellation_request(
            milestone=m,
            actor=actor,
            refund=None if data.get("refund") is None else Money(data["refund"], m.order.currency),
            reason=data["reason"],
            refund_to=data.get("refund_to") or "",
        ),
        success=gettext_lazy("You asked to cancel “{title}”; the other party has been told."),
        verb="ask to cancel",
        refusal=gettext_lazy("“{title}” is {state}; you cannot ask to cancel it now. Nothing was changed."),
    ),
    Action(
        name="decline",
        roles=frozenset({SELLER}),
        label=gettext_lazy("Decline"),
        url_name="milestone_decline",
        path="decline",
        form=DeclineForm,
        style="btn-danger",
        perform=lambda m, actor, data: milestone_decline(milestone=m, actor=actor, reason=data["reason"]),
        success=gettext_lazy("You declined “{title}”; the buyer gets the full amount back."),
        verb="decline",
        refusal=gettext_lazy("“{title}” is {state}; you cannot decline it now. Nothing was changed."),
    ),
    Action(
        name="cancel",
        roles=frozenset({BUYER}),
        label=gettext_lazy("Cancel"),
        url_name="milestone_cancel",
        path="cancel",
        style="btn-danger",
        form=CancelForm,
        heading=gettext_lazy("Cancel this milestone"),
        consequence=_cancel_words,
        perform=lambda m, actor, data: milestone_cancel(
            milestone=m, actor=actor, refund_to=data.get("refund_to") or "balance"
        ),
        success=gettext_lazy("You cancelled “{title}”; its amount and service fee are on their way back to you."),
        verb="cancel",
        refusal=gettext_lazy("“{title}” is {state}; you cannot cancel it now. Nothing was changed."),
    ),
    Action(
        name="open_dispute",
        roles=frozenset({BUYER, SELLER}),
        label=gettext_lazy("Open dispute"),
        url_name="milestone_dispute",
        path="dispute",
        form=DisputeForm,
        style="btn-secondary btn-small",
        aliases=FILE_ALIASES,
        perform=lambda m, actor, data: milestone_open_dispute(
            milestone=m, actor=actor, reason=data["reason"], attachment=data.get("attachment") or None
        ),
        success=gettext_lazy(
            "You opened a dispute on “{title}”. Staff will look at it; the money stays in escrow meanwhile."
        ),
        verb="dispute",
        refusal=gettext_lazy("“{title}” is {state}; you cannot dispute it now. Nothing was changed."),
    ),
)

BY_NAME: dict[str, Action] = {action.name: action for action in ACTIONS}
S = MilestoneState


def milestone_actions(milestone: Milestone, user, order: Order | None = None) -> list[str]:
    """The actions ``user`` may take on ``milestone`` now, in display order.

    Staff see none: they act on disputes in the admin, and the services refuse
    them everything else. ``add_statement`` is adding one's side to an open
    dispute.
    """
    order = order or milestone.order
    role = order.role_of(user) if user.is_authenticated else None
    if role is None:
        return []
    allowed = {
        t.name
        for t in milestone.get_available_state_transitions()  # type: ignore[attr-defined]
        if t.name in BY_NAME and role in BY_NAME[t.name].roles
    }
    if milestone.state == S.DISPUTED:
        dispute = getattr(milestone, "dispute", None)
        if dispute is not None and dispute.state == "open":
            allowed.add("add_statement")
    waiting: set[str] = set()
    if milestone.state in (
        S.AWAITING_ACCEPTANCE,
        S.IN_PROGRESS,
        S.IN_REVIEW,
        S.REVISION_REQUESTED,
        S.DISPUTED,
        S.PLANNED,
    ):
        # One request of a kind at a time; the order page passes the pending ones it has read.
        pending = getattr(milestone, "pending_proposals", None)
        if pending is None:
            pending = list(milestone.proposals.filter(state="pending"))
        waiting = {p.kind for p in pending}
    if milestone.state in (S.AWAITING_ACCEPTANCE, S.PLANNED) and role == SELLER and "changes" not in waiting:
        allowed.add("propose_changes")
    if milestone.state == S.DISPUTED and "add_statement" in allowed and "cancellation" not in waiting:
        # The parties may still settle it between themselves: accepting withdraws the dispute.
        allowed.add("request_cancellation")
    if milestone.state == S.PLANNED and "cancellation" not in waiting:
        allowed.add("request_cancellation")
    if milestone.state in (S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED):
        if "cancellation" not in waiting:
            allowed.add("request_cancellation")
        if role == SELLER and milestone.state != S.IN_REVIEW and "extension" not in waiting:
            allowed.add("request_extension")
    if milestone.state == S.PLANNED and continue_blocker(milestone):
        # Continue and stop are offered on the next planned step only, once its turn has come.
        allowed -= {"fund_planned", "stop_planned"}
    if milestone.state == S.IN_REVIEW and role == BUYER and milestone.revisions_left == 0:
        # The included revisions are used up: "Buy a revision" asks the seller to offer one.
        allowed.discard("request_revision")
        allowed.add("buy_revision")
    return [action.name for action in ACTIONS if action.name in allowed]
