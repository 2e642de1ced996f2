from django.urls import path

from privacy import views

urlpatterns = [
    path("accounts/data/", views.your_data, name="your_data"),
    path("accounts/data/download/", views.data_download, name="data_download"),
    path("accounts/data/delete/", views.account_delete_view, name="account_delete"),
]
