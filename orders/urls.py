from django.urls import path

from orders import views

urlpatterns = [
    path("orders/<int:pk>/", views.order_detail, name="order_detail"),
]
