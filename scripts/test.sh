#!/usr/bin/env bash
# The project's test command (README; .ci/run calls exactly this). On a fresh Debian 12 machine with the
# .NET 10 SDK it installs what the tests need, builds the solution and runs the tests in two tiers:
#   fast  pure and actor tests, formatting: no PostgreSQL, no training (stops here on a failure)
#   slow  PostgreSQL cases, processes killed for real, cluster membership, real TorchSharp training
# It prints each tier's duration and ends with one line "N passed, N failed". The exit code is dotnet test's.
# Extra arguments go to both `dotnet test` runs.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fast_filter='Tier!=slow&DisplayName!~postgres'
slow_filter='Tier=slow|DisplayName~postgres'
passed=0 failed=0 skipped=0
started=$SECONDS

summary() {
  [ "$skipped" -gt 0 ] && echo "$skipped skipped"
  echo "total $((SECONDS - started)) s"
  echo "$passed passed, $failed failed"
}

# run_tier NAME FILTER: dotnet test over the solution, adding its per-assembly counts to the totals.
run_tier() {
  local name="$1" filter="$2" log t0 rc counts p f s
  log="$(mktemp)"
  t0=$SECONDS
  dotnet test NasCluster.sln --no-build --nologo --filter "$filter" "${@:3}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # VSTest prints one summary line per test assembly:
  #   Passed!  - Failed:     0, Passed:   167, Skipped:     0, Total:   167, Duration: 2 s - X.dll (net10.0)
  counts=$(grep -E '^(Passed|Failed)! +- Failed: ' "$log" | awk -F'[:,]' '
    { failed += $2; passed += $4; skipped += $6 } END { printf "%d %d %d", passed, failed, skipped }')
  read -r p f s <<<"$counts"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "dotnet test exited with $rc without a failing test (a test host crashed or aborted; see above)"
    failed=$((failed + 1))
  fi
  echo "tier $name: $p passed, $f failed in $((SECONDS - t0)) s"
  rm -f "$log"
  return "$rc"
}

"$root/scripts/install-deps.sh" test || { echo "could not install the test dependencies"; echo "0 passed, 0 failed"; exit 1; }

dotnet build NasCluster.sln --nologo -v q
build_rc=$?
if [ "$build_rc" -ne 0 ]; then
  echo "build failed"
  echo "0 passed, 0 failed"
  exit "$build_rc"
fi

# ----- fast tier -----
# The format check runs beside the fast tests (they mostly wait on actors and sockets, it on the compiler).
format_log="$(mktemp)"
t0=$SECONDS
( dotnet format NasCluster.sln --verify-no-changes --no-restore -v q >"$format_log" 2>&1; echo $? >>"$format_log" ) &
format_pid=$!
run_tier fast "$fast_filter" "$@"
rc=$?
wait "$format_pid"
if [ "$(tail -n 1 "$format_log")" != "0" ]; then
  sed '$d' "$format_log"
  echo "formatting: not clean — run 'dotnet format NasCluster.sln' and commit the result"
  failed=$((failed + 1))
else
  echo "formatting: clean (checked beside the fast tests; done after $((SECONDS - t0)) s)"
fi
rm -f "$format_log"
if [ "$rc" -ne 0 ] || [ "$failed" -gt 0 ]; then
  echo "the fast tier failed: the slow tier is not run"
  summary
  exit $((rc == 0 ? 1 : rc))
fi

# ----- slow tier -----
# The PostgreSQL cases always run here: a local server is started if none is given, and a missing or
# unreachable one is a failure (NASCLUSTER_REQUIRE_PG), never a skip.
export NASCLUSTER_REQUIRE_PG=1
if [ -z "${NASCLUSTER_TEST_PG:-}" ]; then
  NASCLUSTER_TEST_PG="$("$root/scripts/postgres.sh")" || { echo "could not start PostgreSQL"; failed=$((failed + 1)); summary; exit 1; }
  export NASCLUSTER_TEST_PG
fi
run_tier slow "$slow_filter" "$@"
rc=$?
summary
exit "$rc"
