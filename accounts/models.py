"""People: one account both buys and sells; the role is per order."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.levels import SellerLevel, clearance_for


class WithdrawalMethod(models.TextChoices):
    INSTANT = "instant", _("Instant (debit card)")
    PAYPAL = "paypal", _("PayPal")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")


class EmailPreference(models.TextChoices):
    ALL = "all", _("Every event")
    ACTION = "action", _("Only those that need my action")
    NONE = "none", pgettext_lazy("e-mail notices", "None")


class User(AbstractUser):
    """One account can both buy and sell; the role is per order."""

    withdrawal_method = models.CharField(
        max_length=20, choices=WithdrawalMethod.choices, default=WithdrawalMethod.BANK_TRANSFER
    )
    # When the user last chose ``withdrawal_method`` themselves (the profile, or the earnings page's
    # first choice); empty while they are on the default without having said so. The method fixes how
    # long each earning takes to clear, so the first withdrawal waits until one is chosen.
    withdrawal_method_chosen_at = models.DateTimeField(null=True, blank=True)
    # Never a whole card or account number (``accounts.payouts``): how the account is shown, "•••• 4242"
    # or a PayPal e-mail, and the payment provider's token for it, which payouts are sent to.
    payout_account = models.CharField(
        max_length=100,
        blank=True,
        help_text=_(
            "Where withdrawals go, as shown: the last four digits of a card or bank account, or a PayPal e-mail."
        ),
    )
    payout_token = models.CharField(max_length=255, blank=True, default="", db_default="")
    bio = models.TextField(blank=True, max_length=2000)
    # Where a refund the buyer did not choose goes (a decline, a dispute); a
    # cancel asks each time. "card" falls back to the balance for milestones
    # paid from the balance.
    refund_to = models.CharField(
        _("Refunds go to"),
        max_length=10,
        choices=[("balance", _("My site balance (instant)")), ("card", _("The card I paid with (5–10 days)"))],
        default="balance",
    )

    # The seller's rating, kept on their row so that every list of gigs shows
    # it without a query per seller. Written only by the review service, under
    # its lock, as each review is published; empty until the first review.
    rating_avg = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    rating_count = models.PositiveIntegerField(default=0)

    # The seller's level and the figures it was judged on, written by the nightly ``seller_levels``
    # sweep (``accounts.services.seller_level_update``) under the user's lock, so that gig cards, the
    # gig page and the profile show them off this row with no query of their own, and clearance
    # (payments, below the reputation app) reads the level here.
    seller_level = models.CharField(
        _("Seller level"),
        max_length=20,
        choices=SellerLevel.choices,
        default=SellerLevel.NEW,
        db_default=SellerLevel.NEW,
    )
    seller_level_since = models.DateTimeField(null=True, blank=True)
    # When the sweep last judged this seller; empty until the first time.
    seller_evaluated_at = models.DateTimeField(null=True, blank=True)
    # The average time to the first answer, and the share of conversations answered within a day,
    # over the level's window (``reviews.selectors.response_figures``); empty with nothing to count.
    response_seconds = models.IntegerField(null=True, blank=True)
    response_rate = models.SmallIntegerField(null=True, blank=True)

    # Every time is shown in this zone and every deadline typed in it (stored
    # in UTC); guessed from the browser at sign-up, changed on the profile.
    time_zone = models.CharField(_("Time zone"), max_length=64, default="UTC")
    # When the user chose ``time_zone`` on the profile; empty while it is the sign-up's guess (or
    # UTC, without JavaScript then): until then the profile preselects the browser's zone.
    time_zone_chosen_at = models.DateTimeField(null=True, blank=True)
    # Pages and the e-mails this user receives are in this language (one of ``LANGUAGES``): taken
    # from the browser at sign-up, changed on the profile or in the footer.
    language = models.CharField(
        _("Language"), max_length=10, choices=settings.LANGUAGES, default="en-gb", db_default="en-gb"
    )
    # Which notices are e-mailed as well as shown in the app.
    email_notifications = models.CharField(
        _("E-mail me"), max_length=10, choices=EmailPreference.choices, default=EmailPreference.ALL
    )

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]  # the stubs omit it
        # Created by the first layout, when users lived in ``marketplace``.
        db_table = "marketplace_user"
        constraints = [
            models.CheckConstraint(
                condition=Q(rating_count=0, rating_avg__isnull=True)
                | Q(rating_count__gt=0, rating_avg__isnull=False, rating_avg__gte=1, rating_avg__lte=5),
                name="user_rating_consistent",
            ),
        ]

    @property
    def clearance_period(self) -> timedelta:
        """The wait of an earning released now: the shorter of the method's and the level's."""
        return clearance_for(method=self.withdrawal_method, level=self.seller_level)

    @property
    def level_shortens_clearance(self) -> bool:
        return self.clearance_period < settings.CLEARANCE_PERIODS[self.withdrawal_method]

    @property
    def has_chosen_withdrawal_method(self) -> bool:
        return self.withdrawal_method_chosen_at is not None

    def __str__(self) -> str:
        return self.username


class SecurityEventKind(models.TextChoices):
    PAYOUT_CHANGED = "payout_changed", _("Payout details changed")
    EMAIL_ADDED = "email_added", _("E-mail address added")
    EMAIL_CHANGED = "email_changed", _("Primary e-mail changed")
    EMAIL_REMOVED = "email_removed", _("E-mail address removed")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    PASSWORD_RESET = "password_reset", _("Password reset by e-mail")
    DATA_EXPORTED = "data_exported", _("Data downloaded")
    ACCOUNT_DELETED = "account_deleted", _("Account deleted")


class SecurityEvent(models.Model):
    """A change to what protects an account or where its money goes: who, what, when, from where.
    Written by the services and allauth's signals, never edited (the app's role may not delete it)."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="security_events")
    kind = models.CharField(max_length=20, choices=SecurityEventKind.choices)
    detail = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="security_event_user")]

    def __str__(self) -> str:
        return f"{self.user} {self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


class SellerLevelChange(models.Model):
    """A seller's level moving up or down, as the nightly sweep judged it: the profile's activity."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="level_changes")
    from_level = models.CharField(max_length=20, choices=SellerLevel.choices)
    to_level = models.CharField(max_length=20, choices=SellerLevel.choices)
    created_at = models.DateTimeField()

    objects: models.Manager[SellerLevelChange] = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="level_change_user")]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_from_level_display()} → {self.get_to_level_display()}"

    @property
    def is_promotion(self) -> bool:
        return LEVEL_RANKS[self.to_level] > LEVEL_RANKS[self.from_level]


LEVEL_RANKS = {level.value: rank for rank, level in enumerate(SellerLevel)}
