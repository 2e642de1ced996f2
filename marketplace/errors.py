"""Domain errors: what a service says when it refuses.

Views turn these into a message next to the field (``field`` set) or at the
top of the page. A service that raises has changed nothing: it runs in one
atomic block that the exception rolls back.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the marketplace refused the request."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The actor is not the party this action belongs to."""


class InvalidInput(DomainError):
    """The input breaks a rule (amount, deadline, empty text, ...)."""


class InvalidTransition(DomainError):
    """The milestone is not in a state that allows this; often a second click."""


class DuplicateRequest(DomainError):
    """The same form or idempotency key was already processed."""

    def __init__(self, message: str, *, obj: object = None) -> None:
        super().__init__(message)
        self.obj = obj


class PaymentDeclined(DomainError):
    """The gateway refused the card; nothing was created."""


class InsufficientFunds(DomainError):
    """A balance would go below zero."""
