from django.urls import path

from requests_board import views

urlpatterns = [
    path("requests/", views.request_list, name="request_list"),
    path("requests/new/", views.request_new, name="request_new"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/withdraw/", views.request_withdraw_view, name="request_withdraw"),
    path("requests/<int:pk>/files/<int:file_pk>/", views.request_file, name="request_file"),
    path(
        "requests/<int:pk>/proposals/<int:proposal_pk>/withdraw/",
        views.proposal_withdraw_view,
        name="proposal_withdraw",
    ),
    path("requests/<int:pk>/proposals/<int:proposal_pk>/hire/", views.proposal_hire, name="proposal_hire"),
]
