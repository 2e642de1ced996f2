"""Every user who signed up before allauth gets allauth's record of their address.

Paying and withdrawing wait for a confirmed primary ``EmailAddress``
(``accounts.services.require_verified_email``), and only allauth's sign-up makes
one: without this, every account of a database upgraded from before allauth is
refused money until its owner finds the e-mail settings page. One
``INSERT ... SELECT`` gives each user who has an address and no ``EmailAddress``
row a primary one, written as allauth writes them (lower case).

Whether those addresses count as confirmed is the operator's choice,
``UPGRADE_EMAILS_VERIFIED`` (default true: these people signed up when no
confirmation was asked, and keep paying as they did; false makes each confirm by
link first). An address several accounts share (possible before
``ACCOUNT_UNIQUE_EMAIL``) is confirmed for the earliest of them only, and none
already confirmed by another account is confirmed again: allauth allows one
confirmed owner per address.

A fresh database has no users yet, and a database migrated after this has them
all with a row: running it again changes nothing.
"""

from django.conf import settings
from django.db import migrations


def email_addresses_for_earlier_users(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    connection = schema_editor.connection
    q = connection.ops.quote_name

    def column(model, name: str) -> str:
        return q(model._meta.get_field(name).column)

    users, addresses = q(User._meta.db_table), q(EmailAddress._meta.db_table)
    pk, email = column(User, "id"), column(User, "email")
    owner, address = column(EmailAddress, "user"), column(EmailAddress, "email")
    verified, primary = column(EmailAddress, "verified"), column(EmailAddress, "primary")
    confirm = bool(getattr(settings, "UPGRADE_EMAILS_VERIFIED", True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {addresses} ({owner}, {address}, {verified}, {primary})
            SELECT u.{pk}, LOWER(u.{email}),
                   CASE WHEN %s
                         AND u.{pk} IN (
                             SELECT MIN(o.{pk}) FROM {users} AS o WHERE o.{email} <> '' GROUP BY LOWER(o.{email})
                         )
                         AND NOT EXISTS (
                             SELECT 1 FROM {addresses} AS v WHERE v.{address} = LOWER(u.{email}) AND v.{verified}
                         )
                        THEN %s ELSE %s END,
                   %s
            FROM {users} AS u
            WHERE u.{email} <> '' AND NOT EXISTS (SELECT 1 FROM {addresses} AS e WHERE e.{owner} = u.{pk})
            """,  # noqa: S608 - names from the historical models' _meta; the values are parameters
            [confirm, True, False, True],
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_payout_token"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [
        migrations.RunPython(email_addresses_for_earlier_users, migrations.RunPython.noop),
    ]
