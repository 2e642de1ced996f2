from django.urls import path

from payments import views

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
    path("earnings/withdraw/", views.withdraw, name="withdraw"),
]
