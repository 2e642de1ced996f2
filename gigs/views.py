"""Gig pages: the home page's list and search, a gig, publishing, editing,
pausing and resuming one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from gigs import selectors as gig_selectors
from gigs.forms import GigForm, GigSearchForm
from gigs.models import Gig
from gigs.services import gig_create, gig_pause, gig_resume, gig_update
from marketplace.errors import DomainError
from marketplace.forms import show_domain_error
from marketplace.pagination import paginate

GIGS_PER_PAGE = 12


def home(request: HttpRequest) -> HttpResponse:
    """The list and the search. A query that matches nothing gets a "Did you
    mean" and the gigs with titles like it (``gigs_matching_similar``); a
    price filter says how many gigs it hides for their currency alone. Both
    cost a fixed number of queries, and only when they apply."""
    form = GigSearchForm(request.GET)
    filters = form.filters()
    page = paginate(request, gig_selectors.gigs_search(**filters, saved_by=request.user), GIGS_PER_PAGE)
    suggestion, similar = "", False
    if filters["query"] and not page.paginator.count:
        suggestion = gig_selectors.search_suggestion(filters["query"])
        similar_page = paginate(
            request,
            gig_selectors.gigs_search(**filters, suggestion=suggestion, saved_by=request.user),
            GIGS_PER_PAGE,
        )
        if similar_page.paginator.count:
            page, similar = similar_page, True
    hidden = gig_selectors.gigs_hidden_by_currency(**filters, suggestion=suggestion if similar else None)
    context = {
        "page": page,
        "gigs": page.object_list,
        "search": filters["query"],
        "form": form,
        "suggestion": suggestion,
        "similar": similar,
        "currency": filters["currency"],
        "hidden_by_currency": hidden,
        "hidden_words": hidden_words(hidden),
    }
    return render(request, "gigs/home.html", context)


def hidden_words(hidden_by_currency: list[tuple[str, int]]) -> str:
    """What the price filter hides for its currency alone, in words: "3 EUR gigs and 1 GBP gig"."""
    parts = [
        ngettext("{count} {code} gig", "{count} {code} gigs", hidden).format(count=hidden, code=code)
        for code, hidden in hidden_by_currency
    ]
    if len(parts) < 2:
        return "".join(parts)
    return pgettext("list", "{items} and {last}").format(items=", ".join(parts[:-1]), last=parts[-1])


def gig_detail(request: HttpRequest, pk: int) -> HttpResponse:
    gig = gig_selectors.gig_for_viewer(request.user, pk, show_paused=True)
    is_own = request.user.is_authenticated and gig.seller_id == request.user.pk
    context = {
        "gig": gig,
        "is_own": is_own,
        "is_saved": gig_selectors.gig_is_saved(request.user, gig),
        "packages": gig_selectors.gig_packages(gig),
        "extras": gig_selectors.gig_extras(gig),
    }
    return render(request, "gigs/gig_detail.html", context)


@login_required
def gig_create_view(request: AuthedRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "gigs/gig_form.html", {"form": GigForm.blank()})
    form, added = GigForm.for_post(request.POST)
    if not added and form.is_valid():
        try:
            gig = gig_create(seller=request.user, **form.service_kwargs())
        except DomainError as error:
            show_domain_error(request, form, error, aliases=form.service_fields())
        else:
            messages.success(request, _("Your gig is live."))
            return redirect("gig_detail", pk=gig.pk)
    return render(request, "gigs/gig_form.html", {"form": form}, status=400 if form.is_bound else 200)


def _own_gig(request: AuthedRequest, pk: int) -> Gig:
    """The signed-in user's own gig; anyone else's is 404, as if it did not exist."""
    gig = gig_selectors.gig_for_viewer(request.user, pk)
    if gig.seller_id != request.user.pk:
        raise Http404("Only the gig's seller may change it")
    return gig


@login_required
def gig_edit_view(request: AuthedRequest, pk: int) -> HttpResponse:
    """The gig's terms, packages, extras and questions. "Add step" and the other "Add ..."
    buttons send the form too: it comes back with one more row and nothing saved."""
    gig = _own_gig(request, pk)
    if request.method != "POST":
        return render(request, "gigs/gig_form.html", {"form": GigForm.for_gig(gig), "gig": gig})
    form, added = GigForm.for_post(request.POST)
    if not added and form.is_valid():
        try:
            gig_update(gig=gig, actor=request.user, **form.service_kwargs())
        except DomainError as error:
            show_domain_error(request, form, error, aliases=form.service_fields())
        else:
            messages.success(request, _("Your gig is updated."))
            return redirect("gig_detail", pk=gig.pk)
    context = {"form": form, "gig": gig}
    return render(request, "gigs/gig_form.html", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def gig_pause_view(request: AuthedRequest, pk: int) -> HttpResponse:
    gig = _own_gig(request, pk)
    try:
        gig_pause(gig=gig, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your gig is paused: buyers cannot find or order it until you resume it."))
    return redirect("gig_detail", pk=gig.pk)


@login_required
@require_POST
def gig_resume_view(request: AuthedRequest, pk: int) -> HttpResponse:
    gig = _own_gig(request, pk)
    try:
        gig_resume(gig=gig, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your gig is live again."))
    return redirect("gig_detail", pk=gig.pk)
