"""Fill the milestones' parties from their orders, then make them NOT NULL.

Outside one transaction (``atomic = False``): the rows are filled 5,000 at a
time, each batch committed, so no request waits on a lock held over the whole
table. On PostgreSQL, NOT NULL is proved by a CHECK added ``NOT VALID`` and
validated (which lets writes go on), so ``SET NOT NULL`` skips its scan under
the exclusive lock; the CHECK is dropped after.
"""

from django.conf import settings
from django.db import migrations, models, transaction

BATCH = 5000

NOT_NULL = [
    "ALTER TABLE milestones_milestone ADD CONSTRAINT milestone_parties_set "
    "CHECK (buyer_id IS NOT NULL AND seller_id IS NOT NULL) NOT VALID",
    "ALTER TABLE milestones_milestone VALIDATE CONSTRAINT milestone_parties_set",
    "ALTER TABLE milestones_milestone ALTER COLUMN buyer_id SET NOT NULL, ALTER COLUMN seller_id SET NOT NULL",
    "ALTER TABLE milestones_milestone DROP CONSTRAINT milestone_parties_set",
]


def fill(apps, schema_editor):
    Milestone = apps.get_model("milestones", "Milestone")
    Order = apps.get_model("orders", "Order")
    using = schema_editor.connection.alias
    while True:
        with transaction.atomic(using=using):
            ids = list(
                Milestone.objects.using(using)
                .filter(buyer__isnull=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            parties = models.Subquery(Order.objects.filter(pk=models.OuterRef("order_id")).values("buyer_id")[:1])
            sellers = models.Subquery(Order.objects.filter(pk=models.OuterRef("order_id")).values("seller_id")[:1])
            Milestone.objects.using(using).filter(pk__in=ids).update(buyer_id=parties, seller_id=sellers)


def _required(name: str) -> migrations.AlterField:
    return migrations.AlterField(
        model_name="milestone",
        name=name,
        field=models.ForeignKey(
            db_index=False, on_delete=models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
        ),
    )


class PartiesNotNull(migrations.operations.base.Operation):
    """``buyer`` and ``seller`` become NOT NULL. On PostgreSQL through a CHECK
    added ``NOT VALID`` and validated (writes go on meanwhile), which lets
    ``SET NOT NULL`` skip its scan under the exclusive lock; elsewhere (SQLite,
    the embedded demo) Django's ``AlterField``."""

    reversible = True

    def __init__(self) -> None:
        self.fields = [_required("buyer"), _required("seller")]

    def deconstruct(self):
        return (self.__class__.__name__, [], {})

    def state_forwards(self, app_label, state):
        for operation in self.fields:
            operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            for statement in NOT_NULL:
                schema_editor.execute(statement, params=None)
            return
        for operation in self.fields:
            operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                "ALTER TABLE milestones_milestone ALTER COLUMN buyer_id DROP NOT NULL, "
                "ALTER COLUMN seller_id DROP NOT NULL",
                params=None,
            )
            return
        for operation in self.fields:
            operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return "Make the milestone's buyer and seller NOT NULL"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("milestones", "0011_milestone_parties")]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        PartiesNotNull(),
    ]
