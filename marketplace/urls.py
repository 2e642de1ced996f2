from django.contrib import admin
from django.urls import include, path

from marketplace import views
from marketplace.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", views.home, name="home"),
    path("gigs/new/", views.gig_create_view, name="gig_create"),
    path("gigs/<int:pk>/", views.gig_detail, name="gig_detail"),
    path("gigs/<int:pk>/order/", views.order_start, name="order_start"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/profile/", views.profile, name="profile"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/buying/", views.buyer_dashboard, name="buyer_dashboard"),
    path("dashboard/selling/", views.seller_dashboard, name="seller_dashboard"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("", include("orders.urls")),
    path("", include("milestones.urls")),
    path("", include("payments.urls")),
]
