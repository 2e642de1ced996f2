from django.apps import AppConfig


class MilestonesConfig(AppConfig):
    name = "milestones"

    def ready(self) -> None:
        # Hooks into the kernel and payments below, which never import milestones.
        from marketplace.sweeps import Sweep, register_sweep
        from milestones import sweeps
        from milestones.audit import escrow_matches_state, transactions_match_milestones
        from milestones.services.purposes import CHECKOUT_PURPOSES
        from payments.audit import register_audit_check
        from payments.checkout import register_checkout_purpose

        register_audit_check(escrow_matches_state)
        register_audit_check(transactions_match_milestones)
        register_sweep(Sweep("auto_approve", sweeps.sweep_auto_approve, sweeps.auto_approve_due))
        register_sweep(Sweep("reminders", sweeps.sweep_reminders, sweeps.reminders_due))
        register_sweep(Sweep("late", sweeps.sweep_late, sweeps.late_due))
        register_sweep(Sweep("checkouts", sweeps.sweep_checkouts, sweeps.checkouts_due))
        register_sweep(Sweep("proposals", sweeps.sweep_proposals, sweeps.proposals_due))
        register_sweep(Sweep("offers", sweeps.sweep_offers, sweeps.offers_due))
        register_sweep(Sweep("orders", sweeps.sweep_orders, sweeps.orders_due))
        for name, purpose in CHECKOUT_PURPOSES.items():
            register_checkout_purpose(name, purpose)
