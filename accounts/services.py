"""Writes on accounts: signing up and changing one's profile."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.levels import SellerLevel, SellerRecord, level_earned, level_rank
from accounts.models import EmailPreference, SecurityEvent, SecurityEventKind, SellerLevelChange, User, WithdrawalMethod
from accounts.payouts import payout_details_parse, payout_mask, payout_tokenize
from marketplace.errors import InvalidInput, NotAllowed
from notifications.services import notification_send


def email_verified(user: User) -> bool:
    """Whether the user's primary e-mail address is confirmed (allauth's record)."""
    return EmailAddress.objects.filter(user=user, primary=True, verified=True).exists()


def require_verified_email(user: User | None, action: str) -> None:
    """Paying and withdrawing wait for a confirmed e-mail address: the
    address that receipts, refunds and disputes are about must be one the
    person reads. Browsing, ordering and messaging do not wait."""
    if user is not None and not email_verified(user):
        sentence = _CONFIRM_BEFORE.get(action)
        address = user.email or _("your address")
        if sentence is None:  # an action not listed: the sentence as it always was, in English
            message = (
                f"Confirm your e-mail address before you {action}: use the link we sent to "
                f"{address}, or send a new one from your e-mail settings."
            )
        else:
            message = str(sentence).format(address=address)
        raise NotAllowed(message, field="email")


# ``require_verified_email``'s refusal, one whole sentence per action its callers name.
_CONFIRM_BEFORE = {
    "pay for an offer": gettext_lazy(
        "Confirm your e-mail address before you pay for an offer: use the link we sent to "
        "{address}, or send a new one from your e-mail settings."
    ),
    "leave a tip": gettext_lazy(
        "Confirm your e-mail address before you leave a tip: use the link we sent to "
        "{address}, or send a new one from your e-mail settings."
    ),
    "pay for a milestone": gettext_lazy(
        "Confirm your e-mail address before you pay for a milestone: use the link we sent to "
        "{address}, or send a new one from your e-mail settings."
    ),
    "pay the difference": gettext_lazy(
        "Confirm your e-mail address before you pay the difference: use the link we sent to "
        "{address}, or send a new one from your e-mail settings."
    ),
    "withdraw": gettext_lazy(
        "Confirm your e-mail address before you withdraw: use the link we sent to "
        "{address}, or send a new one from your e-mail settings."
    ),
}


def email_mark_verified(user: User) -> None:
    """Record the user's e-mail address as confirmed (demo data and staff tools; people confirm by link)."""
    EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email).update(primary=False)
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})


def user_update_profile(
    *,
    user: User,
    bio: str,
    withdrawal_method: str,
    payout_account: str,
    refund_to: str | None = None,
    time_zone: str | None = None,
    email_notifications: str | None = None,
    language: str | None = None,
    ip: str | None = None,
    time_zone_chosen: bool = False,
) -> User:
    """Change a user's profile (the e-mail address changes through allauth's
    page, which verifies the new one), how they are paid, where their refunds go,
    their time zone and which notices they get by e-mail (the last three
    keep what is saved when not given). ``time_zone_chosen``: the user chose the zone (the profile's
    list sent one); until then the profile preselects the browser's guess.

    The new withdrawal method applies to earnings approved from now on: an
    earning already pending keeps the ``clears_at`` it was given.

    A payout account typed anew is checked (``accounts.payouts``; ``InvalidInput`` on
    ``payout_account``, nothing saved) and tokenized by the payment provider before anything is
    written, so this must be called with no transaction open; only its mask and the token are kept.
    """
    if withdrawal_method not in WithdrawalMethod.values:
        raise InvalidInput(_("Choose a withdrawal method."), field="withdrawal_method")
    refund_to = refund_to or user.refund_to
    if refund_to not in ("balance", "card"):
        raise InvalidInput(_("Choose where refunds go."), field="refund_to")
    time_zone = time_zone or user.time_zone
    if not is_time_zone(time_zone):
        raise InvalidInput(_("Choose a time zone from the list."), field="time_zone")
    email_notifications = email_notifications or user.email_notifications
    if email_notifications not in EmailPreference.values:
        raise InvalidInput(_("Choose which notices to receive by e-mail."), field="email_notifications")
    language = language or user.language
    if language not in dict(settings.LANGUAGES):
        raise InvalidInput(_("Choose a language from the list."), field="language")
    # What is stored, not the instance (a ModelForm has already written the new values into it).
    stored_method, stored_account, stored_token = User.objects.values_list(
        "withdrawal_method", "payout_account", "payout_token"
    ).get(pk=user.pk)
    payout_account = payout_account.strip()
    shown, token = stored_account, stored_token
    if payout_account != stored_account:
        # Typed anew (the form shows the kept "•••• 4242"): checked, tokenized, and only its mask kept.
        shown, token = "", ""
        if payout_account:
            details = payout_details_parse(method=withdrawal_method, raw=payout_account)
            shown, token = details.shown, payout_tokenize(details)
    payout_changed = (withdrawal_method, shown) != (stored_method, stored_account) or token != stored_token
    before = (WithdrawalMethod(stored_method).label if stored_method else "", payout_mask(stored_account))
    none = gettext_lazy("(none)")
    with transaction.atomic():
        if user.withdrawal_method_chosen_at is None or withdrawal_method != stored_method:
            # The profile shows every method with its clearance period: saving it is a choice.
            user.withdrawal_method_chosen_at = timezone.now()
        user.bio = bio.strip()
        user.withdrawal_method = withdrawal_method
        user.payout_account = shown
        user.payout_token = token
        user.refund_to = refund_to
        if time_zone_chosen and (user.time_zone_chosen_at is None or time_zone != user.time_zone):
            user.time_zone_chosen_at = timezone.now()
        user.time_zone = time_zone
        user.email_notifications = email_notifications
        user.language = language
        user.save(
            update_fields=[
                "language",
                "bio",
                "withdrawal_method",
                "withdrawal_method_chosen_at",
                "payout_account",
                "payout_token",
                "refund_to",
                "time_zone",
                "time_zone_chosen_at",
                "email_notifications",
            ]
        )
        if payout_changed:
            after = (WithdrawalMethod(withdrawal_method).label, payout_mask(user.payout_account))
            # Lazy: the notice is made text in the user's language, the security log's line in English.
            detail = format_lazy("{} {} → {} {}", before[0], before[1] or none, after[0], after[1] or none)
            with translation.override(settings.LANGUAGE_CODE):
                logged = str(detail)
            security_event_record(user=user, kind=SecurityEventKind.PAYOUT_CHANGED, detail=logged, ip=ip)
            notification_send(
                recipient=user,
                event="payout_changed",
                message=format_lazy(
                    gettext_lazy(
                        "Your payout details were changed: {detail}. If it was not you, change your password "
                        "and write to support at once."
                    ),
                    detail=detail,
                ),
                url="/accounts/profile/",
            )
    return user


