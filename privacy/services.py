"""Deleting an account: the person's data goes, the money's history stays.

``account_delete`` refuses while anything is still owed or in progress (a
milestone funded, unpaid or in work, a balance, a withdrawal being paid, a
refund on its way to a card): those must end first, for the other party's sake
and the ledger's, and the page names the step that ends each
(``account_deletion_blockers``): any balance can be withdrawn. Then it erases
or anonymises what identifies the person (name, e-mail addresses, bio, payout
details, two-factor, password, notices, saved gigs, their gigs' images) and unlists their gigs, and keeps
what the other party and the books rely on: orders, milestones, messages,
reviews and every ledger line, now under ``deleted-<id>``. The account can
never log in again. The ledger is not touched, so ``ledger_audit`` passes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from djmoney.money import Money

from accounts.models import SecurityEventKind, User
from accounts.services import security_event_record
from calendar_feed.models import CalendarFeed
from gigs.images import gig_images_erase
from gigs.models import Gig, SavedGig
from marketplace.errors import InvalidInput, NotAllowed
from marketplace.money import format_money
from milestones.models import CLOSED_STATES, Milestone
from milestones.services.tips import tip_checkouts_close_for
from notifications.models import Notification
from orders.services import orders_note_closed_account
from payments.models import (
    USER_KINDS,
    Account,
    AccountKind,
    CommandKind,
    CommandStatus,
    ProviderCommand,
    Withdrawal,
    WithdrawalStatus,
)
from requests_board.services import requests_erase_for
from webhooks.services import webhooks_erase_for


@dataclass(frozen=True)
class Blocker:
    """One thing that must end before the account can go: what to do, and the page where it is done."""

    message: str
    url: str = ""
    link: str = ""

    def __str__(self) -> str:
        return self.message


def account_deletion_blockers(user: User) -> list[Blocker]:
    """What must end before the account can go, each as the step that frees it, in the words the page shows."""
    blockers = []
    open_milestones = (
        Milestone.objects.filter(Q(order__buyer=user) | Q(order__seller=user)).exclude(state__in=CLOSED_STATES).count()
    )
    if open_milestones:
        blockers.append(
            Blocker(
                ngettext(
                    "{n} milestone(s) are not finished: approve, cancel or decline them (or let them close).",
                    "{n} milestone(s) are not finished: approve, cancel or decline them (or let them close).",
                    open_milestones,
                ).format(n=open_milestones),
                reverse("dashboard"),
                _("Your dashboard"),
            )
        )
    held: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for kind, currency, balance in Account.objects.filter(
        user=user, kind__in=sorted(USER_KINDS), balance__gt=0
    ).values_list("kind", "currency", "balance"):
        held[currency][kind] += balance
    earnings = reverse("earnings")

    def on_earnings(message: str) -> Blocker:
        return Blocker(message, earnings, _("Earnings"))

    for currency, kinds in sorted(held.items()):
        withdrawable = kinds[AccountKind.SELLER_AVAILABLE] + kinds[AccountKind.BUYER_BALANCE]
        if withdrawable:
            money = format_money(Money(withdrawable, currency))
            blockers.append(
                on_earnings(_("Withdraw your {money} balance on the Earnings page first.").format(money=money))
            )
        if kinds[AccountKind.SELLER_PENDING]:
            money = format_money(Money(kinds[AccountKind.SELLER_PENDING], currency))
            blockers.append(
                on_earnings(
                    _(
                        "{money} of your earnings are still clearing: withdraw them on the Earnings page once they "
                        "clear (it shows when)."
                    ).format(money=money)
                )
            )
        if kinds[AccountKind.SELLER_WITHDRAWING]:
            money = format_money(Money(kinds[AccountKind.SELLER_WITHDRAWING], currency))
            blockers.append(
                on_earnings(
                    _("Your withdrawal of {money} is still being paid out: wait until it is sent.").format(money=money)
                )
            )
    if (
        not any(kinds[AccountKind.SELLER_WITHDRAWING] for kinds in held.values())
        and Withdrawal.objects.filter(seller=user, status=WithdrawalStatus.REQUESTED).exists()
    ):
        blockers.append(on_earnings(_("A withdrawal is still being paid out: wait until it is sent.")))
    to_card = ProviderCommand.objects.filter(
        user=user, kind=CommandKind.REFUND, status__in=[CommandStatus.PENDING, CommandStatus.STUCK]
    )
    for amount in to_card.values_list("amount", "amount_currency"):
        money = format_money(Money(*amount))
        blockers.append(
            on_earnings(
                _("A refund of {money} to your card is still on its way: wait until it arrives.").format(money=money)
            )
        )
    return blockers


def account_delete(*, user: User, password: str, ip: str | None = None) -> User:
    """Erase the person, keep the records (see the module). Bad password: InvalidInput, nothing changes."""
    if not user.check_password(password):
        raise InvalidInput(_("That is not your password."), field="password")
    return _account_erase(user=user, ip=ip, detail="", refused=_("Your account cannot be deleted yet: {blockers}"))


def account_delete_by_staff(*, user: User, staff: User, ip: str | None = None) -> User:
    """Staff close someone's account from the admin (the admin's "Delete selected users" would
    delete the rows the books keep): the same erasure, the same blockers, and the security log
    says who did it. Staff cannot close their own account here; they use the profile page."""
    if not staff.is_active or not staff.is_staff:
        raise NotAllowed(_("Only staff can close someone else's account."))
    if staff.pk == user.pk:
        raise NotAllowed(_("Close your own account from your profile page, with your password."))
    return _account_erase(
        user=user,
        ip=ip,
        detail=f"by staff {staff.username}",
        refused=_("{username} cannot be deleted yet: {blockers}").format(username=user.username, blockers="{blockers}"),
    )


def _account_erase(*, user: User, ip: str | None, detail: str, refused: str) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.is_active:
            raise NotAllowed(_("This account is already deleted."))
        blockers = account_deletion_blockers(user)
        if blockers:
            # ``refused``: a sentence with a ``{blockers}`` place for the steps, each a sentence of its own.
            raise NotAllowed(refused.replace("{blockers}", " ".join(str(b) for b in blockers)))
        security_event_record(user=user, kind=SecurityEventKind.ACCOUNT_DELETED, ip=ip, detail=detail)
        # Nothing new can start with a closed account: its orders say so, its tips' checkouts close.
        orders_note_closed_account(user)
        tip_checkouts_close_for(user)
        user.username = f"deleted-{user.pk}"
        user.email = ""
        user.first_name = user.last_name = ""
        user.bio = ""
        user.payout_account = user.payout_token = ""
        user.time_zone = "UTC"
        user.is_active = False
        user.is_staff = user.is_superuser = False
        user.set_unusable_password()  # also ends every session: their hash no longer matches
        user.save()
        user.groups.clear()
        user.user_permissions.clear()
        EmailAddress.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
        Notification.objects.filter(recipient=user).delete()
        # The feed's address would still open the orders' dates of a closed account: gone with it.
        CalendarFeed.objects.filter(user=user).delete()
        # What they saved is theirs alone; others' saves of their gigs stay with those people
        # (their "Saved" page then says the gig is no longer available).
        SavedGig.objects.filter(user=user).delete()
        # Their buyer requests and proposals are private to them (and the other side): gone too.
        requests_erase_for(user)
        # Their webhooks: the URLs and secrets are theirs, the deliveries carry their orders' events.
        webhooks_erase_for(user)
        # ``update()`` skips ``auto_now``: ``updated_at`` is set here, for the dashboard's version.
        Gig.objects.filter(seller=user, is_active=True).update(
            is_active=False, paused_at=None, updated_at=timezone.now()
        )
        gig_images_erase(seller=user)
        # The security log keeps its rows but no longer says where they came from.
        user.security_events.update(ip=None)
        user.security_events.filter(kind=SecurityEventKind.PAYOUT_CHANGED).update(detail="")
        user.security_events.filter(
            kind__in=[SecurityEventKind.EMAIL_ADDED, SecurityEventKind.EMAIL_CHANGED, SecurityEventKind.EMAIL_REMOVED]
        ).update(detail="")
    return user
