#!/usr/bin/env bash
# The chaos harness (bench/README.md "chaos"): builds the benchmark (Release; the node executables land next
# to it), makes a local PostgreSQL server available (scripts/postgres.sh), and runs
#   nascluster-bench chaos [--trials N] [--kills K] [--seed S] [--node-config FILE] [--keep]
# — a synthetic search on a multi-process loopback cluster, first undisturbed, then while random evaluator,
# trainer and coordinator processes are SIGKILLed and replaced; it prints the figures and the checks, and
# exits 1 when a check fails (the node logs are kept then). Bounded: it stops by itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
pg="$("$root/scripts/postgres.sh")"
dotnet build -c Release bench/NasCluster.Bench --nologo -v q >&2
exec dotnet bench/NasCluster.Bench/bin/Release/net10.0/NasCluster.Bench.dll chaos --pg "$pg" "$@"
