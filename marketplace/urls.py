"""The site's URLs: each app's own, mounted at the root."""

from django.contrib import admin
from django.urls import include, path

from marketplace.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("gigs.urls")),
    path("", include("accounts.urls")),
    path("", include("dashboards.urls")),
    path("", include("notifications.urls")),
    path("", include("orders.urls")),
    path("", include("milestones.urls")),
    path("", include("payments.urls")),
    path("", include("sandbox.urls")),
    path("", include("reviews.urls")),
]
