"""Exact sums of amounts on every backend.

PostgreSQL adds ``numeric`` values exactly. SQLite, the embedded default, keeps
a decimal column with NUMERIC affinity, which stores 8.88 as a binary float:
its ``SUM`` of a 22.00 funding, a 16.00 release and a 6.00 tip can come back
as -8.88E-16, and the ledger audit then reports an unbalanced transaction
that is not. ``ExactSum`` scales each value to whole minor units (an integer,
which SQLite adds exactly) before adding, and back after."""

from __future__ import annotations

from typing import Any

from django.db.models import DecimalField, Sum


class ExactSum(Sum):
    """``Sum`` of a ``DecimalField`` (or a MoneyField's amount), exact on SQLite too."""

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        source = self.get_source_expressions()[0]
        field = source.output_field
        places = field.decimal_places if isinstance(field, DecimalField) else None
        if places is None or self.filter is not None:
            raise TypeError(f"ExactSum takes one decimal column and no filter, not {type(field).__name__}")
        scale = 10**places
        # An integer sum of minor units is exact; the division gives the float nearest
        # to it, which Django's converter quantizes back to ``places`` digits exactly.
        template = f"(SUM(CAST(ROUND(%(expressions)s * {scale}) AS INTEGER)) / {scale}.0)"
        sql, params = super().as_sql(compiler, connection, template=template, **extra_context)
        # As Django's own decimal expressions on SQLite: NUMERIC, so ``total=0`` compares as a number.
        return f"CAST({sql} AS NUMERIC)", params
