"""Thin Celery tasks over payments services (the sweeps' own tasks are made by
``marketplace.sweeps.register_sweep``, in ``payments/sweeps.py``)."""

from __future__ import annotations

from celery import shared_task

from payments.integrity import ledger_seal
from payments.models import Checkout
from payments.outbox import command_execute
from payments.providers import get_provider


@shared_task(acks_late=True)
def execute_command(command_id: int) -> str:
    return command_execute(command_id=command_id).outcome


@shared_task(acks_late=True)
def expire_provider_session(checkout_id: int) -> bool:
    """Close the provider's page of a checkout we closed, so it cannot be paid
    any more (if it is paid meanwhile, the late payment is refunded)."""

    checkout = Checkout.objects.filter(pk=checkout_id).exclude(session_id="").first()
    if checkout is None:
        return False
    get_provider(checkout.provider).checkout_expire(checkout.session_id)
    return True


# The first seal of a large existing ledger reads all of it.
@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3660)
def seal_ledger() -> int | None:
    """Checkpoint the ledger (``payments.integrity.ledger_seal``); the seal's id, or None if nothing was new."""

    seal = ledger_seal()
    return seal.pk if seal is not None else None
