"""The sandbox's own record of what it did: every charge, refund and payout
under its idempotency key, so a replayed key gets the first answer, as
Stripe's API gives it. The provider (``sandbox.provider``) and the hosted
page's side (``sandbox.services``) both write here."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_noop
from djmoney.money import Money

from payments.providers import ProviderResult
from sandbox import cards
from sandbox.models import SandboxOperation


def new_id(prefix: str) -> str:
    return f"{prefix}_sandbox_{uuid.uuid4().hex[:24]}"


def record_operation(
    *, kind: str, key: str, amount: Money, ok: bool, reference: str, target: str = "", failure_code: str = ""
) -> ProviderResult:
    """Store the answer under its key; a replayed key returns the first answer instead."""
    existing = SandboxOperation.objects.filter(idempotency_key=key).first()
    if existing is None:
        try:
            with transaction.atomic():
                SandboxOperation.objects.create(
                    idempotency_key=key,
                    kind=kind,
                    amount=amount,
                    succeeded=ok,
                    reference=reference if ok else "",
                    target=target,
                    failure_code=failure_code,
                )
            return ProviderResult(
                ok=ok,
                reference=reference if ok else "",
                failure_code=failure_code,
                message=cards.FAILURE_MESSAGES.get(failure_code, ""),
            )
        except IntegrityError:
            existing = SandboxOperation.objects.get(idempotency_key=key)
    return ProviderResult(
        ok=existing.succeeded,
        reference=existing.reference,
        failure_code=existing.failure_code,
        message=""
        if existing.succeeded
        else cards.FAILURE_MESSAGES.get(existing.failure_code, gettext_noop("Declined.")),
    )
