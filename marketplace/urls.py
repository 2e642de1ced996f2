"""The site's URLs: each app's own, mounted at the root."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from marketplace.health import healthz, livez

# The admin logs in through allauth's page (with its two-factor step), never its own password form.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", healthz, name="readyz"),
    path("livez", livez, name="livez"),
    path("admin/", admin.site.urls),
    path("", include("gigs.urls")),
    path("", include("accounts.urls")),
    path("", include("webhooks.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("dashboards.urls")),
    path("", include("notifications.urls")),
    path("", include("orders.urls")),
    path("", include("inbox.urls")),
    path("", include("milestones.urls")),
    path("", include("payments.urls")),
    path("", include("sandbox.urls")),
    path("", include("reviews.urls")),
    path("", include("calendar_feed.urls")),
    path("", include("requests_board.urls")),
    path("", include("privacy.urls")),
    path("", include("api.urls")),
]
