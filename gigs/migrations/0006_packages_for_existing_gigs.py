"""Every gig published before packages becomes one package "Basic" of one step, on the terms the
gig showed: the step's title is the gig's title, its deliverables the gig's description, its
days and price the gig's delivery days and starting price; the package's description is the
first 1,000 characters of the gig's description. The gig's starting price and delivery days are
then exactly that package's sums, as ``gigs.packages.packages_write`` keeps them from now on.

Revisions included: 1. Before packages, revisions were unlimited and the seller never named a
number; a step must show one (0 to 20) to the buyer before they order. 1 is the model's default
and what a new step starts with in the editor, so a migrated gig reads like a new one, and the
seller changes it in "Edit gig". Orders already open are not touched: their milestones keep
``revisions_included`` empty, which means unlimited.

Outside one transaction (``atomic = False``): gigs are done 1,000 at a time, each batch
committed, so no request waits on a lock held over the whole table; a run stopped half-way
resumes with the gigs still without a package. Plain ORM writes, the same on SQLite and
PostgreSQL.
"""

from django.db import migrations, transaction

BATCH = 1000


def packages_for_existing_gigs(apps, schema_editor):
    Gig = apps.get_model("gigs", "Gig")
    GigPackage = apps.get_model("gigs", "GigPackage")
    PackageStep = apps.get_model("gigs", "PackageStep")
    using = schema_editor.connection.alias
    last = 0
    while True:
        with transaction.atomic(using=using):
            gigs = list(
                Gig.objects.using(using)
                .filter(pk__gt=last, packages__isnull=True)
                .order_by("pk")
                .values("pk", "title", "description", "delivery_days", "starting_price", "starting_price_currency")[
                    :BATCH
                ]
            )
            if not gigs:
                return
            packages = GigPackage.objects.using(using).bulk_create(
                GigPackage(gig_id=gig["pk"], position=1, name="Basic", description=gig["description"][:1000])
                for gig in gigs
            )
            PackageStep.objects.using(using).bulk_create(
                PackageStep(
                    package_id=package.pk,
                    position=1,
                    title=gig["title"][:200],
                    deliverables=gig["description"],
                    days=gig["delivery_days"],
                    price=gig["starting_price"],
                    price_currency=gig["starting_price_currency"],
                    revisions_included=1,
                )
                for gig, package in zip(gigs, packages, strict=True)
            )
            last = gigs[-1]["pk"]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("gigs", "0005_packages_extras_images_questions")]

    operations = [migrations.RunPython(packages_for_existing_gigs, migrations.RunPython.noop, elidable=False)]
