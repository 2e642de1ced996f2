"""The pages of offers and changes, driven by their labels: "Propose a
milestone" / "Send offer", "Accept and pay" (a confirmation page with "Pay
with" and "Confirm") / "Decline offer" / "Withdraw offer", "Propose changes"
/ "Send proposal", "Accept changes" / "Decline changes", and "Send a custom
offer" from the gig page. A GET never charges; bad input is a field error
and changes nothing; an outsider gets 404."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from djmoney.money import Money

from marketplace.money import format_money
from milestones.actions import changes_consequence, offer_consequence
from milestones.models import Milestone, MilestoneState, Proposal, ProposalState
from milestones.services.changes import changes_request
from milestones.services.lifecycle import milestone_cancel
from notifications.models import Notification
from orders.models import Order
from payments.models import AccountKind, Checkout, Transaction
from sandbox.models import SandboxOperation
from tests.factories import BALANCE, GigFactory, OrderFactory, UserFactory, create_milestone, create_offer
from tests.services.ledger_checks import balance

S = MilestoneState
P = ProposalState
pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def buttons(html: str) -> list[str]:
    return re.findall(r'<button type="submit" class="btn[^"]*">([^<]+)</button>', html)


def field_error(html: str, field: str) -> str | None:
    found = re.search(rf'<p class="field-error" id="id_{field}_error">([^<]*)</p>', html)
    return found.group(1) if found else None


def state_of(milestone: Milestone) -> str:
    return Milestone.objects.values_list("state", flat=True).get(pk=milestone.pk)


def future(days: int = 5) -> str:
    return (timezone.localtime() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def offer_terms(**overrides) -> dict:
    return {
        "title": "SEO audit",
        "description": "An audit of every page, with a list of fixes.",
        "deadline": future(14),
        "amount": "100.00",
        **overrides,
    }


def token_of(html: str) -> str:
    found = re.search(r'name="token" value="([0-9a-f]+)"', html)
    assert found, "the form carries its one-use key"
    return found.group(1)


def give_balance(buyer, amount: str = "1000.00") -> None:
    """A milestone on another order, paid by card and cancelled: its amount and fee are in the balance."""
    milestone_cancel(milestone=create_milestone(OrderFactory(buyer=buyer), amount=amount), actor=buyer)


def money_moved() -> tuple[int, int, int]:
    return Transaction.objects.count(), SandboxOperation.objects.count(), Checkout.objects.count()


def order_page(client, user, order) -> str:
    client.force_login(user)
    return text(client.get(reverse("order_detail", args=[order.pk])))


# --- "Propose a milestone" ----------------------------------------------------------------------


def test_the_seller_sees_propose_a_milestone_and_the_buyer_does_not(client, order):
    seller_page = order_page(client, order.seller, order)
    assert "Propose a milestone" in buttons(seller_page)
    assert f'action="{reverse("offer_new", args=[order.pk])}"' in seller_page
    buyer_page = order_page(client, order.buyer, order)
    assert "Propose a milestone" not in buttons(buyer_page)
    assert reverse("offer_new", args=[order.pk]) not in buyer_page


def test_the_offer_form_has_its_fields_and_is_not_for_the_buyer(client, order):
    client.force_login(order.seller)
    html = text(client.get(reverse("offer_new", args=[order.pk])))
    for label in ("Title", "Description", "Deadline", "Amount"):
        assert f">{label}" in html
    assert 'type="datetime-local"' in html and "Send offer" in buttons(html)
    client.force_login(order.buyer)
    refused = client.post(reverse("offer_new", args=[order.pk]), offer_terms(token=uuid.uuid4().hex), follow=True)
    assert "Only the seller of an open order can offer a milestone." in text(refused)
    assert not Milestone.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "This field is required."),
        ("description", "   ", "This field is required."),
        ("deadline", "2020-01-01T10:00", "The deadline must be in the future."),
        ("deadline", "next week", "Enter a valid date/time."),
        ("amount", "1.00", "The amount must be between"),
        ("amount", "100000.01", "The amount must be between"),
        ("amount", "10.001", "Use at most two decimal places."),
        ("amount", "ten", "Enter the amount as a number, e.g. 20 or 19.99."),
    ],
)
def test_bad_offer_input_is_a_field_error_and_nothing_is_created(client, order, field, value, message):
    client.force_login(order.seller)
    url = reverse("offer_new", args=[order.pk])
    token = token_of(text(client.get(url)))
    response = client.post(url, offer_terms(token=token, **{field: value}))
    assert response.status_code == 400
    error = field_error(text(response), field)
    assert error is not None and message in error, text(response)[-2000:]
    assert not Milestone.objects.exists() and not Notification.objects.filter(event="offer_received").exists()


def test_send_offer_creates_it_once_and_the_buyer_sees_it_as_an_offer(client, order, audit):
    client.force_login(order.seller)
    url = reverse("offer_new", args=[order.pk])
    token = token_of(text(client.get(url)))
    response = client.post(url, offer_terms(token=token))
    made = Milestone.objects.get()
    assert response.status_code == 302 and response["Location"] == made.get_absolute_url()
    assert made.state == S.OFFERED and made.amount == Money("100.00", "USD")
    assert not Transaction.objects.exists()
    again = client.post(url, offer_terms(token=token), follow=True)
    assert "This offer was already sent." in text(again)
    assert Milestone.objects.count() == 1

    buyer_page = order_page(client, order.buyer, order)
    assert f'id="milestone-{made.pk}" data-milestone-state="offered"' in buyer_page
    assert "Accept and pay" in buttons(buyer_page) and "Decline offer" in buttons(buyer_page)
    assert "Withdraw offer" not in buttons(buyer_page)
    assert f'action="{reverse("offer_accept", args=[made.pk])}"' in buyer_page
    seller_page = order_page(client, order.seller, order)
    assert "Withdraw offer" in buttons(seller_page)
    assert "Accept and pay" not in buttons(seller_page) and "Decline offer" not in buttons(seller_page)
    audit()


# --- "Accept and pay" ---------------------------------------------------------------------------


def test_the_accept_offer_page_says_what_is_charged_and_charges_nothing(client, order):
    made = create_offer(order, amount="100.00")
    client.force_login(order.buyer)
    before = money_moved()
    response = client.get(reverse("offer_accept", args=[made.pk]))
    assert response.status_code == 200
    html = text(response)
    consequence = offer_consequence(made)
    assert format_money(Money("105.50", "USD")) in consequence
    assert escape(consequence) in html
    assert "Pay with" in html and "Confirm" in buttons(html)
    assert money_moved() == before and state_of(made) == S.OFFERED


def test_confirm_with_the_balance_pays_the_offer_and_it_starts(client, order, audit):
    give_balance(order.buyer, "200.00")  # 211.00
    made = create_offer(order, amount="100.00")
    client.force_login(order.buyer)
    url = reverse("offer_accept", args=[made.pk])
    assert 'value="balance"' in text(client.get(url)), "the balance covers it, so it is offered"
    response = client.post(url, {"method": "balance"})
    assert response.status_code == 302 and response["Location"] == made.get_absolute_url()
    assert state_of(made) == S.IN_PROGRESS
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == Money("105.50", "USD")
    assert balance(AccountKind.ESCROW, milestone=made) == Money("100.00", "USD")
    again = client.post(url, {"method": "balance"}, follow=True)
    assert "there is no offer for you to accept" in text(again)
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == Money("105.50", "USD")
    audit()


def test_confirm_by_card_goes_to_the_sandbox_checkout_and_the_paid_offer_starts(client, order, audit):
    made = create_offer(order, amount="100.00")
    client.force_login(order.buyer)
    response = client.post(reverse("offer_accept", args=[made.pk]), {"method": "card"})
    checkout_url = response["Location"]
    assert checkout_url.startswith("/sandbox/checkout/cs_sandbox_")
    assert state_of(made) == S.AWAITING_PAYMENT and not Transaction.objects.exists()
    back = client.post(checkout_url, {"card_number": "4242 4242 4242 4242"})["Location"]
    assert back.startswith(f"http://testserver{reverse('milestone_checkout_return', args=[made.pk])}?session_id=")
    client.get(back)
    assert state_of(made) == S.IN_PROGRESS
    assert SandboxOperation.objects.filter(kind="charge", succeeded=True).count() == 1
    audit()


def test_a_balance_that_does_not_cover_the_offer_offers_only_the_card(client, order):
    made = create_offer(order, amount="100.00")
    client.force_login(order.buyer)
    url = reverse("offer_accept", args=[made.pk])
    html = text(client.get(url))
    assert 'value="card"' in html and 'value="balance"' not in html
    response = client.post(url, {"method": "balance"})
    assert field_error(text(response), "method") is not None
    assert state_of(made) == S.OFFERED and not Transaction.objects.exists()


def test_the_seller_cannot_accept_their_own_offer(client, order):
    made = create_offer(order)
    client.force_login(order.seller)
    response = client.post(reverse("offer_accept", args=[made.pk]), {"method": "card"}, follow=True)
    assert "there is no offer for you to accept" in text(response)
    assert state_of(made) == S.OFFERED and money_moved() == (0, 0, 0)


def test_decline_offer_asks_for_an_optional_reason_and_charges_nothing(client, order, audit):
    made = create_offer(order)
    client.force_login(order.buyer)
    url = reverse("offer_decline", args=[made.pk])
    form = text(client.get(url))
    assert ">Reason" in form and "Decline offer" in buttons(form)
    assert state_of(made) == S.OFFERED
    bad = client.post(url, {"reason": "x" * 2001})
    assert field_error(text(bad), "reason") is not None and state_of(made) == S.OFFERED
    response = client.post(url, {"reason": "Not this quarter"})
    assert response.status_code == 302
    assert state_of(made) == S.OFFER_DECLINED and not Transaction.objects.exists()
    assert Notification.objects.filter(recipient=order.seller, event="offer_declined").exists()
    audit()


def test_the_seller_withdraws_an_offer(client, order):
    made = create_offer(order)
    client.force_login(order.seller)
    response = client.post(reverse("offer_withdraw", args=[made.pk]))
    assert response.status_code == 302 and state_of(made) == S.CANCELLED
    client.force_login(order.buyer)
    assert "there is no offer for you to accept" in text(
        client.get(reverse("offer_accept", args=[made.pk]), follow=True)
    )


# --- "Propose changes" ----------------------------------------------------------------------


def test_propose_changes_is_prefilled_with_the_current_terms(client, order):
    milestone = create_milestone(order, amount="100.00")
    seller_page = order_page(client, order.seller, order)
    assert "Propose changes" in buttons(seller_page)
    assert "Propose changes" not in buttons(order_page(client, order.buyer, order))
    client.force_login(order.seller)
    html = text(client.get(reverse("milestone_changes", args=[milestone.pk])))
    for label in ("Deadline", "Amount", "Description"):
        assert f">{label}" in html
    deadline = timezone.localtime(milestone.deadline).strftime("%Y-%m-%dT%H:%M")
    assert re.search(rf'name="deadline" value="{deadline}"', html), html
    assert re.search(r'name="amount" value="100.00?"', html), html
    assert f">\n{escape(milestone.description)}</textarea>" in html or f">{escape(milestone.description)}<" in html
    assert "Send proposal" in buttons(html)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "1.00", "The amount must be between"),
        ("amount", "10.001", "Use at most two decimal places."),
        ("amount", "ten", "Enter the amount as a number, e.g. 20 or 19.99."),
        ("deadline", "2020-01-01T10:00", "The deadline must be in the future."),
        ("deadline", "", "This field is required."),
        ("description", "  ", "This field is required."),
        ("amount", "100.00", "Change at least one of the deadline, the amount or the description."),
    ],
)
def test_bad_changes_are_field_errors_and_change_nothing(client, order, field, value, message):
    milestone = create_milestone(order, amount="100.00")
    client.force_login(order.seller)
    url = reverse("milestone_changes", args=[milestone.pk])
    data = {
        "deadline": timezone.localtime(milestone.deadline).strftime("%Y-%m-%dT%H:%M"),
        "amount": "150.00",
        "description": milestone.description,
        field: value,
    }
    if message.startswith("Change at least one"):
        # The form's minutes: keep the deadline exactly as it is.
        data["deadline"] = timezone.localtime(milestone.deadline).strftime("%Y-%m-%dT%H:%M:%S.%f")
    response = client.post(url, data)
    assert response.status_code in (200, 400)
    error = field_error(text(response), field)
    assert error is not None and message in error, text(response)[-2000:]
    assert not Proposal.objects.exists()
    assert Milestone.objects.get(pk=milestone.pk).amount == Money("100.00", "USD")


def propose_higher(client, milestone, amount: str = "150.00") -> Proposal:
    client.force_login(milestone.order.seller)
    response = client.post(
        reverse("milestone_changes", args=[milestone.pk]),
        {
            "deadline": timezone.localtime(milestone.deadline + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "amount": amount,
            "description": milestone.description,
        },
    )
    assert response.status_code == 302, text(response)
    return Proposal.objects.get(milestone=milestone, state=P.PENDING)


def test_the_buyer_sees_the_changes_with_accept_and_decline_and_the_seller_may_withdraw(client, order):
    milestone = create_milestone(order, amount="100.00")
    proposal = propose_higher(client, milestone)
    buyer_page = order_page(client, order.buyer, order)
    assert f'id="proposal-{proposal.pk}" data-proposal-kind="changes"' in buyer_page
    assert "Accept changes" in buttons(buyer_page) and "Decline changes" in buttons(buyer_page)
    seller_page = order_page(client, order.seller, order)
    assert "Withdraw request" in buttons(seller_page) and "Accept changes" not in buttons(seller_page)
    assert "Propose changes" not in buttons(seller_page), "one proposal at a time"
    response = client.post(reverse("proposal_withdraw", args=[proposal.pk]))
    assert response.status_code == 302
    assert Proposal.objects.get(pk=proposal.pk).state == P.WITHDRAWN


def test_accept_changes_shows_what_is_charged_and_charges_nothing_then_confirm_applies(client, order, audit):
    milestone = create_milestone(order, amount="100.00")
    give_balance(order.buyer, "200.00")
    proposal = propose_higher(client, milestone)
    client.force_login(order.buyer)
    url = reverse("proposal_accept", args=[proposal.pk])
    before = money_moved()
    page = client.get(url)
    assert page.status_code == 200
    html = text(page)
    consequence = changes_consequence(milestone, proposal)
    assert format_money(Money("52.75", "USD")) in consequence and escape(consequence) in html
    assert "Pay with" in html and "Confirm" in buttons(html)
    assert money_moved() == before and Proposal.objects.get(pk=proposal.pk).state == P.PENDING

    response = client.post(url, {"method": "balance"})
    assert response.status_code == 302
    milestone.refresh_from_db()
    assert Proposal.objects.get(pk=proposal.pk).state == P.ACCEPTED
    assert milestone.amount == Money("150.00", "USD") and milestone.buyer_fee == Money("8.25", "USD")
    assert balance(AccountKind.ESCROW, milestone=milestone) == Money("150.00", "USD")
    again = client.post(url, {"method": "balance"}, follow=True)
    assert "nothing was changed" in text(again)
    assert balance(AccountKind.ESCROW, milestone=milestone) == Money("150.00", "USD")
    audit()


def test_accept_changes_by_card_goes_to_the_sandbox_and_applies_when_paid(client, order, audit):
    milestone = create_milestone(order, amount="100.00")
    proposal = propose_higher(client, milestone)
    client.force_login(order.buyer)
    response = client.post(reverse("proposal_accept", args=[proposal.pk]), {"method": "card"})
    checkout_url = response["Location"]
    assert checkout_url.startswith("/sandbox/checkout/cs_sandbox_")
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING
    back = client.post(checkout_url, {"card_number": "4242 4242 4242 4242"})["Location"]
    assert reverse("changes_checkout_return", args=[proposal.pk]) in back
    landed = client.get(back, follow=True)
    assert "You accepted the changes" in text(landed)
    milestone.refresh_from_db()
    assert Proposal.objects.get(pk=proposal.pk).state == P.ACCEPTED
    assert milestone.amount == Money("150.00", "USD")
    audit()


def test_accepting_a_lower_amount_says_where_the_refund_goes(client, order, audit):
    milestone = create_milestone(order, amount="100.00")
    proposal = propose_higher(client, milestone, amount="60.00")
    client.force_login(order.buyer)
    url = reverse("proposal_accept", args=[proposal.pk])
    html = text(client.get(url))
    assert f"{format_money(Money('42.20', 'USD'))} comes back to your balance now" in html
    assert "Pay with" not in html and "Confirm" in buttons(html)
    assert not Proposal.objects.filter(state=P.ACCEPTED).exists()
    assert client.post(url, {}).status_code == 302
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == Money("42.20", "USD")
    audit()


def test_the_confirmation_says_the_balance_when_a_card_refund_is_impossible(client, order):
    """A buyer who prefers refunds to the card, on a milestone paid from the
    balance: the money can only go back to the balance, and the page says so."""
    order.buyer.refund_to = "card"
    order.buyer.save(update_fields=["refund_to"])
    give_balance(order.buyer, "200.00")
    milestone = create_milestone(order, amount="100.00", source=BALANCE)
    proposal = propose_higher(client, milestone, amount="60.00")
    client.force_login(order.buyer)
    html = text(client.get(reverse("proposal_accept", args=[proposal.pk])))
    assert f"{format_money(Money('42.20', 'USD'))} comes back to your balance now" in html, re.findall(
        r"comes back to [^(]*", html
    )


def test_decline_changes_keeps_the_terms(client, order):
    milestone = create_milestone(order, amount="100.00")
    proposal = propose_higher(client, milestone)
    client.force_login(order.buyer)
    assert client.post(reverse("proposal_decline", args=[proposal.pk])).status_code == 302
    assert Proposal.objects.get(pk=proposal.pk).state == P.DECLINED
    assert Milestone.objects.get(pk=milestone.pk).amount == Money("100.00", "USD")
    seller_page = order_page(client, order.seller, order)
    assert "Accept" in buttons(seller_page) and "Propose changes" in buttons(seller_page)


# --- outsiders ----------------------------------------------------------------------------------


def test_an_outsider_gets_404_on_every_offer_and_changes_url(client, order, outsider):
    made = create_offer(order)
    milestone = create_milestone(order)
    proposal = changes_request(
        milestone=milestone,
        actor=order.seller,
        new_deadline=None,
        new_amount=Money("150.00", "USD"),
        new_description="",
    )
    gig = order.gig
    before = (money_moved(), list(Milestone.objects.values_list("pk", "state")), Order.objects.count())
    client.force_login(outsider)
    both = [
        reverse("offer_new", args=[order.pk]),
        reverse("offer_accept", args=[made.pk]),
        reverse("offer_decline", args=[made.pk]),
        reverse("milestone_changes", args=[milestone.pk]),
        reverse("proposal_accept", args=[proposal.pk]),
        reverse("custom_offer_new", args=[gig.pk]),
    ]
    for url in both:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"method": "balance", **offer_terms(token=uuid.uuid4().hex)}).status_code == 404, url
    assert client.get(reverse("changes_checkout_return", args=[proposal.pk])).status_code == 404
    for url in (
        reverse("offer_withdraw", args=[made.pk]),
        reverse("proposal_decline", args=[proposal.pk]),
        reverse("proposal_withdraw", args=[proposal.pk]),
    ):
        assert client.post(url).status_code == 404, url
    after = (money_moved(), list(Milestone.objects.values_list("pk", "state")), Order.objects.count())
    assert after == before
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING


# --- custom offers from the gig page ------------------------------------------------------------


def test_the_gig_page_shows_send_a_custom_offer_to_its_seller_only(client, seller, buyer, outsider):
    gig = GigFactory(seller=seller)
    url = reverse("gig_detail", args=[gig.pk])
    client.force_login(seller)
    html = text(client.get(url))
    assert "Send a custom offer" in buttons(html)
    assert f'action="{reverse("custom_offer_new", args=[gig.pk])}"' in html
    for user in (buyer, outsider):
        client.force_login(user)
        assert "Send a custom offer" not in buttons(text(client.get(url)))
    client.logout()
    assert "Send a custom offer" not in text(client.get(url))


def test_the_custom_offer_form_lists_only_buyers_who_contacted_the_seller(client, seller, buyer, audit):
    gig = GigFactory(seller=seller)
    OrderFactory(buyer=buyer, seller=seller)
    stranger = UserFactory(username="carol_stranger")
    OrderFactory(buyer=stranger)  # in touch with someone else only
    client.force_login(seller)
    url = reverse("custom_offer_new", args=[gig.pk])
    html = text(client.get(url))
    # The form's options (the footer's language selector is every page's).
    options = re.findall(r'<option value="([^"]*)"', html.split('<footer class="site-footer">', 1)[0])
    assert options == ["", buyer.username]
    for label in ("Buyer", "Order title", "Title", "Description", "Deadline", "Amount"):
        assert f">{label}" in html
    assert "Send offer" in buttons(html)
    token = token_of(html)
    orders = Order.objects.count()

    refused = client.post(url, {"buyer": stranger.username, "order_title": "Shop", "token": token, **offer_terms()})
    assert refused.status_code == 400 and field_error(text(refused), "buyer") is not None
    bad = client.post(url, {"buyer": buyer.username, "order_title": "Shop", "token": token, **offer_terms(amount="1")})
    assert bad.status_code == 400 and field_error(text(bad), "amount") is not None
    assert Order.objects.count() == orders and not Milestone.objects.filter(state=S.OFFERED).exists()

    sent = client.post(url, {"buyer": buyer.username, "order_title": "Shop redesign", "token": token, **offer_terms()})
    assert sent.status_code == 302
    made = Milestone.objects.get(state=S.OFFERED)
    assert sent["Location"] == made.get_absolute_url()
    assert made.order.title == "Shop redesign" and made.order.gig == gig and made.order.buyer == buyer
    again = client.post(url, {"buyer": buyer.username, "order_title": "Shop redesign", "token": token, **offer_terms()})
    assert again.status_code == 302
    assert Order.objects.count() == orders + 1
    audit()


def test_a_seller_nobody_contacted_is_told_so(client, seller):
    gig = GigFactory(seller=seller)
    client.force_login(seller)
    html = text(client.get(reverse("custom_offer_new", args=[gig.pk])))
    assert "No buyer has contacted you yet." in html and "Send offer" not in buttons(html)


def test_no_confirmation_after_paying_an_offer_by_card(client, order, audit):
    """Issue 34: a first milestone paid by card came back to "… is funded: … held in escrow"; an
    offer paid by card came back to nothing. Both confirm now, with the same words as the balance."""
    made = create_offer(order, amount="100.00")
    client.force_login(order.buyer)
    checkout_url = client.post(reverse("offer_accept", args=[made.pk]), {"method": "card"})["Location"]
    back = client.post(checkout_url, {"card_number": "4242 4242 4242 4242"})["Location"]
    landed = client.get(back, follow=True)
    assert landed.redirect_chain[-1][0] == made.get_absolute_url()
    html = text(landed)
    assert state_of(made) == S.IN_PROGRESS
    held = escape(f"You accepted “{made.title}”: {format_money(Money('100.00', 'USD'))} is held in escrow")
    assert held in html
    audit()


def test_an_offer_paid_by_card_that_queues_says_when_it_starts(client, order, audit):
    from tests.factories import milestone_in

    milestone_in(S.IN_PROGRESS, order)
    made = create_offer(order, amount="100.00")
    client.force_login(order.buyer)
    checkout_url = client.post(reverse("offer_accept", args=[made.pk]), {"method": "card"})["Location"]
    back = client.post(checkout_url, {"card_number": "4242 4242 4242 4242"})["Location"]
    html = text(client.get(back, follow=True))
    assert state_of(made) == S.ACCEPTED
    assert "is held in escrow" in html and "It starts when the milestones before it close." in html
    audit()
