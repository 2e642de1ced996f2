"""Issue 34, items 12 and 13: the words a person reads on the order page, the
profile and the upload forms, each with the test that would have caught it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from milestones.models import Milestone, MilestoneState
from milestones.order_page import VERB_WORDS, activity_words
from milestones.services.disputes import dispute_resolve
from milestones.services.proposals import cancellation_request, extension_request
from tests.factories import OrderFactory, StaffFactory, milestone_in

pytestmark = pytest.mark.django_db
S = MilestoneState
ROOT = Path(__file__).resolve().parents[2]


def text(response) -> str:
    return response.content.decode()


def card_of(html: str, milestone: Milestone) -> str:
    start = html.index(f'id="milestone-{milestone.pk}"')
    return html[start : html.index("</article>", start)]


def words_of(html: str) -> str:
    """The page as read: tags out, spaces folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- 12a: the dispute box and the activity lines read as sentences ------------------------------


def test_dispute_open_opened_and_dispute_resolved_opened_read_as_sentences(client):
    order = OrderFactory()
    milestone = milestone_in(S.DISPUTED, order, title="Logo")
    client.force_login(order.seller)
    page = words_of(text(client.get(order.get_absolute_url())))
    assert "Dispute opened on “Logo”" in page
    assert f"Opened by {order.buyer.username}" in page
    assert "Dispute Open" not in page and "Open opened" not in page

    dispute_resolve(dispute=Milestone.objects.get(pk=milestone.pk).dispute, actor=StaffFactory(), outcome="refund")
    page = words_of(text(client.get(order.get_absolute_url())))
    assert "Dispute resolved: refunded to the buyer" in page
    assert "Dispute Resolved" not in page and "Resolved opened" not in page
    assert "resolved the dispute on “Logo”." in page, "the thread's line names the milestone"


def _logged_verbs() -> set[str]:
    """Every activity verb the code writes: the literal ones and those made from a proposal's kind."""
    verbs: set[str] = set()
    sources = [*(ROOT / "milestones" / "services").glob("*.py"), ROOT / "orders" / "services.py"]
    for source in sources:
        code = source.read_text()
        verbs.update(re.findall(r'\blog\(\s*milestone,\s*[\w.]+,\s*"(\w+)"', code))
        verbs.update(re.findall(r'\bverb="(\w+)"', code))
        for pair in re.findall(r'log\(milestone, actor, "(\w+)" if \w+ else "(\w+)"\)', code):
            verbs.update(pair)
        for suffix in re.findall(r'f"\{proposal\.kind\}_(\w+)"', code):
            verbs.update(f"{kind}_{suffix}" for kind in ("extension", "cancellation", "changes"))
    return verbs


def test_every_kind_of_activity_line_reads_as_a_sentence():
    logged = _logged_verbs()
    assert {"disputed", "resolved", "submitted", "payment_expired", "flagged_late"} <= logged
    missing = logged - set(VERB_WORDS)
    assert not missing, f"activity with no words, shown as its code name: {sorted(missing)}"
    for verb, words in VERB_WORDS.items():
        line = activity_words(verb, "Logo")
        assert "_" not in line and line.endswith("."), line
        assert "“”" not in line and "Open" not in line and "Resolved" not in line, line
        if "{title}" in words:
            assert "“Logo”" in line, line
    assert activity_words("submitted", "Logo") == "submitted “Logo” for review."
    assert activity_words("payment_expired", "Logo") == "closed “Logo” unpaid: its checkout expired."
    assert activity_words("something_new", "Logo") == "something new “Logo”."


def test_the_thread_names_the_milestone_inside_the_sentence(client):
    order = OrderFactory()
    milestone_in(S.APPROVED, order, title="Logo")
    client.force_login(order.buyer)
    page = words_of(text(client.get(order.get_absolute_url())))
    assert "submitted “Logo” for review." in page
    assert "approved “Logo”." in page
    assert "submitted for review “Logo”" not in page


