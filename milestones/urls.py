from django.urls import path

from milestones import order_views, views

urlpatterns = [
    path("orders/<int:pk>/", order_views.order_detail, name="order_detail"),
    path("orders/<int:pk>/messages/", order_views.order_message, name="order_message"),
    path("orders/<int:pk>/complete/", order_views.order_complete, name="order_complete"),
    path("orders/<int:pk>/milestones/new/", views.milestone_new, name="milestone_new"),
    path("orders/<int:pk>/milestones/pay/<str:key>/", views.milestone_pay, name="milestone_pay"),
    path("milestones/<int:pk>/accept/", views.milestone_accept, name="milestone_accept"),
    path("milestones/<int:pk>/decline/", views.milestone_decline, name="milestone_decline"),
    path("milestones/<int:pk>/cancel/", views.milestone_cancel, name="milestone_cancel"),
    path("milestones/<int:pk>/submit/", views.milestone_submit, name="milestone_submit"),
    path("milestones/<int:pk>/request-revision/", views.milestone_request_revision, name="milestone_request_revision"),
    path("milestones/<int:pk>/approve/", views.milestone_approve, name="milestone_approve"),
    path("milestones/<int:pk>/dispute/", views.milestone_dispute, name="milestone_dispute"),
    path("milestones/<int:pk>/dispute/statement/", views.dispute_statement, name="dispute_statement"),
    path("deliverables/<int:pk>/", views.deliverable_download, name="deliverable_download"),
    path("disputes/statements/<int:pk>/file/", views.dispute_attachment, name="dispute_attachment"),
]