def user_choose_withdrawal_method(*, user: User, withdrawal_method: str, ip: str | None = None) -> User:
    """A user's first choice of how they are paid, made on the earnings page before their first
    withdrawal (``User.withdrawal_method_chosen_at`` empty): it decides how long each earning
    released from now on takes to clear.

    No password is asked, unlike the profile: nothing is sent anywhere new, since a user who has
    given a payout account has saved the profile, which counts as a choice. A later change, or one
    that would no longer fit a payout account kept for another method, goes through the profile
    (``InvalidInput`` on ``withdrawal_method``, nothing saved)."""
    if withdrawal_method not in WithdrawalMethod.values:
        raise InvalidInput(_("Choose one of the withdrawal methods listed."), field="withdrawal_method")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.withdrawal_method_chosen_at is not None:
            raise InvalidInput(
                _("You have already chosen how you are paid; change it in your profile."), field="withdrawal_method"
            )
        if locked.payout_account and withdrawal_method != locked.withdrawal_method:
            raise InvalidInput(
                _("Your payout account was given for another method: change both in your profile."),
                field="withdrawal_method",
            )
        user.withdrawal_method = withdrawal_method
        user.withdrawal_method_chosen_at = timezone.now()
        user.save(update_fields=["withdrawal_method", "withdrawal_method_chosen_at"])
        if withdrawal_method != locked.withdrawal_method:
            with translation.override(settings.LANGUAGE_CODE):  # the security log is in English
                before, after = WithdrawalMethod(locked.withdrawal_method).label, user.get_withdrawal_method_display()
                detail = f"{before} → {after} (first choice)"
            security_event_record(user=user, kind=SecurityEventKind.PAYOUT_CHANGED, detail=detail, ip=ip)
    return user


def security_event_record(*, user: User, kind: str, detail: str = "", ip: str | None = None) -> SecurityEvent:
    """Append to the account's security log (shown in the admin)."""
    return SecurityEvent.objects.create(user=user, kind=kind, detail=detail[:300], ip=ip or None)


def is_time_zone(name: str) -> bool:
    return name in zoneinfo.available_timezones()


def seller_level_update(*, seller_id: int, record: SellerRecord, now: datetime) -> bool:
    """Judge one seller on ``record`` (read by ``reviews.selectors.seller_record`` just before) and
    keep the result on their row: the level, the response figures, when it was judged. A change of
    level is logged (``SellerLevelChange``, the profile's activity) and noticed to the seller.
    Returns whether the level changed: judged twice on one record, it changes once.

    Locks the user row alone (``skip_locked`` by the sweep, which claims it): the only other lock
    of a user is the review service's, taken after an order's reviews and never followed by
    another, so no circle."""
    with transaction.atomic():
        seller = User.objects.select_for_update(skip_locked=True).filter(pk=seller_id).first()
        if seller is None:
            return False  # someone else holds it (a review being published): the next tick judges it
        level = level_earned(record)
        changed = level != seller.seller_level
        fields = ["seller_evaluated_at", "response_seconds", "response_rate"]
        seller.seller_evaluated_at = now
        seller.response_seconds = record.response_seconds
        seller.response_rate = record.response_rate
        if changed:
            before = seller.seller_level
            seller.seller_level = level
            seller.seller_level_since = now
            fields += ["seller_level", "seller_level_since"]
            SellerLevelChange.objects.create(user=seller, from_level=before, to_level=level, created_at=now)
            notification_send(
                recipient=seller,
                event="seller_level",
                message=level_change_message(before, level),
                url=reverse("profile_public", args=[seller.username]),
            )
        seller.save(update_fields=fields)
    return changed


def level_change_message(before: str, after: str) -> str | Promise:
    """The seller's notice of a new level, lazy: made text in the seller's language."""
    label = SellerLevel(after).label
    if level_rank(after) > level_rank(before):
        return format_lazy(
            gettext_lazy("You are now {label}: your record of the last 60 days and all time meets its thresholds."),
            label=label,
        )
    return format_lazy(
        gettext_lazy(
            "Your seller level is now {label} (was {before}): "
            "your record of the last 60 days no longer meets the level's thresholds."
        ),
        label=label,
        before=SellerLevel(before).label,
    )


def user_set_language(*, user: User, language: str) -> User:
    """The footer's "Language" for a signed-in user: kept on the profile, so the pages and the
    e-mails they receive (rendered in the recipient's language) follow it on every device."""
    if language not in dict(settings.LANGUAGES):
        raise InvalidInput(_("Choose a language from the list."), field="language")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user
