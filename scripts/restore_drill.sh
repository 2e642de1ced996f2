#!/usr/bin/env bash
# The restore drill: prove a backup restores into a working ledger.
#
#   DATABASE_URL=postgres://owner:pw@db/marketplace LEDGER_MAC_KEY=... scripts/restore_drill.sh [dump]
#
# With no dump given it takes one now (scripts/backup.sh). It restores the dump into a scratch
# database on the same server (marketplace_drill_<time>), runs `ledger_audit` (every invariant,
# every MAC, every seal) and `payments_reconcile` (the provider's records against the ledger) on
# the copy, compares the ledger's row counts with the source's, then drops the copy (KEEP=1 keeps
# it). Exits non-zero if any step fails. Run it with the application's settings (LEDGER_MAC_KEY,
# PAYMENT_PROVIDER and its keys) and as a role that may create databases.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the database the backups are taken from}"
cd "$(dirname "$0")/.."
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}"

work="$(mktemp -d)"
dump="${1:-}"
if [ -z "$dump" ]; then
  dump="$(scripts/backup.sh "$work")"
  echo "drill: took a backup: $dump"
fi
[ -s "$dump" ] || { echo "drill: no such backup: $dump" >&2; exit 2; }

base="${DATABASE_URL%/*}"
scratch="marketplace_drill_$(date -u +%Y%m%d%H%M%S)_$$"
scratch_url="$base/$scratch"
cleanup() {
  if [ "${KEEP:-0}" != "1" ]; then
    psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true
  else
    echo "drill: kept the copy: $scratch_url"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s)
psql "$base/postgres" -qc "CREATE DATABASE $scratch" >/dev/null
pg_restore --no-owner --no-privileges --exit-on-error --dbname="$scratch_url" "$dump"
echo "drill: restored into $scratch in $(( $(date +%s) - started ))s"

count() {
  psql "$1" -Atc "SELECT (SELECT count(*) FROM payments_transaction) || ' transactions, '
    || (SELECT count(*) FROM payments_entry) || ' entries, '
    || (SELECT count(*) FROM payments_ledgerseal) || ' seals'"
}
copy_counts="$(count "$scratch_url")"
echo "drill: the copy holds $copy_counts"
if [ -z "${1:-}" ]; then
  source_counts="$(count "$DATABASE_URL")"
  if [ "$source_counts" != "$copy_counts" ]; then
    echo "drill: the source now holds $source_counts (writes since the backup?)"
  fi
fi

# The application's settings, pointed at the copy; statements may take long on a big ledger.
export DATABASE_URL="$scratch_url" DB_STATEMENT_TIMEOUT_MS=0
"$PY" manage.py ledger_audit
"$PY" manage.py payments_reconcile
echo "drill: OK: the backup restores, the ledger audits clean and matches the provider ($(( $(date +%s) - started ))s)"
