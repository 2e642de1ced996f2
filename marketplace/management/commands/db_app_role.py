"""Create or update the application's database role: least privilege.

Run by the owner of the tables (the role migrations run as), after every
``migrate``:

    DATABASE_URL=postgres://owner@db/marketplace python manage.py db_app_role marketplace_app

The web, worker and beat processes then connect as ``marketplace_app``, which
owns nothing, so it cannot change the schema, disable a trigger or switch
triggers off for its session (``session_replication_role`` needs a superuser).
It may SELECT, INSERT and UPDATE every table of the project, except:

* no UPDATE of the append-only ledger (``APPEND_ONLY``): entries,
  transactions, seals;
* no DELETE of anything that holds money or its history (``KEPT``): the
  ledger, the money records, orders, milestones, disputes and the audit trail.

Everything else the code deletes (sessions, reminders, login attempts,
e-mail confirmations, a gig's or a message's files) it may. The password comes
from ``--password`` or the ``APP_DB_PASSWORD`` variable; with neither, the role
is created without one (local ``trust`` or peer authentication).
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

APPEND_ONLY = ("payments_entry", "payments_transaction", "payments_ledgerseal")
KEPT = (
    *APPEND_ONLY,
    "payments_account",
    "payments_earning",
    "payments_withdrawal",
    "payments_providercommand",
    "payments_checkout",
    "payments_tip",
    "payments_webhookevent",
    "payments_payoutaccount",
    "orders_order",
    "orders_activity",
    "orders_stafffileread",
    "accounts_securityevent",
    "milestones_milestone",
    "milestones_dispute",
    "milestones_proposal",
    "sandbox_sandboxoperation",
)


class Command(BaseCommand):
    help = "Create or update the application's least-privilege database role (run as the tables' owner)."

    def add_arguments(self, parser):
        parser.add_argument("role", help="the role the web, worker and beat processes connect as")
        parser.add_argument("--password", default=os.environ.get("APP_DB_PASSWORD", ""))

    def handle(self, *args, role: str, password: str, **options):
        if connection.vendor != "postgresql":
            raise CommandError("db_app_role is for PostgreSQL; the embedded SQLite database has no roles.")
        if role == connection.settings_dict["USER"]:
            raise CommandError("The application's role must not be the owner of the tables.")
        tables = [t for t in connection.introspection.table_names() if not t.startswith("pg_")]
        ident = sql.Identifier(role)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            verb = sql.SQL("ALTER") if cursor.fetchone() else sql.SQL("CREATE")
            options_sql = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION")
            statement = sql.SQL("{} ROLE {} WITH {}").format(verb, ident, options_sql)
            if password:
                statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
            cursor.execute(statement)
            database = sql.Identifier(connection.settings_dict["NAME"])
            cursor.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, ident))
            cursor.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(ident))
            cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
            cursor.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(ident))
            cursor.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident))
            for table in tables:
                rights = ["SELECT", "INSERT"]
                if table not in APPEND_ONLY:
                    rights.append("UPDATE")
                if table not in KEPT:
                    rights.append("DELETE")
                cursor.execute(
                    sql.SQL("GRANT {} ON {} TO {}").format(
                        sql.SQL(", ").join(sql.SQL(r) for r in rights), sql.Identifier(table), ident
                    )
                )
        self.stdout.write(
            f"{role}: {len(tables)} tables; no DDL, no UPDATE of {len(APPEND_ONLY)} append-only tables, "
            f"no DELETE of {len(KEPT)} kept ones."
        )
