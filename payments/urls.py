from django.urls import path

from payments import connect_views, views, webhooks

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
    path("earnings/withdraw/", views.withdraw, name="withdraw"),
    path("earnings/withdrawal-method/", views.withdrawal_method_choose, name="withdrawal_method_choose"),
    path("earnings/refund-to-card/", views.refund_to_card, name="refund_to_card"),
    path("earnings/payouts/connect/", connect_views.payout_onboarding, name="payout_onboarding"),
    path("earnings/payouts/connect/return/", connect_views.payout_onboarding_return, name="payout_onboarding_return"),
    path("earnings/export.csv", views.earnings_export, name="earnings_export"),
    path("receipts/<int:pk>/", views.receipt, name="receipt"),
    path("payments/webhooks/<str:provider>/", webhooks.webhook, name="payment_webhook"),
]
