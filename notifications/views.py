"""The notifications page, and marking notices read.

Typed on Django's own request: this app sits below ``accounts`` and knows
the user only as ``AUTH_USER_MODEL`` (``login_required`` guarantees one).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from marketplace.pagination import paginate
from marketplace.templatetags.marketplace_tags import local_url
from notifications import selectors, services
from notifications.models import Notification
from notifications.services import notifications_mark_read

NOTIFICATIONS_PER_PAGE = 25


def _signed_in(request: HttpRequest) -> AbstractBaseUser:
    user = request.user
    if isinstance(user, AnonymousUser):  # login_required has sent it to the login page
        raise PermissionDenied
    return user


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("show") == "unread"
    page = paginate(
        request, selectors.notifications_for(_signed_in(request), unread_only=unread_only), NOTIFICATIONS_PER_PAGE
    )
    context = {"page": page, "notifications": page.object_list, "unread_only": unread_only}
    return render(request, "notifications/notifications.html", context)


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Opening a notice: read from now on, then to what it is about."""
    try:
        notification = services.notification_open(user=_signed_in(request), notification_id=pk)
    except Notification.DoesNotExist:
        raise Http404(_("No such notification")) from None
    # Only into this site: a stored URL never sends anyone elsewhere.
    return redirect(local_url(notification.url) or "notifications")


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    count = notifications_mark_read(user=_signed_in(request))
    if count:
        messages.success(
            request,
            ngettext("Marked {count} notification as read.", "Marked {count} notifications as read.", count).format(
                count=count
            ),
        )
    else:
        messages.info(request, _("Nothing new to mark as read."))
    return redirect("notifications")
