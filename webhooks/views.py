"""The "Webhooks" pages of the profile: the user's endpoints, "Add endpoint", an endpoint's page
(its secret, its delivery log, "Send again"), disabling and deleting one. Someone else's endpoint
or delivery is a 404."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from marketplace.errors import DomainError
from marketplace.forms import add_domain_error
from marketplace.pagination import paginate
from webhooks.forms import EndpointForm
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    InvalidInputs,
    delivery_resend,
    endpoint_create,
    endpoint_delete,
    endpoint_for,
    endpoint_set_active,
)


def _user(request: HttpRequest) -> AbstractBaseUser:
    return cast(AbstractBaseUser, request.user)


def _own_endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    try:
        return endpoint_for(user=_user(request), endpoint_id=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise Http404 from None


@require_GET
@login_required
def webhook_list(request: HttpRequest) -> HttpResponse:
    endpoints = WebhookEndpoint.objects.filter(user=_user(request))
    return render(request, "webhooks/list.html", {"endpoints": endpoints})


@require_http_methods(["GET", "POST"])
@login_required
def webhook_add(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = endpoint_create(
                user=_user(request), url=form.cleaned_data["url"], events=form.cleaned_data["events"]
            )
        except InvalidInputs as errors:
            for error in errors.errors:
                add_domain_error(form, error)
        except DomainError as error:
            if not add_domain_error(form, error):
                form.add_error(None, error.message)
        else:
            messages.success(request, _("Endpoint added. Use its signing secret below to check our signatures."))
            return redirect(endpoint)
    status = 400 if form.errors else 200
    return render(request, "webhooks/add.html", {"form": form}, status=status)


@require_GET
@login_required
def webhook_endpoint(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _own_endpoint(request, endpoint_id)
    page = paginate(request, WebhookDelivery.objects.filter(endpoint=endpoint), per_page=25)
    context = {"endpoint": endpoint, "page": page}
    return render(request, "webhooks/endpoint.html", context)


@require_POST
@login_required
def webhook_set_active(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    try:
        endpoint = endpoint_set_active(
            user=_user(request), endpoint_id=endpoint_id, active=request.POST.get("active") == "1"
        )
    except WebhookEndpoint.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("Endpoint enabled.") if endpoint.is_active else _("Endpoint disabled."))
    return redirect(endpoint)


@require_POST
@login_required
def webhook_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    try:
        endpoint_delete(user=_user(request), endpoint_id=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("Endpoint deleted, with its delivery log."))
    return redirect("webhooks")


@require_POST
@login_required
def webhook_resend(request: HttpRequest, delivery_id: int) -> HttpResponse:
    try:
        delivery = delivery_resend(user=_user(request), delivery_id=delivery_id)
    except WebhookDelivery.DoesNotExist:
        raise Http404 from None
    except DomainError as error:
        delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
        messages.error(request, error.message)
        return redirect(delivery.endpoint)
    messages.success(request, _("Queued to be sent again."))
    return redirect(delivery.endpoint)
