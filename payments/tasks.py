"""Thin Celery tasks over payments services and sweeps."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from marketplace.sweeps import sweep_tick
from payments import sweeps
from payments.outbox import command_execute


@shared_task(acks_late=True)
def execute_command(command_id: int) -> str:
    return command_execute(command_id=command_id).outcome


@shared_task(acks_late=True)
def expire_provider_session(checkout_id: int) -> bool:
    """Close the provider's page of a checkout we closed, so it cannot be paid
    any more (if it is paid meanwhile, the late payment is refunded)."""
    from payments.models import Checkout
    from payments.providers import get_provider

    checkout = Checkout.objects.filter(pk=checkout_id).exclude(session_id="").first()
    if checkout is None:
        return False
    get_provider(checkout.provider).checkout_expire(checkout.session_id)
    return True


@shared_task(acks_late=True)
def sweep_clearance() -> dict[str, Any]:
    return sweep_tick(sweep_clearance, sweeps.sweep_clearance)


@shared_task(acks_late=True)
def sweep_outbox() -> dict[str, Any]:
    return sweep_tick(sweep_outbox, sweeps.sweep_outbox)


# The first seal of a large existing ledger reads all of it.
@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3660)
def seal_ledger() -> int | None:
    """Checkpoint the ledger (``payments.integrity.ledger_seal``); the seal's id, or None if nothing was new."""
    from payments.integrity import ledger_seal

    seal = ledger_seal()
    return seal.pk if seal is not None else None
