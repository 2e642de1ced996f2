from django.urls import path

from gigs import views

urlpatterns = [
    path("", views.home, name="home"),
    path("gigs/new/", views.gig_create_view, name="gig_create"),
    path("gigs/<int:pk>/", views.gig_detail, name="gig_detail"),
    path("gigs/<int:pk>/edit/", views.gig_edit_view, name="gig_edit"),
    path("gigs/<int:pk>/pause/", views.gig_pause_view, name="gig_pause"),
    path("gigs/<int:pk>/resume/", views.gig_resume_view, name="gig_resume"),
]
