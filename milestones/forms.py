"""Forms for the milestone pages. They parse and check input; the services
decide. Rules shared with the services (terms, files) are called here too, so
an error lands next to the field before anything is attempted."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from marketplace.errors import InvalidInput
from marketplace.forms import AmountField, MultipleFileField, OneUseForm, add_domain_error
from marketplace.money import format_money
from marketplace.uploads import upload_rules_words, validate_deliverable_file
from milestones.services.creation import milestone_terms_errors
from orders.models import Order

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class MilestoneTermsForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What will be delivered, so both sides know what “done” means."),
    )
    deadline = forms.DateTimeField(
        label=_("Deadline"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    amount = AmountField(label=_("Amount"))

    def __init__(self, *args, order: Order, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        self.fields["amount"].help_text = gettext("In {currency}, the currency of this order.").format(
            currency=order.currency
        )

    def clean(self) -> dict[str, Any]:
        """Every field's error at once: the terms' rules run on the fields that parsed."""
        data = super().clean() or {}
        amount = data.get("amount")
        for error in milestone_terms_errors(
            order=self.order,
            title=data.get("title"),
            description=data.get("description"),
            deadline=data.get("deadline"),
            amount=Money(amount, self.order.currency) if amount is not None else None,
        ):
            if error.field not in self.errors and not add_domain_error(self, error):
                raise forms.ValidationError(error.message)
        return data


class OfferForm(OneUseForm, MilestoneTermsForm):
    """The seller's offer of a new milestone: the same terms, sent once."""


