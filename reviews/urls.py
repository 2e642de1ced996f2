from django.urls import path

from reviews import views

urlpatterns = [
    path("orders/<int:pk>/review/", views.review_new, name="review_new"),
    path("orders/<int:pk>/review/request/", views.review_request, name="review_request"),
    path("reviews/<int:pk>/reply/", views.review_reply, name="review_reply"),
    path("users/<str:username>/", views.profile, name="profile_public"),
    path("portfolio/files/<int:pk>/", views.portfolio_file, name="portfolio_file"),
]
