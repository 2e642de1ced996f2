"""The forms of buyer requests and proposals: they parse; the rules are the services'."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from gigs.packages import StepInput
from marketplace.forms import AmountField, MultipleFileField, currency_choices
from marketplace.uploads import upload_rules_words
from milestones.forms import PayWithForm
from requests_board.services import (
    MAX_PROPOSAL_STEPS,
    MAX_REQUEST_FILES,
    ProposalInput,
    RequestInput,
    request_files_checked,
    step_field,
)

# An amount typed as the reader writes it ("12,50" in es/de): a number input cannot take a comma.


class RequestForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 6}), max_length=10000)
    category = forms.ChoiceField(label=_("Category"), choices=[("", _("Choose a category")), *settings.GIG_CATEGORIES])
    budget = AmountField(label=_("Budget"), min_value=0)
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices, initial="USD")
    deadline = forms.DateField(label=_("Deadline"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    # The field shadows ``Form.files`` only on the class; Django moves it to ``fields``.
    files = MultipleFileField(label=_("Files"))  # type: ignore[assignment]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The limits ``request_files_checked`` applies, in the words every upload uses.
        self.fields["files"].help_text = " ".join(
            (
                gettext("A sketch, a brief or an example: sellers see it with the request."),
                upload_rules_words(MAX_REQUEST_FILES),
            )
        )

    def clean_files(self) -> list:
        """The service's own checks (``request_files_checked``), shown next to the field at once."""
        files = self.cleaned_data["files"]
        _, errors = request_files_checked(files)
        if errors:
            raise forms.ValidationError([error.message for error in errors])
        return files

    def request_input(self) -> RequestInput:
        data = self.cleaned_data
        return RequestInput(
            title=data["title"],
            description=data["description"],
            category=data["category"],
            budget=Money(data["budget"], data["currency"]),
            deadline=data.get("deadline"),
        )


class RequestFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", _("Any")), *settings.GIG_CATEGORIES]
    )
    min_budget = AmountField(label=_("Budget from"), required=False, min_value=0)
    max_budget = AmountField(label=_("Budget up to"), required=False, min_value=0)


class ProposalForm(forms.Form):
    """ "Message" and one fieldset per step ("Step title", "Deliverables", "Days", "Price");
    "Add step" posts the form back with one more empty step (no JavaScript needed)."""

    message = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000)
    step_count = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_PROPOSAL_STEPS)

    def __init__(self, *args, currency: str, steps: int = 1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        if self.data:
            try:
                steps = int(self.data.get("step_count", steps))
            except (TypeError, ValueError):
                steps = 1
            if "add_step" in self.data:
                steps += 1
        steps = max(1, min(steps, MAX_PROPOSAL_STEPS))
        self.step_total = steps
        self.initial["step_count"] = steps
        if self.data and "add_step" in self.data:
            data = dict(self.data.items())
            data["step_count"] = str(steps)
            self.data = data
        for n in range(1, steps + 1):
            self.fields[step_field(n, "title")] = forms.CharField(label=_("Step title"), max_length=200)
            self.fields[step_field(n, "deliverables")] = forms.CharField(
                label=_("Deliverables"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
            )
            self.fields[step_field(n, "days")] = forms.IntegerField(label=_("Days"), min_value=1, max_value=365)
            self.fields[step_field(n, "price")] = AmountField(
                label=_("Price"),
                min_value=0,
                help_text=gettext("In {currency}.").format(currency=currency),
            )

    def step_fieldsets(self) -> list[tuple[int, list]]:
        return [
            (n, [self[step_field(n, name)] for name in ("title", "deliverables", "days", "price")])
            for n in range(1, self.step_total + 1)
        ]

    def proposal_input(self) -> ProposalInput:
        data = self.cleaned_data
        steps = []
        for n in range(1, self.step_total + 1):
            price = data.get(step_field(n, "price"))
            steps.append(
                StepInput(
                    title=data.get(step_field(n, "title")) or "",
                    deliverables=data.get(step_field(n, "deliverables")) or "",
                    days=data.get(step_field(n, "days")),
                    price=None if price is None else Money(price, self.currency),
                )
            )
        return ProposalInput(message=data["message"], steps=tuple(steps))


class HireForm(PayWithForm):
    """ "Hire": how to pay the first step, and the key that makes the form sent twice hire once."""

    key = forms.CharField(widget=forms.HiddenInput, max_length=40)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
