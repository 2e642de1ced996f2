"""Users, gigs and notifications moved out of ``marketplace`` (to ``accounts``,
``gigs`` and ``notifications``) with their tables: this forgets them in
``marketplace``'s state only, after every foreign key points at the new models.
No SQL runs; every row stays."""

from django.db import migrations


def move_content_types(apps, schema_editor):
    """Keep the admin history and permissions of rows made before the move:
    each content type follows its model (nothing to do on a fresh database)."""
    content_type = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not content_type.objects.filter(app_label=app_label, model=model).exists():
            content_type.objects.filter(app_label="marketplace", model=model).update(app_label=app_label)


def restore_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not content_type.objects.filter(app_label="marketplace", model=model).exists():
            content_type.objects.filter(app_label=app_label, model=model).update(app_label="marketplace")


MOVED = {"user": "accounts", "gig": "gigs", "notification": "notifications"}


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("notifications", "0001_initial"),
        ("gigs", "0001_initial"),
        ("accounts", "0001_initial"),
        ("payments", "0004_users_and_gigs_moved"),
        ("milestones", "0004_users_and_gigs_moved"),
        ("orders", "0003_users_and_gigs_moved"),
        ("marketplace", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="notification",
                    name="recipient",
                ),
                migrations.RemoveField(
                    model_name="user",
                    name="groups",
                ),
                migrations.RemoveField(
                    model_name="user",
                    name="user_permissions",
                ),
                migrations.DeleteModel(
                    name="Gig",
                ),
                migrations.DeleteModel(
                    name="Notification",
                ),
                migrations.DeleteModel(
                    name="User",
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
