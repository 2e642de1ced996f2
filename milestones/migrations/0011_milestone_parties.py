"""The order's buyer and seller, copied onto each milestone (the dashboards read
one party's milestones off one index: ``milestones 0013``).

Nullable here, and filled by the next migration in batches. On PostgreSQL a
trigger keeps the copy true from this migration on:

* a milestone inserted or re-pointed without its parties gets them from its
  order (what code still running from before this deploy writes);
* a milestone whose parties differ from its order's is refused;
* an order's buyer or seller cannot change once it has milestones.
"""

from django.conf import settings
from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION milestones_milestone_parties() RETURNS trigger AS $$
DECLARE
    order_buyer bigint;
    order_seller bigint;
BEGIN
    SELECT buyer_id, seller_id INTO order_buyer, order_seller FROM orders_order WHERE id = NEW.order_id;
    IF NEW.buyer_id IS NULL AND NEW.seller_id IS NULL THEN
        NEW.buyer_id := order_buyer;
        NEW.seller_id := order_seller;
    ELSIF NEW.buyer_id IS DISTINCT FROM order_buyer OR NEW.seller_id IS DISTINCT FROM order_seller THEN
        RAISE EXCEPTION 'milestone % names buyer % and seller %, its order % has buyer % and seller %',
            NEW.id, NEW.buyer_id, NEW.seller_id, NEW.order_id, order_buyer, order_seller
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER milestones_milestone_parties
    BEFORE INSERT OR UPDATE OF order_id, buyer_id, seller_id ON milestones_milestone
    FOR EACH ROW EXECUTE FUNCTION milestones_milestone_parties();

CREATE OR REPLACE FUNCTION orders_order_parties_fixed() RETURNS trigger AS $$
BEGIN
    IF (NEW.buyer_id IS DISTINCT FROM OLD.buyer_id OR NEW.seller_id IS DISTINCT FROM OLD.seller_id)
       AND EXISTS (SELECT 1 FROM milestones_milestone WHERE order_id = NEW.id) THEN
        RAISE EXCEPTION 'order % has milestones: its buyer and seller cannot change', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER orders_order_parties_fixed
    BEFORE UPDATE OF buyer_id, seller_id ON orders_order
    FOR EACH ROW EXECUTE FUNCTION orders_order_parties_fixed();
"""

DROP = """
DROP TRIGGER IF EXISTS orders_order_parties_fixed ON orders_order;
DROP FUNCTION IF EXISTS orders_order_parties_fixed();
DROP TRIGGER IF EXISTS milestones_milestone_parties ON milestones_milestone;
DROP FUNCTION IF EXISTS milestones_milestone_parties();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("milestones", "0010_dispute_outcome_mac"),
        ("orders", "0007_support_group"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name="milestone",
                name=name,
                field=models.ForeignKey(
                    db_index=False,
                    null=True,
                    on_delete=models.deletion.PROTECT,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                ),
            )
            for name in ("buyer", "seller")
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
