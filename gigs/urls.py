from django.urls import path

from gigs import views

urlpatterns = [
    path("", views.home, name="home"),
    path("gigs/new/", views.gig_create_view, name="gig_create"),
    path("gigs/<int:pk>/", views.gig_detail, name="gig_detail"),
]
