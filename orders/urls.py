from django.urls import path

from orders import views

urlpatterns = [
    path("orders/<int:pk>/", views.order_detail, name="order_detail"),
    path("orders/<int:pk>/messages/", views.order_message, name="order_message"),
    path("orders/<int:pk>/complete/", views.order_complete, name="order_complete"),
]
