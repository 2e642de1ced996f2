"""What a seller offers: a gig, from which a buyer opens an order."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models import Q
from django.db.models.expressions import CombinedExpression
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField


class Gig(models.Model):
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gigs")
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=5000)
    # The cheapest package's price (the sum of its steps' prices) and that package's days (the sum
    # of its steps' days), kept by ``gigs.packages.packages_write`` whenever packages are saved, so
    # that search, the price filter, sorting and the cards read one column as before packages.
    starting_price = MoneyField(max_digits=12, decimal_places=2, default_currency="USD")
    delivery_days = models.PositiveSmallIntegerField()
    # One of ``settings.GIG_CATEGORIES`` (checked by the services, so that the
    # list can grow without a migration).
    category = models.CharField(max_length=20, default="other")
    # Listed and orderable. False either because the seller paused the gig
    # (``paused_at`` set; the seller may resume it) or because staff retired it
    # in the admin (``paused_at`` empty; only staff bring it back).
    is_active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Moved by every write, so the seller's dashboard version sees an edit
    # (``dashboards.selectors.dashboard_version``). Empty on rows last saved before it existed.
    updated_at = models.DateTimeField(auto_now=True, null=True, blank=True)

    objects: models.Manager[Gig] = models.Manager()

    class Meta:
        # Created by the first layout, when gigs lived in ``marketplace``.
        db_table = "marketplace_gig"
        ordering = ["-created_at"]
        # On PostgreSQL a GIN index ``gig_search_idx`` on ``search_document()``
        # also exists (migration 0002). It is not declared here, because
        # SQLite, which rebuilds a table with all its declared indexes, has no
        # full-text functions.
        indexes = [
            models.Index(fields=["is_active", "-created_at"], name="marketplace_is_acti_f02233_idx"),
            models.Index(fields=["category", "is_active"], name="gig_category_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(delivery_days__gte=1), name="gig_delivery_days_positive"),
            models.CheckConstraint(condition=Q(starting_price__gt=0), name="gig_price_positive"),
            models.CheckConstraint(
                condition=Q(paused_at__isnull=True) | Q(is_active=False), name="gig_paused_unlisted"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("gig_detail", args=[self.pk])

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def is_retired(self) -> bool:
        return not self.is_active and self.paused_at is None

    @property
    def category_label(self) -> str:
        # The label in the reader's language (``GIG_CATEGORIES`` holds lazy words).
        return str(dict(settings.GIG_CATEGORIES).get(self.category, self.category))


# The language whose stemming full-text search uses ("logos" finds "logo").
SEARCH_CONFIG = "english"


def search_document() -> CombinedExpression:
    """What full-text search (PostgreSQL) matches a query against: the title
    weighted A, above the description, weighted B. The GIN index
    ``gig_search_idx`` is built on this very expression, so a query that
    filters on it can use the index; change both together."""
    return SearchVector("title", config=SEARCH_CONFIG, weight="A") + SearchVector(
        "description", config=SEARCH_CONFIG, weight="B"
    )


def lock_gig(gig_id: int) -> Gig:
    """Lock a gig for a write by its seller (edit, pause, resume), so that two
    at once (two tabs, a double click) apply one after the other on the row as
    it then is. Nothing else locks gigs; opening an order reads ``is_active``
    without this lock, so an order may still open on a gig paused at that very
    moment, as it would have a second earlier."""
    return Gig.objects.select_for_update().get(pk=gig_id)


# --- packages: the seller's way of working, ordered and paid one step at a time ------------------
# A gig has one to three packages; each package a workflow of one to six steps. The package's
# price and delivery time are the sums of its steps'. Ordering a package creates one milestone
# per step (the first funded, the rest ``planned``); each milestone copies its step's terms, so
# editing the gig afterwards changes no order.
MAX_PACKAGES = 3
MAX_STEPS = 6
MAX_STEP_REVISIONS = 20
MAX_EXTRAS = 5
MAX_IMAGES = 6
MAX_QUESTIONS = 10
DEFAULT_PACKAGE_NAMES = ("Basic", "Standard", "Premium")


class GigPackage(models.Model):
    gig = models.ForeignKey(Gig, on_delete=models.CASCADE, related_name="packages")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(_("package name"), max_length=40)
    description = models.TextField(_("package description"), max_length=1000, blank=True)

    objects: models.Manager[GigPackage] = models.Manager()

    class Meta:
        ordering = ["gig", "position"]
        constraints = [
            models.UniqueConstraint(fields=["gig", "position"], name="gig_package_position_unique"),
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=MAX_PACKAGES), name="gig_package_position_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gig} · {self.name}"


class PackageStep(models.Model):
    package = models.ForeignKey(GigPackage, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(_("step title"), max_length=200)
    deliverables = models.TextField(max_length=5000)
    days = models.PositiveSmallIntegerField()
    price = MoneyField(max_digits=12, decimal_places=2, default_currency="USD")
    revisions_included = models.PositiveSmallIntegerField(default=1)

    objects: models.Manager[PackageStep] = models.Manager()

    class Meta:
        ordering = ["package", "position"]
        constraints = [
            models.UniqueConstraint(fields=["package", "position"], name="package_step_position_unique"),
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=MAX_STEPS), name="package_step_position_range"
            ),
            models.CheckConstraint(condition=Q(days__gte=1), name="package_step_days_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="package_step_price_positive"),
            models.CheckConstraint(
                condition=Q(revisions_included__lte=MAX_STEP_REVISIONS), name="package_step_revisions_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Step {self.position}: {self.title}"


class GigExtra(models.Model):
    """A value-add the buyer may tick when ordering a package: its price and days are added to the
    step at ``attach_to_step`` (the package's last step if it has fewer), or, when that is empty,
    it becomes its own last step."""

    gig = models.ForeignKey(Gig, on_delete=models.CASCADE, related_name="extras")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(_("extra title"), max_length=120)
    price = MoneyField(_("extra price"), max_digits=12, decimal_places=2, default_currency="USD")
    days = models.PositiveSmallIntegerField(_("extra days"), default=0)
    attach_to_step = models.PositiveSmallIntegerField(null=True, blank=True)

    objects: models.Manager[GigExtra] = models.Manager()

    class Meta:
        ordering = ["gig", "position"]
        constraints = [
            models.UniqueConstraint(fields=["gig", "position"], name="gig_extra_position_unique"),
            models.CheckConstraint(condition=Q(price__gt=0), name="gig_extra_price_positive"),
        ]

    def __str__(self) -> str:
        return self.title


def gig_image_upload_to(instance: GigImage, filename: str) -> str:
    # The name is ours, never the uploader's (it may carry a path or a script).
    return f"gigs/{instance.gig_id}/{filename}"


class GigImage(models.Model):
    """One of up to six pictures of a gig; the first (lowest position) is the cover on cards and in
    search. Stored re-encoded by Pillow, metadata stripped, in two sizes, through the storage that
    holds deliverables."""

    gig = models.ForeignKey(Gig, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField()
    image = models.FileField(upload_to=gig_image_upload_to, max_length=300)
    thumbnail = models.FileField(upload_to=gig_image_upload_to, max_length=300)
    # The sizes as stored, so pages reserve the space (no layout shift).
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    thumbnail_width = models.PositiveIntegerField()
    thumbnail_height = models.PositiveIntegerField()
    alt_text = models.CharField(_("image description"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[GigImage] = models.Manager()

    class Meta:
        ordering = ["gig", "position"]
        constraints = [models.UniqueConstraint(fields=["gig", "position"], name="gig_image_position_unique")]

    def __str__(self) -> str:
        return self.alt_text


class AnswerType(models.TextChoices):
    TEXT = "text", _("Text")
    CHOICE = "choice", _("Choice")
    FILE = "file", _("File")


class RequirementQuestion(models.Model):
    """What the seller needs to know before work starts; the buyer answers when ordering."""

    gig = models.ForeignKey(Gig, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    question = models.CharField(max_length=300)
    answer_type = models.CharField(max_length=10, choices=AnswerType.choices, default=AnswerType.TEXT)
    # For a choice question: one choice per line.
    choices = models.TextField(max_length=2000, blank=True)
    required = models.BooleanField(default=True)

    objects: models.Manager[RequirementQuestion] = models.Manager()

    class Meta:
        ordering = ["gig", "position"]
        constraints = [
            models.UniqueConstraint(fields=["gig", "position"], name="requirement_question_position_unique"),
            models.CheckConstraint(
                condition=Q(answer_type__in=AnswerType.values), name="requirement_question_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.question

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


class SavedGig(models.Model):
    """A buyer's bookmark of a gig, for the "Saved" page; the seller sees how many per gig.

    One row per person and gig (``saved_gig_unique``): saving twice, by a double click or two
    tabs at once, leaves one row (``gigs.services.gig_save``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_gigs")
    gig = models.ForeignKey(Gig, on_delete=models.CASCADE, related_name="saves")
    created_at = models.DateTimeField(auto_now_add=True)

    objects: models.Manager[SavedGig] = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "gig"], name="saved_gig_unique")]
        # The "Saved" page: a person's saves, newest first. Counting a gig's saves reads the
        # index Django makes for the ``gig`` foreign key.
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="saved_gig_user_newest")]

    def __str__(self) -> str:
        return f"{self.user} saved {self.gig}"