class CustomOfferForm(OfferForm):
    """An offer from the gig page to a buyer who has been in touch: it opens an order."""

    buyer = forms.ChoiceField(label=_("Buyer"), help_text=_("Buyers who have contacted you."))
    order_title = forms.CharField(label=_("Order title"), max_length=200)
    field_order = ["buyer", "order_title", "title", "description", "deadline", "amount"]

    def __init__(self, *args, buyers: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["buyer"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", gettext("Choose a buyer"))] + [(name, name) for name in buyers]


PAY_WITH = [("balance", _("My site balance")), ("card", _("Card, on the payment provider's page"))]


class PayWithForm(forms.Form):
    """The payment method on a confirmation page that charges the buyer."""

    method = forms.ChoiceField(label=_("Pay with"), choices=PAY_WITH, widget=forms.RadioSelect)

    def __init__(self, *args, balance_covers: bool, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("method", "balance" if balance_covers else "card")
        super().__init__(*args, **kwargs)
        if not balance_covers:
            field = self.fields["method"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [PAY_WITH[1]]
            field.help_text = gettext("Your balance does not cover this, so it is paid by card.")


class ChangesForm(forms.Form):
    deadline = forms.DateTimeField(
        label=_("Deadline"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    amount = AmountField(
        label=_("Amount"),
        help_text=_("A higher amount is charged to the buyer for the difference if they accept; a lower one refunded."),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What will be delivered, as you can do it."),
    )


class DeclineOfferForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional; the seller sees this. Nothing has been charged."),
    )


def _check_file(upload) -> None:
    try:
        validate_deliverable_file(upload)
    except InvalidInput as error:
        raise forms.ValidationError(error.message) from None


class SubmitForm(forms.Form):
    message = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What you deliver and how to use it. Add at least one: a file, a link or a message."),
    )
    # The field shadows ``Form.files`` only on the class; Django moves it to ``fields``.
    files = MultipleFileField(label=_("Files"))  # type: ignore[assignment]
    links = forms.CharField(
        label=_("Links"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Web addresses (http:// or https://), one per line."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["files"].help_text = upload_rules_words(settings.DELIVERABLE_MAX_FILES)

    def clean_files(self):
        files = self.cleaned_data["files"]
        if len(files) > settings.DELIVERABLE_MAX_FILES:
            most = settings.DELIVERABLE_MAX_FILES
            raise forms.ValidationError(
                ngettext("Attach at most {n} file.", "Attach at most {n} files.", most).format(n=most)
            )
        errors = []
        for upload in files:
            try:
                _check_file(upload)
            except forms.ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise forms.ValidationError(errors)
        return files

    def clean_links(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["links"].splitlines() if line.strip()]


class FeedbackForm(forms.Form):
    feedback = forms.CharField(
        label=_("Feedback"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What should change; the seller sees exactly this."),
    )


class ExtensionForm(forms.Form):
    new_deadline = forms.DateTimeField(
        label=_("New deadline"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The buyer sees this. Unanswered, the request lapses and the deadline stays."),
    )


class CancellationForm(forms.Form):
    refund = AmountField(
        label=_("Refund to buyer"),
        required=False,
        help_text=_(
            "Between 0 and the milestone's amount; leave it empty to refund all of it. "
            "The rest is released to the seller, less the fee."
        ),
    )
    refund_to = forms.ChoiceField(
        label=_("Refund to"),
        choices=[
            ("", _("Where my profile says refunds go")),
            ("balance", _("My site balance (instant)")),
            ("card", _("The card I paid with (5–10 days)")),
        ],
        initial="",
        required=False,
        widget=forms.RadioSelect,
        help_text=_("Where your refund and your share of the service fee go if the cancellation is accepted."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, buyer: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not buyer:
            # Only the buyer says where the buyer's refund goes.
            del self.fields["refund_to"]


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The buyer sees this; the full amount goes back to their balance."),
    )


class ConfirmForm(forms.Form):
    """No fields: the page says where the money goes, and the button is "Confirm"."""


class ApproveForm(forms.Form):
    portfolio = forms.BooleanField(
        label=_("Show this work in the seller's portfolio"),
        required=False,
        help_text=_("Off unless you tick it; you can withdraw it later from the order page."),
    )


class CancelForm(forms.Form):
    refund_to = forms.ChoiceField(
        label=_("Refund to"),
        choices=[
            ("balance", _("My site balance (instant)")),
            ("card", _("The card I paid with (5–10 days)")),
        ],
        initial="balance",
        required=False,
        widget=forms.RadioSelect,
        help_text=_("The amount and the service fee come back in full. Unpaid milestones just close."),
    )

    def clean_refund_to(self) -> str:
        return self.cleaned_data.get("refund_to") or "balance"


class OptionalFileForm(forms.Form):
    attachment = forms.FileField(label=_("File"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachment"].help_text = gettext("Evidence such as a screenshot. {rules}").format(
            rules=upload_rules_words(1)
        )

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        if upload:
            _check_file(upload)
        return upload


def dispute_next_steps() -> str:
    """What opening a dispute starts, and how long staff take (``DISPUTE_RESPONSE_DAYS``), in the
    words the dispute form shows under the reason."""
    days = settings.DISPUTE_RESPONSE_DAYS
    return ngettext(
        "What went wrong; staff read this, the other party's side and the messages. What happens next: "
        "the money stays in escrow and the deadlines stop; the other party is asked for their side; "
        "staff reply within {days} day and then release, refund or split. "
        "You can all write to each other in the dispute meanwhile, and the two of you can still settle it: "
        "a cancellation you both agree withdraws the dispute.",
        "What went wrong; staff read this, the other party's side and the messages. What happens next: "
        "the money stays in escrow and the deadlines stop; the other party is asked for their side; "
        "staff reply within {days} days and then release, refund or split. "
        "You can all write to each other in the dispute meanwhile, and the two of you can still settle it: "
        "a cancellation you both agree withdraws the dispute.",
        days,
    ).format(days=days)


class DisputeForm(OptionalFileForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    field_order = ["reason", "attachment"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = dispute_next_steps()


class StatementForm(OneUseForm, OptionalFileForm):
    body = forms.CharField(label=_("Your side"), max_length=10000, widget=forms.Textarea(attrs={"rows": 4}))
    field_order = ["body", "attachment"]


class TipForm(forms.Form):
    """ "Leave a tip": an amount up to the milestone's, and how to pay it."""

    amount = AmountField(label=_("Amount"))
    method = forms.ChoiceField(label=_("Pay with"), choices=PAY_WITH, widget=forms.RadioSelect)

    def __init__(self, *args, most: Money, balance: Money, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("method", "balance" if balance.amount > 0 else "card")
        super().__init__(*args, **kwargs)
        self.fields["amount"].help_text = gettext(
            "Up to {most}, the milestone's amount. The seller receives it less the platform's commission; no "
            "service fee is added."
        ).format(most=format_money(most))
        if balance.amount <= 0:
            field = self.fields["method"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [PAY_WITH[1]]
            field.help_text = gettext("Your balance is empty, so the tip is paid by card.")


class PackageOrderForm(PayWithForm):
    """The "Requirements" page of a package order: the extras to tick, one field per requirement
    question (as the seller asked it: text, one of the choices, or a file), how to pay the first
    step, and the key that makes the same form sent twice open one order."""

    key = forms.CharField(widget=forms.HiddenInput, max_length=40)

    def __init__(self, *args, questions: list, extras: list, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.questions = questions
        fields: dict[str, forms.Field] = {}
        if extras:
            fields["extras"] = forms.MultipleChoiceField(
                label=_("Extras"),
                required=False,
                widget=forms.CheckboxSelectMultiple,
                choices=[
                    (
                        str(e.pk),
                        ngettext("{title} (+{price}, +{days} day)", "{title} (+{price}, +{days} days)", e.days).format(
                            title=e.title, price=format_money(e.price), days=e.days
                        ),
                    )
                    for e in extras
                ],
            )
        for question in questions:
            name = f"answer_{question.pk}"
            if question.answer_type == "file":
                fields[name] = forms.FileField(
                    label=question.question,
                    required=question.required,
                    help_text=gettext("A file, as for deliverables: {extensions}.").format(
                        extensions=", ".join(settings.DELIVERABLE_ALLOWED_EXTENSIONS)
                    ),
                )
            elif question.answer_type == "choice":
                fields[name] = forms.ChoiceField(
                    label=question.question,
                    required=question.required,
                    widget=forms.RadioSelect,
                    choices=[(c, c) for c in question.choice_list],
                )
            else:
                fields[name] = forms.CharField(
                    label=question.question,
                    required=question.required,
                    max_length=5000,
                    widget=forms.Textarea(attrs={"rows": 3}),
                )
        # The questions first, then the extras, then how to pay.
        method = self.fields.pop("method")
        key = self.fields.pop("key")
        self.fields.update(fields)
        self.fields["method"] = method
        self.fields["key"] = key

    def answers(self) -> dict[int, object]:
        return {q.pk: self.cleaned_data.get(f"answer_{q.pk}") for q in self.questions}

    def extra_ids(self) -> list[int]:
        return [int(pk) for pk in self.cleaned_data.get("extras") or []]
