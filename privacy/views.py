"""The "Your data" page: download a copy of it, or delete the account."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthedRequest
from accounts.models import SecurityEventKind
from accounts.services import security_event_record
from marketplace.errors import DomainError
from marketplace.forms import add_domain_error
from marketplace.http import client_ip
from privacy.export import user_data_zip
from privacy.forms import DeleteAccountForm
from privacy.services import account_delete, account_deletion_blockers


@require_GET
@login_required
def your_data(request: AuthedRequest) -> HttpResponse:
    return _page(request, DeleteAccountForm())


def _page(request: AuthedRequest, form: DeleteAccountForm, status: int = 200) -> HttpResponse:
    context = {"form": form, "blockers": account_deletion_blockers(request.user)}
    return render(request, "privacy/your_data.html", context, status=status)


@require_POST
@login_required
def data_download(request: AuthedRequest) -> FileResponse:
    """The zip, built now (a few seconds for a busy account) and streamed from a temporary file."""
    archive = user_data_zip(request.user)
    security_event_record(user=request.user, kind=SecurityEventKind.DATA_EXPORTED, ip=client_ip(request))
    name = f"marketplace-data-{request.user.username}-{timezone.localdate():%Y-%m-%d}.zip"
    return FileResponse(archive, as_attachment=True, filename=name, content_type="application/zip")


@require_POST
@login_required
def account_delete_view(request: AuthedRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST)
    if form.is_valid():
        try:
            account_delete(user=request.user, password=form.cleaned_data["password"], ip=client_ip(request))
        except DomainError as error:
            if not add_domain_error(form, error):
                form.add_error(None, error.message)
        else:
            logout(request)
            messages.success(request, _("Your account is deleted. Thank you for using the marketplace."))
            return redirect("home")
    return _page(request, form, status=400)
