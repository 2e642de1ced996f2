"""Saved gigs: "Save" and "Saved" on gig cards and pages, and the "Saved" page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from accounts.http import AuthedRequest
from gigs import selectors as gig_selectors
from gigs.models import Gig
from gigs.services import gig_save, gig_unsave
from marketplace.errors import DomainError
from marketplace.pagination import paginate

SAVED_PER_PAGE = 12


def _back(request: HttpRequest, gig: Gig) -> str:
    """Where the button was pressed: the form's ``next`` (the page's path and query), else the
    Referer, else the gig's page; only ever a URL of this site."""
    for candidate in (request.POST.get("next", ""), request.headers.get("Referer", "")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return gig.get_absolute_url()


@require_POST
def gig_save_view(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Save": for someone signed in, keep the gig and go back; for anyone else, log in first and
    come back to the page they pressed it on."""
    gig = gig_selectors.gig_for_viewer(request.user, pk, show_paused=True)
    if not request.user.is_authenticated:
        return redirect_to_login(_back(request, gig))
    try:
        gig_save(gig=gig, user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Saved “{title}”: find it under Saved.").format(title=gig.title))
    return redirect(_back(request, gig))


@require_POST
def gig_unsave_view(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Saved", pressed: the gig is no longer kept (any gig, one no longer available included)."""
    gig = get_object_or_404(Gig, pk=pk)
    if not request.user.is_authenticated:
        return redirect_to_login(_back(request, gig))
    gig_unsave(gig=gig, user=request.user)
    messages.success(request, _("Removed “{title}” from your saved gigs.").format(title=gig.title))
    return redirect(_back(request, gig))


@require_safe
@login_required
def saved_gigs(request: AuthedRequest) -> HttpResponse:
    page = paginate(request, gig_selectors.gigs_saved_by(request.user), SAVED_PER_PAGE)
    return render(request, "gigs/saved.html", {"page": page, "gigs": page.object_list})
