from django.urls import path

from inbox import views

urlpatterns = [
    path("messages/", views.inbox, name="inbox"),
    path("messages/live/", views.inbox_live, name="inbox_live"),
    path("messages/inquiries/<int:pk>/live/", views.inquiry_live, name="inquiry_live"),
    path("gigs/<int:pk>/contact/", views.inquiry_start, name="inquiry_start"),
    path("messages/inquiries/<int:pk>/", views.inquiry_detail, name="inquiry_detail"),
    path("messages/files/<int:pk>/", views.message_file, name="message_file"),
    path("messages/inquiries/files/<int:pk>/", views.inquiry_file, name="inquiry_file"),
]
