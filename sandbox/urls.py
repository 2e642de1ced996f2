from django.urls import path

from sandbox import views

urlpatterns = [
    path("sandbox/checkout/<str:session_id>/", views.checkout, name="sandbox_checkout"),
]
