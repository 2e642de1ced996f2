"""Gig pages: the home page's list and search, a gig, publishing one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.http import AuthedRequest
from gigs import selectors as gig_selectors
from gigs.forms import GigForm
from gigs.services import gig_create
from marketplace.errors import DomainError
from marketplace.forms import show_domain_error
from marketplace.pagination import paginate

GIGS_PER_PAGE = 12


def home(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    page = paginate(request, gig_selectors.gigs_active(search=search), GIGS_PER_PAGE)
    return render(request, "gigs/home.html", {"page": page, "gigs": page.object_list, "search": search})


def gig_detail(request: HttpRequest, pk: int) -> HttpResponse:
    gig = gig_selectors.gig_for_viewer(request.user, pk)
    is_own = request.user.is_authenticated and gig.seller_id == request.user.pk
    return render(request, "gigs/gig_detail.html", {"gig": gig, "is_own": is_own})


@login_required
def gig_create_view(request: AuthedRequest) -> HttpResponse:
    form = GigForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            gig = gig_create(seller=request.user, **form.service_kwargs())
        except DomainError as error:
            show_domain_error(request, form, error)
        else:
            messages.success(request, "Your gig is live.")
            return redirect("gig_detail", pk=gig.pk)
    return render(request, "gigs/gig_form.html", {"form": form}, status=400 if form.errors else 200)
