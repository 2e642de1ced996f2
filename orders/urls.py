from django.urls import path

from orders import views

urlpatterns = [
    path("gigs/<int:pk>/order/", views.order_start, name="order_start"),
]
