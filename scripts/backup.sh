#!/usr/bin/env bash
# A backup of the database: `pg_dump --format=custom` (compressed, restorable table by table).
#
#   DATABASE_URL=postgres://owner:pw@db/marketplace scripts/backup.sh [folder]
#
# Writes <folder>/marketplace-<UTC time>.dump (folder: ./backups) and prints its path. Run it as
# the owner of the tables (the application's role cannot read every table's grants), from cron or
# a systemd timer, and copy the file off the machine. Keep the LEDGER_MAC_KEY apart from the dumps:
# a copy of the ledger verifies only with it. Point-in-time recovery (WAL archiving) is the next
# step: see the README's "Backups" section.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the database to back up}"
folder="${1:-backups}"
mkdir -p "$folder"
file="$folder/marketplace-$(date -u +%Y%m%dT%H%M%SZ).dump"
pg_dump --format=custom --no-owner --no-privileges --file="$file.partial" "$DATABASE_URL"
mv "$file.partial" "$file"
echo "$file"
