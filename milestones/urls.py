from django.urls import path

from milestones import exports, offer_views, order_views, package_views, tip_views, views
from milestones.actions import ACTIONS

urlpatterns = [
    path("milestones/export.csv", exports.milestones_export, name="milestones_export"),
    path("orders/", order_views.order_list, name="order_list"),
    path("orders/<int:pk>/", order_views.order_detail, name="order_detail"),
    path("orders/<int:pk>/messages/", order_views.order_message, name="order_message"),
    path("orders/<int:pk>/live/", order_views.order_live, name="order_live"),
    path("orders/<int:pk>/complete/", order_views.order_complete, name="order_complete"),
    path("orders/<int:pk>/milestones/new/", views.milestone_new, name="milestone_new"),
    path("orders/<int:pk>/milestones/pay/<str:key>/", views.milestone_pay, name="milestone_pay"),
    path("milestones/<int:pk>/checkout/", views.milestone_checkout, name="milestone_checkout"),
    path("milestones/<int:pk>/checkout/return/", views.milestone_checkout_return, name="milestone_checkout_return"),
    path("orders/<int:pk>/milestones/offer/", offer_views.offer_new, name="offer_new"),
    path("gigs/<int:pk>/offer/", offer_views.custom_offer_new, name="custom_offer_new"),
    path("milestones/<int:pk>/accept-offer/", offer_views.offer_accept, name="offer_accept"),
    path("proposals/<int:pk>/accept/", offer_views.proposal_accept, name="proposal_accept"),
    path("proposals/<int:pk>/checkout/return/", offer_views.changes_checkout_return, name="changes_checkout_return"),
    path("proposals/<int:pk>/decline/", views.proposal_answer, {"answer": "decline"}, name="proposal_decline"),
    path("proposals/<int:pk>/withdraw/", views.proposal_answer, {"answer": "withdraw"}, name="proposal_withdraw"),
    # Ordering a gig package (issue 35); here, not in gigs/urls.py: the page is the milestones' (layers).
    path("gigs/<int:gig_id>/packages/<int:position>/order/", package_views.package_order, name="package_order"),
    path("milestones/<int:pk>/continue/", package_views.continue_view, name="milestone_continue"),
    path(
        "milestones/<int:pk>/continue/return/",
        package_views.continue_checkout_return,
        name="continue_checkout_return",
    ),
    path("requirements/<int:pk>/file/", package_views.requirement_file, name="requirement_file"),
    path("milestones/<int:pk>/tip/", tip_views.milestone_tip, name="milestone_tip"),
    path("milestones/<int:pk>/tip/return/", tip_views.tip_checkout_return, name="tip_checkout_return"),
    path("milestones/<int:pk>/cancellation/figures/", views.cancellation_figures, name="cancellation_figures"),
    path("milestones/<int:pk>/portfolio/", views.milestone_portfolio, name="milestone_portfolio"),
    path("deliverables/<int:pk>/", views.deliverable_download, name="deliverable_download"),
    path("disputes/statements/<int:pk>/file/", views.dispute_attachment, name="dispute_attachment"),
    # One URL per action of milestones.actions: milestones/<pk>/<path>/.
    *(
        path(f"milestones/<int:pk>/{action.path}/", views.milestone_action, {"name": action.name}, name=action.url_name)
        for action in ACTIONS
        if not action.own_view
    ),
]
