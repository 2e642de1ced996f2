"""System checks of the kernel (registered in ``MarketplaceConfig.ready``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db.models import Model
from django.db.models.signals import post_save, pre_save

from marketplace.bulk import hand_written_models


def hand_written_models_have_no_save_hooks(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list:
    """``marketplace.E001``: a model written with hand-written SQL (``marketplace.bulk``,
    declared with ``written_by_hand``) has a ``pre_save``/``post_save`` receiver or overrides
    ``save()``. That SQL sends no signal and calls no ``save()``, as ``bulk_create`` does not, so
    the receiver or the override would be skipped there without a word."""
    errors = []
    for model in sorted(hand_written_models(), key=lambda m: m._meta.label):
        if app_configs is not None and model._meta.app_config not in app_configs:
            continue
        hooks = [
            f"a {signal} receiver"
            for signal, sent in (("pre_save", pre_save), ("post_save", post_save))
            if sent.has_listeners(model)
        ]
        overriding = next((klass for klass in model.__mro__ if "save" in vars(klass)), Model)
        if overriding is not Model:
            hooks.append(f"save() overridden in {overriding.__module__}.{overriding.__qualname__}")
        if hooks:
            errors.append(
                checks.Error(
                    f"{model._meta.label} is written with hand-written SQL (marketplace.bulk), which sends no "
                    f"signal and calls no save(), but it has {' and '.join(hooks)}.",
                    hint="Do that work in the service that writes the rows, or write this model through the ORM "
                    'and drop it from written_by_hand (docs/ARCHITECTURE.md, "When to write SQL").',
                    obj=model,
                    id="marketplace.E001",
                )
            )
    return errors
