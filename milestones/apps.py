from django.apps import AppConfig


class MilestonesConfig(AppConfig):
    name = "milestones"

    def ready(self) -> None:
        # Hooks into payments below, which never imports milestones. Imported here, not at the top:
        # apps.py is loaded before the models are (the app registry), and these modules import them.
        from milestones.audit import escrow_matches_state, transactions_match_milestones
        from milestones.services.purposes import CHECKOUT_PURPOSES
        from payments.audit import register_audit_check
        from payments.checkout import register_checkout_purpose

        register_audit_check(escrow_matches_state)
        register_audit_check(transactions_match_milestones)
        for name, purpose in CHECKOUT_PURPOSES.items():
            register_checkout_purpose(name, purpose)
