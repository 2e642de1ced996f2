from django.urls import path

from calendar_feed import views

urlpatterns = [
    path("calendar/<str:token>.ics", views.calendar_feed_ics, name="calendar_feed_ics"),
    path("dashboard/calendar-feed/", views.calendar_feed_create, name="calendar_feed_create"),
    path("dashboard/calendar-feed/revoke/", views.calendar_feed_revoke, name="calendar_feed_revoke"),
]
