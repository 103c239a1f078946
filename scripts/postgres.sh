#!/usr/bin/env bash
# Makes a local PostgreSQL server available for the tests (and for trying `--db postgres://…`): installs
# Debian's postgresql if missing, starts the cluster if stopped, and creates the role `nascluster`
# (password `nascluster`, may create databases — every test makes its own — and drop them by force). Idempotent; needs root or
# passwordless sudo for what is missing. Prints the admin URL the tests use (NASCLUSTER_TEST_PG).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo -n"

"$root/scripts/install-deps.sh" postgresql >&2

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version main"; then
  $sudo pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $4 }' | grep -q online; then
  $sudo pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $3 }')

as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -n -u postgres sh -c "$1"; fi; }
for _ in $(seq 1 30); do as_postgres "psql -p $port -tAc 'SELECT 1'" >/dev/null 2>&1 && break; sleep 1; done
if [ "$(as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'nascluster'\"")" != "1" ]; then
  as_postgres "psql -p $port -qc \"CREATE ROLE nascluster LOGIN PASSWORD 'nascluster' CREATEDB\"" >&2
fi
# A test drops its database WITH (FORCE), which terminates every session on it — an autovacuum worker's
# too, which a plain role may not signal ("must be a member of ... pg_signal_backend"). Granted every
# time, so a role made by an earlier version of this script gets it as well.
as_postgres "psql -p $port -v ON_ERROR_STOP=1 -qc 'SET client_min_messages = warning; GRANT pg_signal_backend TO nascluster'" >&2
echo "postgres://nascluster:nascluster@127.0.0.1:$port/postgres"
