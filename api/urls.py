from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import endpoints, views

router = DefaultRouter()
router.register("orders", endpoints.OrderViewSet, basename="api-order")
router.register("milestones", endpoints.MilestoneViewSet, basename="api-milestone")
router.register("proposals", endpoints.ProposalViewSet, basename="api-proposal")
router.register("notifications", endpoints.NotificationViewSet, basename="api-notification")
router.register("gigs", endpoints.GigViewSet, basename="api-gig")

# Swagger UI styles its own elements inline: the docs page alone may use inline styles. Its scripts
# are files served from this host (drf-spectacular-sidecar), its start script a second request.
docs = csp_update({"style-src": ["'self'", "'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api_schema")
)

urlpatterns = [
    path("accounts/api-tokens/", views.api_tokens, name="api_tokens"),
    path("accounts/api-tokens/<int:pk>/revoke/", views.api_token_revoke_view, name="api_token_revoke"),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api_schema"),
    path("api/docs/", docs, name="api_docs"),
    path("api/v1/me/", endpoints.MeView.as_view(), name="api-me"),
    path("api/v1/balance/", endpoints.BalanceView.as_view(), name="api-balance"),
    path("api/v1/ledger/", endpoints.LedgerView.as_view(), name="api-ledger"),
    path("api/v1/receipts/<int:pk>/", endpoints.ReceiptView.as_view(), name="api-receipt"),
    path("api/v1/", include(router.urls)),
]
