"""Forms of the gig pages. They parse input; the rules live in ``gigs.services``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.forms import BoundField
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from djmoney.money import Money

from gigs.models import MAX_EXTRAS, MAX_PACKAGES, MAX_QUESTIONS, MAX_STEP_REVISIONS, MAX_STEPS, AnswerType, Gig
from gigs.packages import (
    ExtraInput,
    GigPackagesInput,
    PackageInput,
    QuestionInput,
    StepInput,
    default_package_name,
    extra_field,
    package_field,
    packages_errors,
    packages_of,
    question_field,
    single_package,
    step_field,
)
from gigs.selectors import SORTS
from gigs.services import gig_terms_errors
from marketplace.forms import AmountField, currency_choices


def category_choices() -> list[tuple[str, str | Promise]]:
    return list(settings.GIG_CATEGORIES)


def search_category_choices() -> list[tuple[str, str | Promise]]:
    return [("", _("All categories")), *settings.GIG_CATEGORIES]


EDITOR_BUTTONS = ("add_step", "add_package", "add_extra", "add_question")
STEP_FIELDS = ("title", "deliverables", "days", "price", "revisions")
# Whole labels, one per step (a translator sees "Step 1" … "Step 6" as written).
STEP_LABELS = {
    1: _("Step 1"),
    2: _("Step 2"),
    3: _("Step 3"),
    4: _("Step 4"),
    5: _("Step 5"),
    6: _("Step 6"),
}
ATTACH_CHOICES = [("", _("Its own last step")), *[(str(n), STEP_LABELS[n]) for n in range(1, MAX_STEPS + 1)]]


def _count(data: Any, key: str, *, least: int, most: int) -> int:
    try:
        return max(least, min(most, int(data.get(key) or least)))
    except (TypeError, ValueError):
        return least


@dataclass
class StepRow:
    position: int
    fields: list[BoundField]


@dataclass
class PackageRow:
    position: int
    name: BoundField
    description: BoundField
    steps: list[StepRow]

    @property
    def may_add_step(self) -> bool:
        return len(self.steps) < MAX_STEPS


class GigForm(forms.Form):
    """Publishing a gig, and editing one (``GigForm.for_gig``): its terms, then its packages (each
    with its steps), extras and requirement questions.

    The rows are fields named by position (``gigs.packages.step_field``); how many of each the
    form has is in hidden counts (``packages``, ``package-<n>-steps``, ``extras``, ``questions``)
    that the template writes. "Add step", "Add package", "Add extra" and "Add question" are submit
    buttons: the page comes back with one more blank row and everything typed kept, and nothing
    is saved (``GigForm.for_post``), so they work without JavaScript. A row left blank is left out
    (the first package always counts)."""

    title = forms.CharField(
        label=_("Title"),
        max_length=120,
        help_text=_("What you will do, e.g. “I will design your logo”."),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What the buyer gets."),
    )
    category = forms.ChoiceField(
        label=_("Category"), choices=category_choices, required=False, help_text=_("Where buyers browsing find it.")
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices, help_text=_("Of every price below."))

    def __init__(
        self,
        data: Any = None,
        *,
        initial: dict[str, Any] | None = None,
        package_steps: list[int] | None = None,
        extras: int = 0,
        questions: int = 0,
    ) -> None:
        super().__init__(data, initial=initial)
        self.fields["currency"].initial = settings.MARKETPLACE_DEFAULT_CURRENCY
        self.fields["category"].initial = "other"
        source = data if data is not None else {}
        if package_steps is None:
            packages = _count(source, "packages", least=1, most=MAX_PACKAGES)
            package_steps = [
                _count(source, package_field(p, "steps"), least=1, most=MAX_STEPS) for p in range(1, packages + 1)
            ]
            extras = _count(source, "extras", least=0, most=MAX_EXTRAS)
            questions = _count(source, "questions", least=0, most=MAX_QUESTIONS)
        self.package_steps, self.extra_count, self.question_count = package_steps, extras, questions
        minimum = Decimal(settings.MILESTONE_MIN_AMOUNT)
        for p, steps in enumerate(package_steps, start=1):
            self.fields[package_field(p, "name")] = forms.CharField(
                label=_("Package name"), max_length=40, required=False
            )
            self.fields[package_field(p, "description")] = forms.CharField(
                label=_("Package description"),
                max_length=1000,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=_("Optional: who it is for and what it covers."),
            )
            for s in range(1, steps + 1):
                self.fields[step_field(p, s, "title")] = forms.CharField(
                    label=_("Step title"), max_length=200, required=False
                )
                self.fields[step_field(p, s, "deliverables")] = forms.CharField(
                    label=_("Deliverables"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
                )
                self.fields[step_field(p, s, "days")] = forms.IntegerField(
                    label=_("Days"), required=False, widget=forms.NumberInput(attrs={"min": "1", "max": "365"})
                )
                self.fields[step_field(p, s, "price")] = AmountField(
                    label=_("Price"),
                    required=False,
                    help_text=format_lazy(
                        _("Paid when the step starts: at least {minimum}."), minimum=number_format(minimum, 2)
                    ),
                )
                self.fields[step_field(p, s, "revisions")] = forms.IntegerField(
                    label=_("Revisions included"),
                    required=False,
                    widget=forms.NumberInput(attrs={"min": "0", "max": str(MAX_STEP_REVISIONS)}),
                    help_text=format_lazy(_("0 to {most}."), most=MAX_STEP_REVISIONS),
                )
        for x in range(1, extras + 1):
            self.fields[extra_field(x, "title")] = forms.CharField(
                label=_("Extra title"), max_length=120, required=False
            )
            self.fields[extra_field(x, "price")] = AmountField(label=_("Extra price"), required=False)
            self.fields[extra_field(x, "days")] = forms.IntegerField(
                label=_("Extra days"),
                required=False,
                widget=forms.NumberInput(attrs={"min": "0", "max": "365"}),
                help_text=_("Added to the step's days; 0 for none."),
            )
            self.fields[extra_field(x, "attach_to_step")] = forms.ChoiceField(
                label=_("Added to"), choices=ATTACH_CHOICES, required=False
            )
        for q in range(1, questions + 1):
            self.fields[question_field(q, "question")] = forms.CharField(
                label=_("Question"), max_length=300, required=False
            )
            self.fields[question_field(q, "answer_type")] = forms.ChoiceField(
                label=_("Answer type"), choices=AnswerType.choices, initial=AnswerType.TEXT
            )
            self.fields[question_field(q, "required")] = forms.BooleanField(
                label=pgettext_lazy("question", "Required"), required=False
            )
            self.fields[question_field(q, "choices")] = forms.CharField(
                label=_("Choices"),
                max_length=2000,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=_("For a choice question: one choice per line."),
            )
        # Which form row each row given to the service came from (blank rows are left out).
        self._rows: dict[str, str] = {}

    # --- building ------------------------------------------------------------------------------

    @classmethod
    def blank(cls) -> GigForm:
        """A new gig: one package "Basic" with one step."""
        return cls(initial=_new_gig_initial(), package_steps=[1])

    @classmethod
    def for_gig(cls, gig: Gig) -> GigForm:
        offer = packages_of(gig)
        if not offer.packages:  # published before packages, and not migrated yet
            offer = replace(
                offer,
                packages=single_package(
                    title=gig.title, description=gig.description, price=gig.starting_price, days=gig.delivery_days
                ).packages,
            )
        initial = {
            "title": gig.title,
            "description": gig.description,
            "category": gig.category,
            "currency": str(gig.starting_price.currency),
            **_offer_initial(offer),
        }
        return cls(
            initial=initial,
            package_steps=[len(package.steps) or 1 for package in offer.packages] or [1],
            extras=len(offer.extras),
            questions=len(offer.questions),
        )

    @classmethod
    def for_post(cls, data: Any) -> tuple[GigForm, bool]:
        """The form for what was sent, and whether one of the "Add ..." buttons sent it: then it
        is an unbound form holding everything typed, with one more blank row where asked."""
        form = cls(data)
        pressed = next((name for name in EDITOR_BUTTONS if name in data), None)
        if pressed is None:
            return form, False
        initial = {name: data.get(name) for name in form.fields if name in data}
        for name, field in form.fields.items():
            if isinstance(field, forms.BooleanField):
                initial[name] = name in data
        steps, extras, questions = list(form.package_steps), form.extra_count, form.question_count
        first = ""  # the new row's first field, where the cursor goes
        if pressed == "add_step":
            p = _count(data, "add_step", least=1, most=len(steps))
            if steps[p - 1] < MAX_STEPS:
                steps[p - 1] += 1
                initial[step_field(p, steps[p - 1], "revisions")] = 1
                first = step_field(p, steps[p - 1], "title")
        elif pressed == "add_package" and len(steps) < MAX_PACKAGES:
            steps.append(1)
            initial[package_field(len(steps), "name")] = default_package_name(len(steps))
            initial[step_field(len(steps), 1, "revisions")] = 1
            first = package_field(len(steps), "name")
        elif pressed == "add_extra" and extras < MAX_EXTRAS:
            extras += 1
            first = extra_field(extras, "title")
        elif pressed == "add_question" and questions < MAX_QUESTIONS:
            questions += 1
            initial[question_field(questions, "required")] = True
            first = question_field(questions, "question")
        grown = cls(initial=initial, package_steps=steps, extras=extras, questions=questions)
        if first:
            # Without a script, the page comes back at its top: the cursor shows the new row.
            grown.fields[first].widget.attrs["autofocus"] = True
        return grown, True

    # --- reading -------------------------------------------------------------------------------

    def package_rows(self) -> list[PackageRow]:
        return [
            PackageRow(
                position=p,
                name=self[package_field(p, "name")],
                description=self[package_field(p, "description")],
                steps=[StepRow(s, [self[step_field(p, s, name)] for name in STEP_FIELDS]) for s in range(1, steps + 1)],
            )
            for p, steps in enumerate(self.package_steps, start=1)
        ]

    def extra_rows(self) -> list[list[BoundField]]:
        names = ("title", "price", "days", "attach_to_step")
        return [[self[extra_field(x, name)] for name in names] for x in range(1, self.extra_count + 1)]

    def question_rows(self) -> list[list[BoundField]]:
        names = ("question", "answer_type", "required", "choices")
        return [[self[question_field(q, name)] for name in names] for q in range(1, self.question_count + 1)]

    @property
    def may_add_package(self) -> bool:
        return len(self.package_steps) < MAX_PACKAGES

    @property
    def may_add_extra(self) -> bool:
        return self.extra_count < MAX_EXTRAS

    @property
    def may_add_question(self) -> bool:
        return self.question_count < MAX_QUESTIONS

    def clean(self) -> dict[str, Any]:
        """Every field's error at once: the gig's rules run on the fields that parsed (a price
        under the minimum is reported together with a missing title, not after it is fixed)."""
        data = super().clean() or {}
        errors = gig_terms_errors(
            title=data.get("title"),
            description=data.get("description"),
            starting_price=None,
            delivery_days=None,
            category=(data.get("category") or "other") if "category" in data else None,
        )
        errors += packages_errors(self._offer(data))
        for error in errors:
            name = self._rows.get(error.field or "", error.field)
            if name in self.errors:
                continue  # its own error (it did not parse, or was too long) says enough
            self.add_error(name if name in self.fields else None, error.message)
        return data

    def _offer(self, data: dict[str, Any]) -> GigPackagesInput:
        """The packages, extras and questions typed, blank rows left out; ``_rows`` maps the
        service's field names (by the rows it was given) back to the form's."""
        currency = data.get("currency") or settings.MARKETPLACE_DEFAULT_CURRENCY
        self._rows = {}

        # A value that did not parse is None (its error is shown already); one left blank in a
        # row that is not blank is checked as 0, so that the rule says what it must be.
        def money(name: str) -> Money | None:
            return None if name in self.errors else Money(data.get(name) or 0, currency)

        def number(name: str) -> int | None:
            return None if name in self.errors else data.get(name) or 0

        def blank(*names: str) -> bool:
            return all(name not in self.errors and data.get(name) in ("", None) for name in names)

        packages: list[PackageInput] = []
        for p, steps in enumerate(self.package_steps, start=1):
            given: list[StepInput] = []
            for s in range(1, steps + 1):
                if blank(*(step_field(p, s, name) for name in STEP_FIELDS[:4])):
                    continue
                given.append(
                    StepInput(
                        title=data.get(step_field(p, s, "title")) or "",
                        deliverables=data.get(step_field(p, s, "deliverables")) or "",
                        days=number(step_field(p, s, "days")),
                        price=money(step_field(p, s, "price")),
                        revisions_included=number(step_field(p, s, "revisions")),
                    )
                )
                self._map(step_field(len(packages) + 1, len(given), ""), step_field(p, s, ""))
            if p > 1 and not given and blank(package_field(p, "description")):
                continue
            packages.append(
                PackageInput(
                    name=data.get(package_field(p, "name")) or "",
                    description=data.get(package_field(p, "description")) or "",
                    steps=tuple(given),
                )
            )
            self._map(package_field(len(packages), ""), package_field(p, ""))
            self._map(step_field(len(packages), 1, ""), step_field(p, 1, ""))
        extras: list[ExtraInput] = []
        for x in range(1, self.extra_count + 1):
            if blank(*(extra_field(x, name) for name in ("title", "price", "days"))):
                continue
            attach = data.get(extra_field(x, "attach_to_step"))
            extras.append(
                ExtraInput(
                    title=data.get(extra_field(x, "title")) or "",
                    price=money(extra_field(x, "price")),
                    days=number(extra_field(x, "days")),
                    attach_to_step=int(attach) if attach else None,
                )
            )
            self._map(extra_field(len(extras), ""), extra_field(x, ""))
        questions: list[QuestionInput] = []
        for q in range(1, self.question_count + 1):
            if blank(question_field(q, "question"), question_field(q, "choices")):
                continue
            questions.append(
                QuestionInput(
                    question=data.get(question_field(q, "question")) or "",
                    answer_type=data.get(question_field(q, "answer_type")) or AnswerType.TEXT,
                    required=bool(data.get(question_field(q, "required"))),
                    choices=data.get(question_field(q, "choices")) or "",
                )
            )
            self._map(question_field(len(questions), ""), question_field(q, ""))
        self.offer = GigPackagesInput(packages=tuple(packages), extras=tuple(extras), questions=tuple(questions))
        return self.offer

    def _map(self, given_prefix: str, form_prefix: str) -> None:
        """Map every field of the row given as ``given_prefix`` to the form row ``form_prefix``."""
        if given_prefix == form_prefix:
            return
        for name in list(self.fields):
            if name.startswith(form_prefix):
                rest = name[len(form_prefix) :]
                if "-" not in rest:
                    self._rows.setdefault(given_prefix + rest, name)

    def service_fields(self) -> dict[str, str]:
        """The form's name of each field the service names (``show_domain_error``'s aliases)."""
        return self._rows

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "description": data["description"],
            "category": data["category"] or "other",
            "packages": self.offer,
        }


def _new_gig_initial() -> dict[str, Any]:
    return {package_field(1, "name"): default_package_name(1), step_field(1, 1, "revisions"): 1}


def _offer_initial(offer: GigPackagesInput) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for p, package in enumerate(offer.packages, start=1):
        initial[package_field(p, "name")] = package.name
        initial[package_field(p, "description")] = package.description
        for s, step in enumerate(package.steps, start=1):
            initial[step_field(p, s, "title")] = step.title
            initial[step_field(p, s, "deliverables")] = step.deliverables
            initial[step_field(p, s, "days")] = step.days
            initial[step_field(p, s, "price")] = step.price.amount if step.price is not None else None
            initial[step_field(p, s, "revisions")] = step.revisions_included
    for x, extra in enumerate(offer.extras, start=1):
        initial[extra_field(x, "title")] = extra.title
        initial[extra_field(x, "price")] = extra.price.amount if extra.price is not None else None
        initial[extra_field(x, "days")] = extra.days
        initial[extra_field(x, "attach_to_step")] = str(extra.attach_to_step or "")
    for q, question in enumerate(offer.questions, start=1):
        initial[question_field(q, "question")] = question.question
        initial[question_field(q, "answer_type")] = question.answer_type
        initial[question_field(q, "required")] = question.required
        initial[question_field(q, "choices")] = question.choices
    return initial


SORT_LABELS = {
    "relevance": _("Best match"),
    "rating": _("Best rated"),
    "price": _("Price: low to high"),
    "newest": _("Newest"),
}
DELIVERY_CHOICES = [
    ("", _("Any time")),
    ("1", _("Up to 24 hours")),
    ("3", _("Up to 3 days")),
    ("7", _("Up to 7 days")),
    ("14", _("Up to 14 days")),
    ("30", _("Up to 30 days")),
]


INVALID_CHOICE_MESSAGES = {
    "category": _("Choose one of the categories in the list."),
    "currency": _("Choose one of the currencies in the list."),
    "delivery": _("Choose one of the delivery times in the list."),
    "sort": _("Choose one of the orders in the list."),
}


class GigSearchForm(forms.Form):
    """The home page's search and filters, all from the query string, so that a
    search is a link. A filter that does not parse gets an error next to it
    and is left out (``filters()``); the others still apply. The text field is
    written by hand in the template (``q``), as it was before filters."""

    q = forms.CharField(required=False, strip=True)
    category = forms.ChoiceField(label=_("Category"), required=False, choices=search_category_choices)
    min_price = forms.DecimalField(
        label=_("Min price"),
        required=False,
        localize=True,
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        error_messages={
            "invalid": _("Enter the minimum price as a number, e.g. 20 or 19.99."),
            "min_value": _("The minimum price cannot be negative."),
        },
    )
    max_price = forms.DecimalField(
        label=_("Max price"),
        required=False,
        localize=True,
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        error_messages={
            "invalid": _("Enter the maximum price as a number, e.g. 100 or 99.99."),
            "min_value": _("The maximum price cannot be negative."),
        },
    )
    currency = forms.ChoiceField(label=_("Price in"), required=False, choices=currency_choices)
    delivery = forms.TypedChoiceField(
        label=_("Delivery time"), required=False, choices=DELIVERY_CHOICES, coerce=int, empty_value=None
    )
    sort = forms.ChoiceField(
        label=_("Sort by"), required=False, choices=[(value, SORT_LABELS[value]) for value in SORTS]
    )

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        self.is_filtered = False
        # Whether the order shown is the default (best match with a query, else
        # newest) rather than one the user picked. The page then sends it back
        # as ``default_sort`` beside ``sort``, so that a query typed later still
        # sorts by best match, although the list says "Newest".
        self.sort_is_default = True
        if data is not None:
            # Show the order and the currency that apply when none is given.
            self.is_filtered = any(value for key, value in data.items() if key not in ("page", "default_sort"))
            data = data.copy()
            has_query = bool(data.get("q", "").strip())
            picked = data.get("sort") or ""
            self.sort_is_default = not picked or picked == data.get("default_sort")
            if self.sort_is_default or (picked == "relevance" and not has_query):
                self.sort_is_default = True
                data["sort"] = "relevance" if has_query else "newest"
            data["currency"] = data.get("currency") or settings.MARKETPLACE_DEFAULT_CURRENCY
        super().__init__(data, **kwargs)
        self.fields["currency"].initial = settings.MARKETPLACE_DEFAULT_CURRENCY
        for name in ("min_price", "max_price"):
            # Localised (``localize``): a text input, so that "19,99" can be typed in es and de.
            self.fields[name].widget.attrs.update({"inputmode": "decimal"})
        for name, message in INVALID_CHOICE_MESSAGES.items():
            self.fields[name].error_messages["invalid_choice"] = message

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:100]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", _("The maximum price is below the minimum; the price filter was left out."))
            data.pop("min_price", None)
        return data

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of ``gigs_search`` from what parsed; a field with
        an error is left out."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "query": data.get("q") or "",
            "category": data.get("category") or "",
            "min_price": data.get("min_price"),
            "max_price": data.get("max_price"),
            "currency": data.get("currency") or settings.MARKETPLACE_DEFAULT_CURRENCY,
            "max_delivery_days": data.get("delivery"),
            "sort": data.get("sort") or "",
        }
