"""The notifications page, and marking notices read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from marketplace.pagination import paginate
from notifications import selectors
from notifications.services import notifications_mark_read

NOTIFICATIONS_PER_PAGE = 25


@login_required
def notifications(request: AuthedRequest) -> HttpResponse:
    unread_only = request.GET.get("show") == "unread"
    page = paginate(request, selectors.notifications_for(request.user, unread_only=unread_only), NOTIFICATIONS_PER_PAGE)
    context = {"page": page, "notifications": page.object_list, "unread_only": unread_only}
    return render(request, "notifications/notifications.html", context)


@login_required
@require_POST
def notifications_read(request: AuthedRequest) -> HttpResponse:
    count = notifications_mark_read(user=request.user)
    if count:
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
    else:
        messages.info(request, "Nothing new to mark as read.")
    return redirect("notifications")
