#!/usr/bin/env bash
# The project's test command (README; .ci/run calls exactly this). On a fresh Debian 12 machine with the
# .NET 10 SDK it installs what the tests need, builds the solution, runs every test project and ends
# with one line "N passed, N failed". The exit code is dotnet test's.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/install-deps.sh" test || { echo "0 passed, 0 failed"; exit 1; }
# The cluster tests run against SQLite and against PostgreSQL: a local server, started if stopped.
if [ -z "${NASCLUSTER_TEST_PG:-}" ]; then
  NASCLUSTER_TEST_PG="$("$root/scripts/postgres.sh")" || { echo "could not start PostgreSQL"; echo "0 passed, 0 failed"; exit 1; }
  export NASCLUSTER_TEST_PG
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
dotnet build NasCluster.sln --nologo -v q 2>&1 | tee "$log"
build_rc=${PIPESTATUS[0]}
if [ "$build_rc" -ne 0 ]; then
  echo "build failed"
  echo "0 passed, 0 failed"
  exit "$build_rc"
fi

dotnet test NasCluster.sln --no-build --nologo "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# VSTest prints one summary line per test assembly:
#   Passed!  - Failed:     0, Passed:   167, Skipped:     0, Total:   167, Duration: 2 s - X.dll (net10.0)
summary=$(grep -E '^(Passed|Failed)! +- Failed: ' "$log" | awk -F'[:,]' '
  { failed += $2; passed += $4; skipped += $6 }
  END { printf "%d %d %d", passed, failed, skipped }')
read -r passed failed skipped <<<"$summary"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "dotnet test exited with $rc without a failing test (a test host crashed or aborted; see above)"
fi
[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
exit "$rc"
