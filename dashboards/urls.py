from django.urls import path

from dashboards import metrics, views

urlpatterns = [
    path("metrics", metrics.metrics, name="metrics"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/buying/", views.buyer_dashboard, name="buyer_dashboard"),
    path("dashboard/selling/", views.seller_dashboard, name="seller_dashboard"),
]
