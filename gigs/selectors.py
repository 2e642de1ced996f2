"""Reads of gigs: the public list and search, a seller's own, one for its page."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import User
from gigs.models import Gig


def gigs_active(*, search: str = "") -> QuerySet[Gig]:
    """Active gigs, newest first; ``search`` matches words of the title or description."""
    gigs = Gig.objects.filter(is_active=True)
    for word in search.split()[:5]:
        gigs = gigs.filter(Q(title__icontains=word) | Q(description__icontains=word))
    return gigs.select_related("seller").order_by("-created_at", "-pk")


def gigs_of(user: User, *, limit: int) -> list[Gig]:
    """The user's own gigs, active first, newest first; at most ``limit``."""
    return list(Gig.objects.filter(seller=user).order_by("-is_active", "-created_at", "-pk")[:limit])


def gig_for_viewer(user: User | AnonymousUser, pk: int) -> Gig:
    """The gig for its page or for ordering from it: 404 if it does not exist,
    or if it is retired and ``user`` is not its seller."""
    gig = Gig.objects.select_related("seller").filter(pk=pk).first()
    if gig is None or (not gig.is_active and gig.seller_id != user.pk):
        raise Http404("No such gig")
    return gig