# --- 12b: an answer names what was answered --------------------------------------------------------


def test_you_accepted_the_request_names_the_request(client):
    order = OrderFactory()
    milestone = milestone_in(S.IN_PROGRESS, order, title="Logo")
    proposal = extension_request(
        milestone=milestone,
        actor=order.seller,
        new_deadline=milestone.deadline + timedelta(days=3),
        reason="The assets came late.",
    )
    client.force_login(order.buyer)
    page = text(client.post(reverse("proposal_accept", args=[proposal.pk]), follow=True))
    assert "You accepted the later deadline on “Logo”." in page
    assert "the request on" not in page


def test_declining_and_withdrawing_a_cancellation_name_it(client):
    order = OrderFactory()
    milestone = milestone_in(S.IN_PROGRESS, order, title="Logo")
    asked = cancellation_request(milestone=milestone, actor=order.buyer, refund=None, reason="Plans changed.")
    client.force_login(order.buyer)
    page = text(client.post(reverse("proposal_withdraw", args=[asked.pk]), follow=True))
    assert "You withdrew your request for the cancellation of “Logo”." in page

    asked = cancellation_request(
        milestone=Milestone.objects.get(pk=milestone.pk), actor=order.buyer, refund=None, reason="Plans changed."
    )
    client.force_login(order.seller)
    page = text(client.post(reverse("proposal_decline", args=[asked.pk]), follow=True))
    assert "You declined the cancellation of “Logo”; the terms stay." in page


# --- 12c: a closed milestone's card says what happened, not "DEADLINE deadline" --------------------


def test_deadline_deadline_after_approval_becomes_approved_on_the_date(client):
    order = OrderFactory()
    milestone = milestone_in(S.APPROVED, order, title="Logo")
    client.force_login(order.buyer)
    card = card_of(text(client.get(order.get_absolute_url())), milestone)
    assert "<dt>Approved</dt>" in card
    closed = timezone.localtime(Milestone.objects.get(pk=milestone.pk).closed_at)
    assert closed.strftime("%-d %b %Y") in words_of(card)
    assert "<dt>Deadline</dt>" not in card
    assert "deadline ·" not in card.lower()


@pytest.mark.parametrize(
    ("state", "label"), [(S.CANCELLED, "Cancelled"), (S.DECLINED, "Declined"), (S.RESOLVED, "Resolved by staff")]
)
def test_every_closed_milestone_card_says_how_it_closed(client, state, label):
    order = OrderFactory()
    milestone = milestone_in(state, order)
    client.force_login(order.seller)
    card = card_of(text(client.get(order.get_absolute_url())), milestone)
    assert f"<dt>{label}</dt>" in card and "<dt>Deadline</dt>" not in card


def test_an_open_milestone_keeps_its_deadline(client):
    order = OrderFactory()
    milestone = milestone_in(S.IN_PROGRESS, order)
    client.force_login(order.buyer)
    card = card_of(text(client.get(order.get_absolute_url())), milestone)
    assert "<dt>Deadline</dt>" in card and "due in" in card


# --- 12d: the buyer reads buyer's words about the money ---------------------------------------------


def test_the_buyer_does_not_see_the_sellers_clearance(client):
    order = OrderFactory()
    milestone = milestone_in(S.APPROVED, order, title="Logo")
    client.force_login(order.buyer)
    card = words_of(card_of(text(client.get(order.get_absolute_url())), milestone))
    assert "Payment released to the seller on" in card
    assert "clears on" not in card and "available" not in card

    client.force_login(order.seller)
    card = words_of(card_of(text(client.get(order.get_absolute_url())), milestone))
    assert "Payment clears on" in card
    assert "released to the seller" not in card


# --- 13e: an upload's help lists the types and the size the checks apply ----------------------------


def _help(html: str, field: str) -> str:
    found = re.search(rf'<div class="field-help" id="id_{field}_helptext">([^<]*)</div>', html)
    return found.group(1) if found else ""


