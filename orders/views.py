"""Opening an order from a gig. The order page itself is built around its
milestones and lives in ``milestones/order_views.py``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.http import AuthedRequest
from gigs.selectors import gig_for_viewer
from marketplace.errors import DomainError
from marketplace.forms import show_domain_error
from orders.forms import OrderStartForm
from orders.services import order_create


@login_required
def order_start(request: AuthedRequest, pk: int) -> HttpResponse:
    gig = gig_for_viewer(request.user, pk)
    if gig.seller_id == request.user.pk:
        messages.error(request, _("You cannot order your own gig."))
        return redirect("gig_detail", pk=gig.pk)
    form = OrderStartForm(request.POST or None, initial={"title": gig.title})
    if request.method == "POST" and form.is_valid():
        try:
            order = order_create(
                buyer=request.user, gig=gig, title=form.cleaned_data["title"], brief=form.cleaned_data["brief"]
            )
        except DomainError as error:
            show_domain_error(request, form, error)
        else:
            messages.success(
                request,
                _("Order opened with {name}. Add the first milestone to start.").format(name=gig.seller.username),
            )
            return redirect(order.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(request, "orders/order_start.html", {"gig": gig, "form": form}, status=status)
