"""The "API tokens" page of the profile: create a token (its secret shown once), list them, revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from api.forms import ApiTokenForm
from api.models import ApiToken
from api.services import api_token_create, api_token_revoke
from marketplace.errors import DomainError
from marketplace.forms import add_domain_error


@login_required
def api_tokens(request: AuthedRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    created = secret = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = api_token_create(
                user=request.user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"]
            )
        except DomainError as error:
            if not add_domain_error(form, error):
                messages.error(request, error.message)
        else:
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    # The secret is rendered in this answer only, never stored or put in the session: reloading loses it.
    response = render(
        request, "api/tokens.html", {"form": form, "tokens": tokens, "created": created, "secret": secret}
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def api_token_revoke_view(request: AuthedRequest, pk: int) -> HttpResponse:
    token = ApiToken.objects.filter(pk=pk, user=request.user).first()
    if token is None:
        raise Http404("No such token")
    try:
        api_token_revoke(token=token, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("The token “{name}” is revoked; it opens nothing from now on.").format(name=token.name)
        )
    return redirect("api_tokens")
