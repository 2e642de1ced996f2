from django.urls import path

from gigs import image_views, saved_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("gigs/new/", views.gig_create_view, name="gig_create"),
    path("gigs/<int:pk>/", views.gig_detail, name="gig_detail"),
    path("gigs/<int:pk>/edit/", views.gig_edit_view, name="gig_edit"),
    path("gigs/<int:pk>/pause/", views.gig_pause_view, name="gig_pause"),
    path("gigs/<int:pk>/resume/", views.gig_resume_view, name="gig_resume"),
    path("gigs/<int:pk>/save/", saved_views.gig_save_view, name="gig_save"),
    path("gigs/<int:pk>/unsave/", saved_views.gig_unsave_view, name="gig_unsave"),
    path("saved/", saved_views.saved_gigs, name="saved_gigs"),
    path("gigs/<int:pk>/images/", image_views.gig_images_view, name="gig_images"),
    path("gigs/<int:pk>/images/<int:image_pk>/description/", image_views.gig_image_alt_view, name="gig_image_alt"),
    path("gigs/<int:pk>/images/<int:image_pk>/move/", image_views.gig_image_move_view, name="gig_image_move"),
    path("gigs/<int:pk>/images/<int:image_pk>/remove/", image_views.gig_image_remove_view, name="gig_image_remove"),
    path(
        "gigs/<int:pk>/images/<int:image_pk>/<str:size>.webp",
        image_views.gig_image_file,
        name="gig_image_file",
    ),
]