def test_the_same_types_and_sizes_as_deliverables_becomes_the_list(client, settings):
    settings.DELIVERABLE_ALLOWED_EXTENSIONS = ["pdf", "txt", "PNG"]
    settings.DELIVERABLE_MAX_FILE_SIZE = 3 * 1024 * 1024
    order = OrderFactory()
    milestone = milestone_in(S.IN_PROGRESS, order, title="Logo")
    client.force_login(order.buyer)
    page = text(client.get(order.get_absolute_url()))
    assert "same types" not in page
    assert _help(page, "attachment") == "Up to 5 files, 3 MB each. Accepted: pdf, txt, png."

    client.force_login(order.seller)
    submit_page = text(client.get(reverse("milestone_submit", args=[milestone.pk])))
    assert f"Up to {settings.DELIVERABLE_MAX_FILES} files, 3 MB each. Accepted: pdf, txt, png." in submit_page
    dispute_page = text(client.get(reverse("milestone_dispute", args=[milestone.pk])))
    assert (
        _help(dispute_page, "attachment")
        == "Evidence such as a screenshot. One file, 3 MB at most. Accepted: pdf, txt, png."
    )


def test_the_listed_types_are_the_ones_the_check_lets_through(client, settings):
    """The list in the help is the list the check applies: a type not in it is refused, naming the same list."""
    settings.DELIVERABLE_ALLOWED_EXTENSIONS = ["pdf", "txt"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    from milestones.models import DisputeStatement

    order = OrderFactory()
    milestone = milestone_in(S.IN_PROGRESS, order, title="Logo")
    client.force_login(order.buyer)
    response = client.post(
        reverse("milestone_dispute", args=[milestone.pk]),
        {"reason": "Nothing delivered", "attachment": SimpleUploadedFile("shot.gif", b"GIF89a")},
    )
    page = text(response)
    assert "Accepted: pdf, txt." in _help(page, "attachment")
    assert "Accepted: pdf, txt." in re.search(r'id="id_attachment_error">([^<]*)<', page).group(1)
    assert not DisputeStatement.objects.exists() and Milestone.objects.get(pk=milestone.pk).state == S.IN_PROGRESS


# --- 13f: the password the payout change needs is not "(optional)" ---------------------------------

PASSWORD = "correct-horse-battery"


def test_current_password_optional_is_labelled_as_required_for_payout_changes(client):
    from tests.factories import UserFactory

    user = UserFactory(withdrawal_method="paypal", payout_account="sam@paypal.example")
    client.force_login(user)
    page = text(client.get(reverse("profile")))
    label = re.search(r'<label for="id_current_password">(.*?)</label>', page, re.S).group(1)
    assert label.strip() == "Current password"
    assert "optional" not in label
    assert _help(page, "current_password").startswith("Required to change your withdrawal method or payout account")

    # Changing the payout details without it: a clear error next to the field, and nothing changes.
    data = {"bio": "", "withdrawal_method": "bank_transfer", "payout_account": "GB82WEST12345698765432"}
    page = text(client.post(reverse("profile"), data))
    error = re.search(r'id="id_current_password_error">([^<]*)<', page)
    assert error and error.group(1) == "Enter your current password to change how or where you are paid."
    user.refresh_from_db()
    assert (user.withdrawal_method, user.payout_account) == ("paypal", "sam@paypal.example")

    # The rest of the profile saves without it.
    kept = {"bio": "I draw.", "withdrawal_method": "paypal", "payout_account": "sam@paypal.example"}
    assert client.post(reverse("profile"), kept).status_code == 302
    user.refresh_from_db()
    assert user.bio == "I draw." and user.withdrawal_method == "paypal"

    # With it, the change is made.
    assert client.post(reverse("profile"), {**data, "current_password": PASSWORD}).status_code == 302
    user.refresh_from_db()
    assert user.withdrawal_method == "bank_transfer" and user.payout_account.endswith("5432")


# --- 13g: the time-zone list: canonical zones by region, the browser's guess first ------------------


def _select(html: str) -> str:
    return re.search(r'<select name="time_zone".*?</select>', html, re.S).group(0)


def _offered(select: str) -> set[str]:
    return set(re.findall(r'<option value="([^"]+)"', select))


def _selected(select: str) -> list[str]:
    return re.findall(r'<option value="([^"]+)"[^>]*\bselected\b', select)


def test_the_time_zone_list_of_600_raw_names_with_aliases_becomes_canonical_zones_by_region(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    select = _select(text(client.get(reverse("profile"))))
    offered = _offered(select)
    for alias in ("Africa/Asmera", "Asia/Calcutta", "GB-Eire", "US/Pacific", "Etc/GMT+3", "Etc/UTC", "Zulu", "EST"):
        assert alias not in offered, alias
    assert {"Africa/Asmara", "Asia/Kolkata", "America/Los_Angeles", "Europe/Oslo", "UTC"} <= offered
    assert 350 < len(offered) < 480, len(offered)

    groups = re.findall(r'<optgroup label="([^"]+)">', select)
    assert [g for g in groups if g != "Arctic"] == [
        "Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific", "UTC",
    ]  # fmt: skip
    europe = re.search(r'<optgroup label="Europe">(.*?)</optgroup>', select, re.S).group(1)
    assert '<option value="Europe/London">London</option>' in europe
    assert _selected(select) == ["UTC"]
    assert "data-guess-zone" in select and 'data-zone-chosen="false"' in select


def test_an_existing_user_with_an_alias_keeps_working(client):
    from accounts.models import User
    from tests.factories import UserFactory

    user = UserFactory(time_zone="GB-Eire")
    User.objects.filter(pk=user.pk).update(time_zone_chosen_at=timezone.now())
    client.force_login(user)
    page = text(client.get(reverse("profile")))
    assert _selected(_select(page)) == ["Europe/London"], "the alias selects the zone it stands for"
    assert 'data-zone-chosen="true"' in page
    # Times still read in it, and saving the profile as shown keeps the same clock under its canonical name.
    order = OrderFactory(buyer=user)
    assert client.get(order.get_absolute_url()).status_code == 200
    form = {"bio": "", "withdrawal_method": user.withdrawal_method, "payout_account": user.payout_account}
    assert client.post(reverse("profile"), {**form, "time_zone": "Europe/London"}).status_code == 302
    assert User.objects.get(pk=user.pk).time_zone == "Europe/London"

    # An old client posting the alias itself is not refused either.
    assert client.post(reverse("profile"), {**form, "time_zone": "US/Pacific"}).status_code == 302
    assert User.objects.get(pk=user.pk).time_zone == "America/Los_Angeles"

    # A saved zone that stands for none of the list is shown first, as it is, and kept on saving.
    User.objects.filter(pk=user.pk).update(time_zone="Etc/GMT+3")
    page = text(client.get(reverse("profile")))
    select = _select(page)
    assert select.index('<optgroup label="Your saved zone">') < select.index('<optgroup label="Africa">')
    assert _selected(select) == ["Etc/GMT+3"]
    assert client.post(reverse("profile"), {**form, "time_zone": "Etc/GMT+3"}).status_code == 302
    assert User.objects.get(pk=user.pk).time_zone == "Etc/GMT+3"


def test_a_zone_not_in_the_database_is_refused_and_nothing_changes(client):
    from accounts.models import User
    from tests.factories import UserFactory

    user = UserFactory(time_zone="Asia/Tokyo")
    client.force_login(user)
    form = {"bio": "Changed", "withdrawal_method": user.withdrawal_method, "payout_account": user.payout_account}
    page = text(client.post(reverse("profile"), {**form, "time_zone": "Mars/Olympus"}))
    assert re.search(r'id="id_time_zone_error">[^<]*valid choice', page)
    assert User.objects.values_list("time_zone", "bio").get(pk=user.pk) == ("Asia/Tokyo", "")


def test_choosing_a_zone_on_the_profile_stops_the_browsers_guess_from_preselecting(client):
    from accounts.models import User
    from tests.factories import UserFactory

    user = UserFactory()
    client.force_login(user)
    form = {"bio": "", "withdrawal_method": user.withdrawal_method, "payout_account": user.payout_account}
    # An old client that sends no zone has not chosen one.
    assert client.post(reverse("profile"), form).status_code == 302
    assert User.objects.get(pk=user.pk).time_zone_chosen_at is None
    assert client.post(reverse("profile"), {**form, "time_zone": "UTC"}).status_code == 302
    assert User.objects.get(pk=user.pk).time_zone_chosen_at is not None
    assert 'data-zone-chosen="true"' in text(client.get(reverse("profile")))


def test_the_browsers_guess_is_read_by_the_sites_own_script_with_the_aliases_on_the_page(client):
    """No inline script (the CSP allows 'self' only): app.js reads the guess; the page carries the
    aliases as JSON data, which is not run."""
    import json

    from tests.factories import UserFactory

    client.force_login(UserFactory())
    page = text(client.get(reverse("profile")))
    data = re.search(r'<script id="zone-aliases" type="application/json">(.*?)</script>', page, re.S).group(1)
    aliases = json.loads(data)
    assert aliases["Asia/Calcutta"] == "Asia/Kolkata" and aliases["GB-Eire"] == "Europe/London"
    assert re.findall(r"<script(?![^>]*application/json)[^>]*>", page) == re.findall(
        r'<script[^>]*\bsrc="[^"]+"[^>]*>', page
    ), "every script that runs is a file"
    script = (ROOT / "static" / "js" / "app.js").read_text()
    assert "select[data-guess-zone]" in script and "resolvedOptions().timeZone" in script


def test_sign_up_stores_a_browsers_alias_under_its_canonical_name(client):
    from accounts.models import User

    password = "a-Long-and-unusual-passphrase-42"
    response = client.post(
        reverse("signup"),
        {
            "username": "priya",
            "email": "priya@example.com",
            "password1": password,
            "password2": password,
            "time_zone": "Asia/Calcutta",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="priya").time_zone == "Asia/Kolkata"


def test_after_a_split_the_buyer_reads_the_part_released_to_the_seller(client):
    from decimal import Decimal

    from milestones.services.disputes import milestone_open_dispute

    order = OrderFactory()
    milestone = milestone_in(S.IN_PROGRESS, order, title="Logo")
    dispute = milestone_open_dispute(milestone=milestone, actor=order.buyer, reason="Half done.")
    dispute_resolve(dispute=dispute, actor=StaffFactory(), outcome="split", seller_percent=Decimal("40"))
    client.force_login(order.buyer)
    card = words_of(card_of(text(client.get(order.get_absolute_url())), milestone))
    assert "Payment 40.00 USD released to the seller on" in card
    assert "Dispute resolved: split between the buyer and the seller" in card
    assert "clears on" not in card


def test_the_migration_counts_a_zone_other_than_utc_as_chosen():
    """Existing users: one whose zone is not the default UTC got it from the browser or chose it, and
    the profile must not offer to move them; one on UTC is offered the browser's zone."""
    import importlib

    from django.apps import apps

    from accounts.models import User
    from tests.factories import UserFactory

    berlin, utc = UserFactory(time_zone="Europe/Berlin"), UserFactory(time_zone="UTC")
    importlib.import_module("accounts.migrations.0009_time_zone_chosen_at").mark_chosen(apps, None)
    chosen = dict(User.objects.filter(pk__in=[berlin.pk, utc.pk]).values_list("pk", "time_zone_chosen_at"))
    assert chosen[berlin.pk] is not None and chosen[utc.pk] is None
