"""The gig editor's "Packages", "Extras" and "Requirements" sections (issue 35), driven as a
browser without JavaScript drives them: read the form off the page, change fields, press a
button, post what the form holds. "Add step" and "Add package" come back with one more blank row,
everything typed kept and nothing saved; bad input gets every error next to its field at once and
changes nothing."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from djmoney.money import Money

from gigs.models import Gig, GigExtra, GigPackage, PackageStep, RequirementQuestion
from tests.factories import GigFactory
from tests.forms import find_form

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def form_of(html: str, button: str) -> dict[str, str]:
    form = find_form(html, button=button)
    assert form is not None, f"no form with {button!r}"
    return dict(form.fields)


def press(client, url: str, html: str, button: str, *, value: str = "1", name: str = "", **changes: str):
    """Post the form on ``html`` as it stands, with ``changes``, by ``button`` (its ``name``)."""
    data = {**form_of(html, button), **changes}
    if name:
        data[name] = value
    return client.post(url, data)


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="id_{re.escape(name)}_error">([^<]*)</p>', html)
    return found.group(1) if found else ""


STEP = {
    "title": "Step title",
    "deliverables": "Deliverables",
    "days": "Days",
    "price": "Price",
    "revisions": "Revisions included",
}


def test_a_new_gig_starts_with_one_package_basic_of_one_step(client, seller):
    client.force_login(seller)
    html = text(client.get(reverse("gig_create")))
    for section in ("Packages", "Extras", "Requirements"):
        assert f">{section}</h2>" in html
    assert re.search(r'<label for="id_package-1-name">Package name', html)
    assert re.search(r'<label for="id_package-1-description">Package description', html)
    assert 'name="package-1-name" value="Basic"' in html
    assert html.count("<legend>Step ") == 1 and "<legend>Step 1</legend>" in html
    for name, label in STEP.items():
        assert re.search(rf'<label for="id_package-1-step-1-{name}">{label}', html), label
    assert 'name="package-1-step-1-revisions" value="1"' in html
    assert '<button type="submit" name="add_step" value="1"' in html and ">Add step</button>" in html
    assert '<button type="submit" name="add_package" value="1"' in html and ">Add package</button>" in html
    assert "Starting price" not in html and "Delivery days" not in html


def test_add_step_and_add_package_work_without_javascript_and_save_nothing(client, seller):
    client.force_login(seller)
    url = reverse("gig_create")
    html = text(client.get(url))
    typed = {
        "title": "I will build your app",
        "description": "From design to launch.",
        "package-1-name": "Starter",
        "package-1-step-1-title": "UI/UX design",
        "package-1-step-1-deliverables": "Figma screens.",
        "package-1-step-1-days": "5",
        "package-1-step-1-price": "200.00",
        "package-1-step-1-revisions": "2",
    }
    response = press(client, url, html, "Add step", name="add_step", **typed)
    assert response.status_code == 200
    html = text(response)
    assert "<legend>Step 2</legend>" in html and "field-error" not in html
    assert 'value="UI/UX design"' in html and 'value="Starter"' in html and "Figma screens.</textarea>" in html
    assert 'name="package-1-step-2-revisions" value="1"' in html
    # The cursor goes to the new step.
    assert re.search(r'<input type="text" name="package-1-step-2-title"[^>]* autofocus', html)
    response = press(
        client,
        url,
        html,
        "Add package",
        name="add_package",
        **{"package-1-step-2-title": "Backend development", "package-1-step-2-deliverables": "The API."},
    )
    html = text(response)
    assert response.status_code == 200 and '<h3 class="card-title" id="package-2-heading">Package 2</h3>' in html
    assert 'name="package-2-name" value="Standard"' in html and 'value="Backend development"' in html
    assert not Gig.objects.exists() and not GigPackage.objects.exists()

    response = press(
        client,
        url,
        html,
        "Publish gig",
        **{
            "package-1-step-2-days": "10",
            "package-1-step-2-price": "400",
            "package-2-step-1-title": "Everything",
            "package-2-step-1-deliverables": "The whole app.",
            "package-2-step-1-days": "20",
            "package-2-step-1-price": "550",
        },
    )
    assert response.status_code == 302, field_errors(text(response))
    gig = Gig.objects.get()
    assert list(gig.packages.values_list("position", "name")) == [(1, "Starter"), (2, "Standard")]
    assert list(
        PackageStep.objects.filter(package__gig=gig).values_list("package__position", "title", "days", "price")
    ) == [
        (1, "UI/UX design", 5, Decimal("200.00")),
        (1, "Backend development", 10, Decimal("400.00")),
        (2, "Everything", 20, Decimal("550.00")),
    ]
    # The cheaper package: Standard's 550 in 20 days against Starter's 600 in 15.
    assert (gig.starting_price, gig.delivery_days) == (Money("550.00", "USD"), 20)


def field_errors(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<p class="field-error" id="id_([\w-]+)_error">([^<]*)</p>', html)


@pytest.fixture
def gig(seller):
    from gigs.packages import ExtraInput, GigPackagesInput, PackageInput, QuestionInput, StepInput
    from gigs.services import gig_create

    return gig_create(
        seller=seller,
        title="I will build your app",
        description="From design to launch.",
        category="development",
        packages=GigPackagesInput(
            packages=(
                PackageInput("Basic", "One page.", (StepInput("Design", "Screens.", 3, Money("90.00", "USD"), 1),)),
                PackageInput(
                    "Standard",
                    "Four phases.",
                    (
                        StepInput("UI/UX design", "Screens.", 5, Money("200.00", "USD"), 2),
                        StepInput("Backend development", "The API.", 10, Money("400.00", "USD"), 1),
                    ),
                ),
            ),
            extras=(ExtraInput("Documentation", Money("30.00", "USD"), 2, 2),),
            questions=(QuestionInput("Which platform?", "choice", True, "iOS\nAndroid"),),
        ),
    )


def everything(gig: Gig) -> tuple:
    gig.refresh_from_db()
    return (
        gig.title,
        gig.starting_price,
        gig.delivery_days,
        list(GigPackage.objects.filter(gig=gig).values_list("position", "name", "description")),
        list(PackageStep.objects.filter(package__gig=gig).values_list("title", "days", "price", "revisions_included")),
        list(GigExtra.objects.filter(gig=gig).values_list("title", "price", "days", "attach_to_step")),
        list(RequirementQuestion.objects.filter(gig=gig).values_list("question", "answer_type", "required", "choices")),
    )


def test_the_edit_form_holds_the_packages_and_saves_them_back_unchanged(client, seller, gig):
    before = everything(gig)
    client.force_login(seller)
    url = reverse("gig_edit", args=[gig.pk])
    html = text(client.get(url))
    assert 'name="package-2-name" value="Standard"' in html and "<legend>Step 2</legend>" in html
    assert 'name="extra-1-title" value="Documentation"' in html
    assert '<option value="2" selected>Step 2</option>' in html and "Its own last step" in html
    assert 'name="question-1-question" value="Which platform?"' in html
    assert '<option value="choice" selected>Choice</option>' in html
    assert re.search(r'<input type="checkbox" name="question-1-required"[^>]* checked', html)
    for label in ("Extra title", "Extra price", "Extra days", "Question", "Answer type", "Required"):
        assert re.search(rf'<label for="id_(extra|question)-1-\w+">{label}', html), label
    response = press(client, url, html, "Save changes")
    assert response.status_code == 302, field_errors(text(response))
    assert everything(gig) == before


def test_a_step_left_blank_is_removed_and_the_price_follows(client, seller, gig):
    client.force_login(seller)
    url = reverse("gig_edit", args=[gig.pk])
    html = text(client.get(url))
    blank = {f"package-2-step-1-{name}": "" for name in ("title", "deliverables", "days", "price")}
    response = press(client, url, html, "Save changes", **blank, **{"package-1-step-1-price": "900"})
    assert response.status_code == 302, field_errors(text(response))
    assert list(PackageStep.objects.filter(package__position=2).values_list("position", "title")) == [
        (1, "Backend development")
    ]
    gig.refresh_from_db()
    assert (gig.starting_price, gig.delivery_days) == (Money("400.00", "USD"), 10)


def test_bad_input_gets_every_error_next_to_its_field_and_changes_nothing(client, seller, gig):
    before = everything(gig)
    client.force_login(seller)
    url = reverse("gig_edit", args=[gig.pk])
    html = text(client.get(url))
    response = press(
        client,
        url,
        html,
        "Save changes",
        **{
            "title": "",
            "package-1-name": "",
            "package-1-step-1-price": "4.99",
            "package-1-step-1-days": "0",
            "package-2-step-1-revisions": "21",
            "package-2-step-2-price": "ten",
            "question-1-choices": "",
            "extra-1-price": "1",
        },
    )
    assert response.status_code == 400
    errors = dict(field_errors(text(response)))
    assert set(errors) == {
        "title",
        "package-1-name",
        "package-1-step-1-price",
        "package-1-step-1-days",
        "package-2-step-1-revisions",
        "package-2-step-2-price",
        "question-1-choices",
        "extra-1-price",
    }, errors
    assert errors["package-1-step-1-price"] == "A step&#x27;s price is at least 5.00."
    assert errors["package-1-step-1-days"] == "A step takes between 1 and 365 days."
    assert errors["package-2-step-1-revisions"] == "Include between 0 and 20 revisions."
    assert errors["question-1-choices"] == "Give at least two choices, one per line."
    assert everything(gig) == before


def test_a_package_with_every_step_blank_is_told_it_needs_one(client, seller, gig):
    before = everything(gig)
    client.force_login(seller)
    url = reverse("gig_edit", args=[gig.pk])
    html = text(client.get(url))
    blank = {f"package-1-step-1-{name}": "" for name in ("title", "deliverables", "days", "price")}
    response = press(client, url, html, "Save changes", **blank)
    assert response.status_code == 400
    assert field_error(text(response), "package-1-step-1-title") == "A package needs at least one step."
    assert everything(gig) == before


def test_extras_and_questions_are_added_without_javascript(client, seller, gig):
    client.force_login(seller)
    url = reverse("gig_edit", args=[gig.pk])
    html = text(press(client, url, text(client.get(url)), "Add extra", name="add_extra"))
    assert 'name="extra-2-title"' in html
    html = text(press(client, url, html, "Add question", name="add_question", **{"extra-2-title": "Bonus graphics"}))
    assert 'name="question-2-question"' in html and 'value="Bonus graphics"' in html
    response = press(
        client,
        url,
        html,
        "Save changes",
        **{"extra-2-price": "20", "question-2-question": "Your logo", "question-2-answer_type": "file"},
    )
    assert response.status_code == 302, field_errors(text(response))
    assert list(GigExtra.objects.filter(gig=gig).values_list("title", "attach_to_step")) == [
        ("Documentation", 2),
        ("Bonus graphics", None),
    ]
    assert list(RequirementQuestion.objects.filter(gig=gig).values_list("question", "answer_type", "required")) == [
        ("Which platform?", "choice", True),
        ("Your logo", "file", True),
    ]


def test_the_buttons_stop_at_the_limits(client, seller):
    gig = GigFactory(seller=seller)
    client.force_login(seller)
    url = reverse("gig_edit", args=[gig.pk])
    html = text(client.get(url))
    for _ in range(2):
        html = text(press(client, url, html, "Add package", name="add_package"))
    assert 'name="package-3-name" value="Premium"' in html and ">Add package</button>" not in html
    for _ in range(5):
        html = text(press(client, url, html, "Add step", name="add_step", value="3"))
    assert "<legend>Step 6</legend>" in html and "A package has at most six steps." in html
    # A crafted seventh is not added.
    data = {**form_of(html, "Save changes"), "add_step": "3", "package-3-steps": "7"}
    assert 'id="package-3-step-7"' not in text(client.post(url, data))


def test_an_extra_or_a_question_left_empty_is_removed(client, seller, gig):
    client.force_login(seller)
    url = reverse("gig_edit", args=[gig.pk])
    html = text(client.get(url))
    empty = {"extra-1-title": "", "extra-1-price": "", "extra-1-days": "", "question-1-question": ""}
    response = press(client, url, html, "Save changes", **empty, **{"question-1-choices": ""})
    assert response.status_code == 302, field_errors(text(response))
    assert not GigExtra.objects.filter(gig=gig).exists() and not RequirementQuestion.objects.filter(gig=gig).exists()
