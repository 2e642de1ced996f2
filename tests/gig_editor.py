"""What the gig editor posts, for tests that publish or edit a gig through the page: the terms,
and the price and days of a gig sold as one package of one step, as the editor names them."""

from __future__ import annotations

# The editor's name of what was one field of the gig before packages.
EDITOR_FIELD = {"starting_price": "package-1-step-1-price", "delivery_days": "package-1-step-1-days"}


def editor_field(name: str) -> str:
    return EDITOR_FIELD.get(name, name)


def editor_data(terms: dict[str, str]) -> dict[str, str]:
    """``terms`` (title, description, category, currency, starting_price, delivery_days, as the
    form had them before packages) as the editor's fields: one package "Basic" of one step."""
    data = {editor_field(name): value for name, value in terms.items()}
    return {
        "packages": "1",
        "package-1-steps": "1",
        "package-1-name": "Basic",
        "package-1-step-1-title": "Everything in one step",
        "package-1-step-1-deliverables": "What the description says.",
        "package-1-step-1-revisions": "1",
        "extras": "0",
        "questions": "0",
        **data,
    }
