"""The project's URLs plus one minimal view, the baseline for the page benchmarks.

Only mounted by ``bench.wsgi`` when ``BENCH_VIEWS=1``.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from marketplace.urls import urlpatterns as project_urlpatterns
from notifications.models import Notification


@login_required
def minimal(request: HttpRequest) -> HttpResponse:
    # The same stack as a page (session, user, middleware) and exactly one query of its own.
    unread = Notification.objects.filter(recipient=request.user, read_at__isnull=True).count()
    return HttpResponse(f"<!doctype html><title>minimal</title><p>{unread} unread</p>")


urlpatterns = [*project_urlpatterns, path("bench/minimal/", minimal, name="bench_minimal")]
