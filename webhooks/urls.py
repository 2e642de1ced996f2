from django.urls import path

from webhooks import views

urlpatterns = [
    path("accounts/webhooks/", views.webhook_list, name="webhooks"),
    path("accounts/webhooks/add/", views.webhook_add, name="webhook_add"),
    path("accounts/webhooks/<int:endpoint_id>/", views.webhook_endpoint, name="webhook_endpoint"),
    path("accounts/webhooks/<int:endpoint_id>/active/", views.webhook_set_active, name="webhook_set_active"),
    path("accounts/webhooks/<int:endpoint_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path("accounts/webhooks/deliveries/<int:delivery_id>/send/", views.webhook_resend, name="webhook_resend"),
]
