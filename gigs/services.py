"""Writes on gigs: publishing one, editing it (with its packages: ``gigs.packages``), pausing
and resuming it; and a buyer's saving of a gig (``gig_save``, ``gig_unsave``), which is not a
write of the gig and moves nothing on it.

Every write here is the seller's own, on their own gig, and moves its
``updated_at`` (the seller's dashboard version): a save naming its fields
writes only those, so each names it too. A paused gig is
neither listed nor orderable (``is_active`` false, which ``order_create``
checks); its orders go on as before: nothing here touches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from djmoney.money import Money

from accounts.models import User
from gigs.models import Gig, SavedGig, lock_gig
from gigs.packages import GigPackagesInput, cheapest_totals, packages_validate, packages_write, single_package
from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from marketplace.money import has_sub_minor_digits


@dataclass(frozen=True)
class GigTerms:
    title: str
    description: str
    starting_price: Money | None
    delivery_days: int | None
    category: str


def gig_terms_errors(
    *,
    title: str | None,
    description: str | None,
    starting_price: Money | None,
    delivery_days: int | None,
    category: str | None,
) -> list[InvalidInput]:
    """Every rule of a gig's terms that the given values break, each naming its field, so a form
    reports them all at once; a value given as None (it did not parse) is not checked again."""
    errors = []
    if title is not None:
        title = title.strip()
        if not title:
            errors.append(InvalidInput(_("Give your gig a title."), field="title"))
        elif len(title) > 120:
            errors.append(InvalidInput(_("Keep the title to 120 characters or fewer."), field="title"))
    if description is not None:
        description = description.strip()
        if not description:
            errors.append(InvalidInput(_("Describe what the buyer gets."), field="description"))
        elif len(description) > 5000:
            errors.append(
                InvalidInput(
                    _("Keep the description to {limit} characters or fewer.").format(
                        limit=number_format(5000, force_grouping=True)
                    ),
                    field="description",
                )
            )
    if starting_price is not None:
        minimum = Decimal(settings.MILESTONE_MIN_AMOUNT)
        if str(starting_price.currency) not in settings.MARKETPLACE_CURRENCIES:
            errors.append(
                InvalidInput(
                    _("{currency} is not a currency of this marketplace.").format(currency=starting_price.currency),
                    field="starting_price",
                )
            )
        elif starting_price.amount < minimum:
            errors.append(
                InvalidInput(
                    _("The starting price is at least {minimum}.").format(minimum=number_format(minimum, 2)),
                    field="starting_price",
                )
            )
        elif has_sub_minor_digits(starting_price):
            errors.append(InvalidInput(_("Use at most two decimal places."), field="starting_price"))
    if delivery_days is not None and not 1 <= delivery_days <= 365:
        errors.append(InvalidInput(_("Delivery takes between 1 and 365 days."), field="delivery_days"))
    if category is not None and category not in dict(settings.GIG_CATEGORIES):
        errors.append(InvalidInput(_("Choose a category from the list."), field="category"))
    return errors


def gig_validate_terms(
    *,
    title: str,
    description: str,
    category: str,
    starting_price: Money | None = None,
    delivery_days: int | None = None,
) -> GigTerms:
    """The rules of a gig's terms, shared by publishing and editing: the terms
    cleaned, or ``InvalidInput`` naming the field (the first rule broken). The
    price and days are checked where given (a gig with packages takes them
    from its cheapest package)."""
    errors = gig_terms_errors(
        title=title or "",
        description=description or "",
        starting_price=starting_price,
        delivery_days=delivery_days,
        category=category,
    )
    if errors:
        raise errors[0]
    return GigTerms((title or "").strip(), (description or "").strip(), starting_price, delivery_days, category)


def gig_create(
    *,
    seller: User,
    title: str,
    description: str,
    starting_price: Money | None = None,
    delivery_days: int | None = None,
    category: str = "other",
    packages: GigPackagesInput | None = None,
) -> Gig:
    """Publish a gig with its ``packages`` (and extras and questions), or, given only a
    ``starting_price`` and ``delivery_days`` (scripts, the demo, older callers), with one
    package "Basic" of one step at that price and time, as the data migration made of the gigs
    published before packages."""
    terms = gig_validate_terms(
        title=title,
        description=description,
        starting_price=starting_price if packages is None else None,
        delivery_days=delivery_days if packages is None else None,
        category=category,
    )
    if packages is None:
        if starting_price is None or delivery_days is None:
            raise InvalidInput(_("Give the gig packages, or a starting price and delivery days."), field="packages")
        packages = single_package(
            title=terms.title, description=terms.description, price=starting_price, days=delivery_days
        )
    packages_validate(packages)
    price, days = cheapest_totals(packages)
    with transaction.atomic():
        gig = Gig.objects.create(
            seller=seller,
            title=terms.title,
            description=terms.description,
            starting_price=price,
            delivery_days=days,
            category=terms.category,
        )
        packages_write(gig=gig, offer=packages, new=True)
        return gig


def _lock_own_gig(*, gig: Gig, actor: User) -> Gig:
    """The gig locked, if ``actor`` is its seller and staff have not retired it.
    Call inside ``transaction.atomic()``."""
    if gig.seller_id != actor.pk:
        raise NotAllowed(_("Only the gig's seller can change it."))
    locked = lock_gig(gig.pk)
    if locked.is_retired:
        raise InvalidTransition(_("This gig was taken down by the marketplace and can no longer be changed."))
    return locked


def gig_update(
    *,
    gig: Gig,
    actor: User,
    title: str,
    description: str,
    category: str,
    packages: GigPackagesInput | None = None,
) -> Gig:
    """The seller edits the gig's terms and, given, its packages, extras and questions, all
    together or none: a refusal names the field and changes nothing. The gig's
    ``starting_price`` and ``delivery_days`` follow the cheapest package. Orders already open
    keep the terms they were opened with (an order copies what it needs), so nothing else
    changes."""
    terms = gig_validate_terms(title=title, description=description, category=category)
    if packages is not None:
        packages_validate(packages)
    with transaction.atomic():
        locked = _lock_own_gig(gig=gig, actor=actor)
        locked.title = terms.title
        locked.description = terms.description
        locked.category = terms.category
        if packages is not None:
            packages_write(gig=locked, offer=packages)
        locked.save(
            update_fields=[
                "title",
                "description",
                "starting_price",
                "starting_price_currency",
                "delivery_days",
                "category",
                "updated_at",
            ]
        )
    return locked


def gig_pause(*, gig: Gig, actor: User) -> Gig:
    """The seller takes the gig off the list: no new orders until resumed."""
    with transaction.atomic():
        locked = _lock_own_gig(gig=gig, actor=actor)
        if locked.is_paused:
            raise InvalidTransition(_("This gig is already paused."))
        locked.is_active = False
        locked.paused_at = timezone.now()
        locked.save(update_fields=["is_active", "paused_at", "updated_at"])
    return locked


def gig_resume(*, gig: Gig, actor: User) -> Gig:
    """The seller lists a paused gig again."""
    with transaction.atomic():
        locked = _lock_own_gig(gig=gig, actor=actor)
        if not locked.is_paused:
            raise InvalidTransition(_("This gig is not paused."))
        locked.is_active = True
        locked.paused_at = None
        locked.save(update_fields=["is_active", "paused_at", "updated_at"])
    return locked


# --- saved gigs: a person's bookmarks -------------------------------------------------------------


def gig_save(*, gig: Gig, user: User) -> bool:
    """``user`` saves ``gig`` for later; True if this call saved it, False if it already was.

    Saving twice (a double click, two tabs, two requests at the same instant) leaves one row: the
    unique constraint ``saved_gig_unique`` decides, and ``get_or_create`` reads the row the other
    request committed when its insert is refused (on PostgreSQL the second insert waits for the
    first transaction and then fails on the constraint). Nothing to lock: the row is the whole
    state. A paused gig can be saved (its page is public, it may come back); a retired one cannot,
    nor one's own gig, whose count would then say nothing."""
    if not user.is_active:
        raise NotAllowed(_("Log in to save gigs."))
    if gig.seller_id == user.pk:
        raise NotAllowed(_("This is your own gig."))
    if gig.is_retired:
        raise InvalidTransition(_("This gig is no longer available."))
    _saved, created = SavedGig.objects.get_or_create(user=user, gig=gig)
    return created


def gig_unsave(*, gig: Gig, user: User) -> bool:
    """``user`` no longer keeps ``gig``; True if a save was removed, False if there was none (a
    second press, or another tab that already removed it). Works on any gig, retired included,
    so a saved list can always be cleared."""
    deleted, _per_model = SavedGig.objects.filter(user=user, gig=gig).delete()
    return bool(deleted)
