from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        # Inside ready(): payments.connect imports models, which the app registry loads first.
        from accounts.payouts import register_payout_tokenizer
        from payments.connect import payout_tokenize

        # The profile (accounts, below) keeps a payout account as the provider's token for it.
        register_payout_tokenizer(payout_tokenize)
