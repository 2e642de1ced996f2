"""A gig's packages, their steps, its extras and its requirement questions: the input a seller
gives, its rules, and how it is written.

The gig editor sends them all at once and ``gig_create`` / ``gig_update`` (``gigs.services``)
save them with the gig's terms in one transaction, under the gig's lock. Each refusal names the
field it is about with the editor's own field names (``step_field(1, 2, "price")`` is
``"package-1-step-2-price"``), so the form puts it next to that field; they are built here only.

Positions are 1-based and dense: what the seller sees as "Step 2" is stored at position 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from djmoney.money import Money

from gigs.models import (
    DEFAULT_PACKAGE_NAMES,
    MAX_EXTRAS,
    MAX_PACKAGES,
    MAX_QUESTIONS,
    MAX_STEP_REVISIONS,
    MAX_STEPS,
    AnswerType,
    Gig,
    GigExtra,
    GigPackage,
    PackageStep,
    RequirementQuestion,
)
from marketplace.errors import InvalidInput
from marketplace.money import has_sub_minor_digits

# A package's delivery time, as the gig's ``delivery_days`` (which it becomes for the cheapest).
MAX_PACKAGE_DAYS = 365


def package_field(package: int, name: str) -> str:
    return f"package-{package}-{name}"


def step_field(package: int, step: int, name: str) -> str:
    return f"package-{package}-step-{step}-{name}"


def extra_field(extra: int, name: str) -> str:
    return f"extra-{extra}-{name}"


def question_field(question: int, name: str) -> str:
    return f"question-{question}-{name}"


# A value given as None did not parse (the form has its error already) and is not checked again.
@dataclass(frozen=True)
class StepInput:
    title: str
    deliverables: str
    days: int | None
    price: Money | None
    revisions_included: int | None = 1


@dataclass(frozen=True)
class PackageInput:
    name: str
    description: str
    steps: tuple[StepInput, ...]


@dataclass(frozen=True)
class ExtraInput:
    title: str
    price: Money | None
    days: int | None = 0
    # A step's position; None: the extra becomes its own last step.
    attach_to_step: int | None = None


@dataclass(frozen=True)
class QuestionInput:
    question: str
    answer_type: str = AnswerType.TEXT
    required: bool = True
    choices: str = ""


@dataclass(frozen=True)
class GigPackagesInput:
    """Everything the "Packages", "Extras" and "Requirements" sections of the editor hold."""

    packages: tuple[PackageInput, ...]
    extras: tuple[ExtraInput, ...] = field(default=())
    questions: tuple[QuestionInput, ...] = field(default=())

    @property
    def currency(self) -> str | None:
        for package in self.packages:
            for step in package.steps:
                if step.price is not None:
                    return str(step.price.currency)
        return None


def single_package(
    *, title: str, description: str, price: Money, days: int, revisions_included: int = 1
) -> GigPackagesInput:
    """A gig priced the way every gig was before packages: one package "Basic", one step."""
    step = StepInput(
        title=title[:200], deliverables=description, days=days, price=price, revisions_included=revisions_included
    )
    return GigPackagesInput(packages=(PackageInput(DEFAULT_PACKAGE_NAMES[0], description[:1000], (step,)),))


def default_package_name(position: int) -> str:
    """The name the editor suggests for a new package, in the seller's language (English:
    ``DEFAULT_PACKAGE_NAMES``, then "Package 4")."""
    names = (pgettext("package", "Basic"), pgettext("package", "Standard"), pgettext("package", "Premium"))
    if position <= len(DEFAULT_PACKAGE_NAMES):
        return names[position - 1]
    return _("Package {position}").format(position=position)


# --- rules ------------------------------------------------------------------------------------


def _price_bounds_words(what: str) -> tuple[str, str]:
    """The whole sentences for a price under the minimum and over the maximum, by what is priced
    ("step" or "extra"), with ``{minimum}`` and ``{maximum}`` to fill."""
    if what == "extra":
        return _("An extra's price is at least {minimum}."), _("An extra's price is at most {maximum}.")
    return _("A step's price is at least {minimum}."), _("A step's price is at most {maximum}.")


def _price_errors(price: Money | None, *, field: str, currency: str | None, what: str) -> list[InvalidInput]:
    if price is None:
        return []
    minimum, maximum = Decimal(settings.MILESTONE_MIN_AMOUNT), Decimal(settings.MILESTONE_MAX_AMOUNT)
    if str(price.currency) not in settings.MARKETPLACE_CURRENCIES:
        return [
            InvalidInput(
                _("{currency} is not a currency of this marketplace.").format(currency=price.currency), field=field
            )
        ]
    if currency is not None and str(price.currency) != currency:
        return [
            InvalidInput(_("Use one currency for the whole gig ({currency}).").format(currency=currency), field=field)
        ]
    at_least, at_most = _price_bounds_words(what)
    if price.amount < minimum:
        return [InvalidInput(at_least.format(minimum=number_format(minimum, 2)), field=field)]
    if price.amount > maximum:
        return [InvalidInput(at_most.format(maximum=number_format(maximum, 2, force_grouping=True)), field=field)]
    if has_sub_minor_digits(price):
        return [InvalidInput(_("Use at most two decimal places."), field=field)]
    return []


def _text_errors(value: str, *, field: str, limit: int, missing: str | None) -> list[InvalidInput]:
    value = value.strip()
    if not value and missing:
        return [InvalidInput(missing, field=field)]
    if len(value) > limit:
        return [
            InvalidInput(
                _("Keep it to {limit} characters or fewer.").format(limit=number_format(limit, force_grouping=True)),
                field=field,
            )
        ]
    return []


def _step_errors(step: StepInput, *, p: int, s: int, currency: str | None) -> list[InvalidInput]:
    errors = [
        *_text_errors(step.title, field=step_field(p, s, "title"), limit=200, missing=_("Give the step a title.")),
        *_text_errors(
            step.deliverables,
            field=step_field(p, s, "deliverables"),
            limit=5000,
            missing=_("Say what the buyer gets at the end of this step."),
        ),
        *_price_errors(step.price, field=step_field(p, s, "price"), currency=currency, what="step"),
    ]
    if step.days is not None and not 1 <= step.days <= MAX_PACKAGE_DAYS:
        errors.append(
            InvalidInput(
                _("A step takes between 1 and {most} days.").format(most=MAX_PACKAGE_DAYS),
                field=step_field(p, s, "days"),
            )
        )
    if step.revisions_included is not None and not 0 <= step.revisions_included <= MAX_STEP_REVISIONS:
        errors.append(
            InvalidInput(
                _("Include between 0 and {most} revisions.").format(most=MAX_STEP_REVISIONS),
                field=step_field(p, s, "revisions"),
            )
        )
    return errors


def _package_errors(package: PackageInput, *, p: int, currency: str | None) -> list[InvalidInput]:
    errors = [
        *_text_errors(package.name, field=package_field(p, "name"), limit=40, missing=_("Give the package a name.")),
        *_text_errors(package.description, field=package_field(p, "description"), limit=1000, missing=None),
    ]
    if not package.steps:
        errors.append(InvalidInput(_("A package needs at least one step."), field=step_field(p, 1, "title")))
    elif len(package.steps) > MAX_STEPS:
        errors.append(
            InvalidInput(
                _("A package has at most {most} steps.").format(most=MAX_STEPS),
                field=step_field(p, MAX_STEPS + 1, "title"),
            )
        )
    for s, step in enumerate(package.steps[:MAX_STEPS], start=1):
        errors.extend(_step_errors(step, p=p, s=s, currency=currency))
    days = [step.days for step in package.steps]
    if None not in days and sum(d for d in days if d) > MAX_PACKAGE_DAYS:
        errors.append(
            InvalidInput(
                _("The steps of a package take {most} days or fewer in all.").format(most=MAX_PACKAGE_DAYS),
                field=step_field(p, len(package.steps[:MAX_STEPS]), "days"),
            )
        )
    return errors


def _extra_errors(extra: ExtraInput, *, x: int, currency: str | None) -> list[InvalidInput]:
    errors = [
        *_text_errors(extra.title, field=extra_field(x, "title"), limit=120, missing=_("Give the extra a title.")),
        *_price_errors(extra.price, field=extra_field(x, "price"), currency=currency, what="extra"),
    ]
    if extra.days is not None and not 0 <= extra.days <= MAX_PACKAGE_DAYS:
        errors.append(
            InvalidInput(
                _("An extra adds between 0 and {most} days.").format(most=MAX_PACKAGE_DAYS),
                field=extra_field(x, "days"),
            )
        )
    if extra.attach_to_step is not None and not 1 <= extra.attach_to_step <= MAX_STEPS:
        errors.append(InvalidInput(_("Choose a step from the list."), field=extra_field(x, "attach_to_step")))
    return errors


def _question_errors(question: QuestionInput, *, q: int) -> list[InvalidInput]:
    errors = _text_errors(
        question.question, field=question_field(q, "question"), limit=300, missing=_("Write the question.")
    )
    if question.answer_type not in AnswerType.values:
        errors.append(InvalidInput(_("Choose text, choice or file."), field=question_field(q, "answer_type")))
    elif question.answer_type == AnswerType.CHOICE:
        choices = [line for line in question.choices.splitlines() if line.strip()]
        if len(choices) < 2:
            errors.append(
                InvalidInput(_("Give at least two choices, one per line."), field=question_field(q, "choices"))
            )
        elif len(question.choices) > 2000 or any(len(line.strip()) > 200 for line in choices):
            errors.append(
                InvalidInput(
                    _("Keep the choices to {most} characters, {each} per choice.").format(
                        most=number_format(2000, force_grouping=True), each=200
                    ),
                    field=question_field(q, "choices"),
                )
            )
    return errors


def packages_errors(offer: GigPackagesInput) -> list[InvalidInput]:
    """Every rule the packages, extras and questions break, each naming its field, so that the
    editor reports them all at once. The gig's currency is its first step's."""
    currency = offer.currency
    errors: list[InvalidInput] = []
    if not offer.packages:
        errors.append(InvalidInput(_("A gig needs at least one package."), field=package_field(1, "name")))
    elif len(offer.packages) > MAX_PACKAGES:
        errors.append(
            InvalidInput(
                _("A gig has at most {most} packages.").format(most=MAX_PACKAGES),
                field=package_field(MAX_PACKAGES + 1, "name"),
            )
        )
    names: set[str] = set()
    for p, package in enumerate(offer.packages[:MAX_PACKAGES], start=1):
        errors.extend(_package_errors(package, p=p, currency=currency))
        name = package.name.strip().casefold()
        if name and name in names:
            errors.append(InvalidInput(_("Give each package its own name."), field=package_field(p, "name")))
        names.add(name)
    if len(offer.extras) > MAX_EXTRAS:
        errors.append(
            InvalidInput(
                _("A gig has at most {most} extras.").format(most=MAX_EXTRAS),
                field=extra_field(MAX_EXTRAS + 1, "title"),
            )
        )
    for x, extra in enumerate(offer.extras[:MAX_EXTRAS], start=1):
        errors.extend(_extra_errors(extra, x=x, currency=currency))
    if len(offer.questions) > MAX_QUESTIONS:
        errors.append(
            InvalidInput(
                _("A gig has at most {most} questions.").format(most=MAX_QUESTIONS),
                field=question_field(MAX_QUESTIONS + 1, "question"),
            )
        )
    for q, question in enumerate(offer.questions[:MAX_QUESTIONS], start=1):
        errors.extend(_question_errors(question, q=q))
    return errors


def packages_validate(offer: GigPackagesInput) -> None:
    """``InvalidInput`` for the first rule broken (the editor shows them all: ``packages_errors``)."""
    errors = packages_errors(offer)
    if errors:
        raise errors[0]


# --- the summary the gig row keeps --------------------------------------------------------------


def package_totals(package: PackageInput) -> tuple[Money, int]:
    """A validated package's price and days: the sums of its steps'."""
    prices = [step.price for step in package.steps if step.price is not None]
    return sum(prices[1:], prices[0]), sum(step.days or 0 for step in package.steps)


def cheapest_totals(offer: GigPackagesInput) -> tuple[Money, int]:
    """The gig's ``starting_price`` and ``delivery_days``: the cheapest package's sums (the
    first of equals), so that search, cards and sorting by price read one column as before."""
    return min((package_totals(package) for package in offer.packages), key=lambda totals: totals[0].amount)


# --- writing ----------------------------------------------------------------------------------


def packages_write(*, gig: Gig, offer: GigPackagesInput, new: bool = False) -> None:
    """Replace the gig's packages, steps, extras and questions by ``offer`` (validated) and set
    the gig's summary columns (the caller saves the gig). The caller holds the gig's lock
    (``lock_gig``), so two editors write one after the other.

    Packages are updated in place by position, so an order that points at its package
    (``Order.package``) keeps pointing at it; steps, extras and questions are written anew:
    nothing points at them (an order copies what it needs). A ``new`` gig has nothing to replace.
    """
    kept = {} if new else {package.position: package for package in GigPackage.objects.filter(gig=gig)}
    if not new:
        GigPackage.objects.filter(gig=gig, position__gt=len(offer.packages)).delete()
        # One statement for every package's steps (and nothing points at them).
        PackageStep.objects.filter(package__gig=gig).delete()
        GigExtra.objects.filter(gig=gig).delete()
        RequirementQuestion.objects.filter(gig=gig).delete()
    steps: list[PackageStep] = []
    for p, given in enumerate(offer.packages, start=1):
        package = kept.get(p) or GigPackage(gig=gig, position=p)
        package.name, package.description = given.name.strip(), given.description.strip()
        if package.pk is None:
            package.save()
        else:
            package.save(update_fields=["name", "description"])
        steps.extend(
            PackageStep(
                package=package,
                position=s,
                title=step.title.strip(),
                deliverables=step.deliverables.strip(),
                days=step.days,
                price=step.price,
                revisions_included=step.revisions_included,
            )
            for s, step in enumerate(given.steps, start=1)
        )
    PackageStep.objects.bulk_create(steps)
    GigExtra.objects.bulk_create(
        GigExtra(
            gig=gig,
            position=x,
            title=extra.title.strip(),
            price=extra.price,
            days=extra.days or 0,
            attach_to_step=extra.attach_to_step,
        )
        for x, extra in enumerate(offer.extras, start=1)
    )
    RequirementQuestion.objects.bulk_create(
        RequirementQuestion(
            gig=gig,
            position=q,
            question=question.question.strip(),
            answer_type=question.answer_type,
            required=question.required,
            choices=_clean_choices(question) if question.answer_type == AnswerType.CHOICE else "",
        )
        for q, question in enumerate(offer.questions, start=1)
    )
    gig.starting_price, gig.delivery_days = cheapest_totals(offer)


def _clean_choices(question: QuestionInput) -> str:
    return "\n".join(line.strip() for line in question.choices.splitlines() if line.strip())


def packages_of(gig: Gig) -> GigPackagesInput:
    """What the gig holds, as the editor's input (to fill the "Edit gig" form)."""
    packages = GigPackage.objects.filter(gig=gig).prefetch_related("steps")
    return GigPackagesInput(
        packages=tuple(
            PackageInput(
                package.name,
                package.description,
                tuple(
                    StepInput(step.title, step.deliverables, step.days, step.price, step.revisions_included)
                    for step in package.steps.all()
                ),
            )
            for package in packages
        ),
        extras=tuple(
            ExtraInput(extra.title, extra.price, extra.days, extra.attach_to_step)
            for extra in GigExtra.objects.filter(gig=gig)
        ),
        questions=tuple(
            QuestionInput(question.question, question.answer_type, question.required, question.choices)
            for question in RequirementQuestion.objects.filter(gig=gig)
        ),
    )
