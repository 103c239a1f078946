#!/usr/bin/env bash
# A local multi-process NasCluster cluster on loopback: one coordinator, N evaluator nodes, M trainer
# nodes, each its own process (the same executables you would start on other machines).
#
#   scripts/cluster.sh start [--evaluators N] [--trainers M] [--slots K] [--port P] [--db PATH] [--dir DIR]
#                            [--evaluator-args "..."] [--trainer-args "..."]   (extra node options, e.g. --skip-teacher)
#   scripts/cluster.sh add evaluator|trainer          # one more node, while a search runs
#   scripts/cluster.sh status                         # the processes and their last log line
#   scripts/cluster.sh stop                           # every node leaves gracefully (SIGTERM)
#
# Then run searches in it:  ./nascluster search --join 127.0.0.1:P --space ... --name ...
# Logs and pids live in DIR (default .cluster/). Needs what ./nascluster needs (the .NET 10 SDK).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"
[ $# -gt 0 ] && shift
evaluators=1 trainers=1 slots=1 port=4053 db="$root/nascluster.db" dir="$root/.cluster" evaluator_args="" trainer_args=""
while [ $# -gt 0 ]; do
  case "$1" in
    --evaluators) evaluators="$2"; shift 2 ;;
    --trainers) trainers="$2"; shift 2 ;;
    --slots) slots="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --db) db="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --evaluator-args) evaluator_args="$2"; shift 2 ;;
    --trainer-args) trainer_args="$2"; shift 2 ;;
    *) [ "$cmd" = add ] && [ -z "${kind:-}" ] && { kind="$1"; shift; continue; }
       echo "error: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
out="$root/.build/nascluster"
seed="127.0.0.1:$(cat "$dir/port" 2>/dev/null || echo "$port")"

build() { "$root/nascluster" --version >/dev/null; }   # builds the executables if the sources changed

# start NAME COMMAND...: runs a node in the background and waits until it reports "is up".
start_node() {
  local name="$1"; shift
  mkdir -p "$dir"
  "$@" >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
  for _ in $(seq 1 600); do
    if grep -q " is up with roles" "$dir/$name.log"; then echo "  $name: $(grep -m1 ' is up with roles' "$dir/$name.log")"; return 0; fi
    if ! kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then echo "error: $name exited; see $dir/$name.log:" >&2; tail -5 "$dir/$name.log" >&2; return 1; fi
    sleep 0.5
  done
  echo "error: $name did not come up in 5 minutes; see $dir/$name.log" >&2; return 1
}

next_index() { local k="$1" i=1; while [ -f "$dir/$k$i.pid" ]; do i=$((i + 1)); done; echo "$i"; }

add() {
  case "$1" in
    evaluator) local i; i=$(next_index evaluator)
      # shellcheck disable=SC2086
      start_node "evaluator$i" dotnet "$out/nascluster-evaluator.dll" --seed "$seed" $evaluator_args ;;
    trainer) local i; i=$(next_index trainer)
      # shellcheck disable=SC2086
      start_node "trainer$i" dotnet "$out/nascluster-trainer.dll" --seed "$seed" --slots "$slots" --id "trainer$i" $trainer_args ;;
    *) echo "error: add evaluator|trainer (got '$1')" >&2; exit 2 ;;
  esac
}

case "$cmd" in
  start)
    if [ -f "$dir/coordinator.pid" ] && kill -0 "$(cat "$dir/coordinator.pid")" 2>/dev/null; then
      echo "error: a cluster is already running from $dir (scripts/cluster.sh stop first)" >&2; exit 2
    fi
    rm -rf "$dir"; mkdir -p "$dir"; echo "$port" >"$dir/port"; seed="127.0.0.1:$port"
    build
    echo "starting a local cluster in $dir (database $db)"
    start_node coordinator dotnet "$out/nascluster.dll" coordinator --port "$port" --db "$db"
    for _ in $(seq 1 "$evaluators"); do add evaluator; done
    for _ in $(seq 1 "$trainers"); do add trainer; done
    echo "ready. Search in it with:"
    echo "  ./nascluster search --join $seed --db $db --space mnv2-edgetpu-classification --name NAME"
    ;;
  add)
    [ -f "$dir/coordinator.pid" ] || { echo "error: no cluster in $dir (scripts/cluster.sh start)" >&2; exit 2; }
    build
    add "${kind:-}"
    ;;
  status)
    for f in "$dir"/*.pid; do
      [ -e "$f" ] || { echo "no cluster in $dir"; exit 0; }
      n=$(basename "$f" .pid); p=$(cat "$f")
      if kill -0 "$p" 2>/dev/null; then s=running; else s=stopped; fi
      printf '%-14s %-8s pid %-7s %s\n' "$n" "$s" "$p" "$(tail -1 "$dir/$n.log" 2>/dev/null | cut -c1-100)"
    done
    ;;
  stop)
    for f in "$dir"/trainer*.pid "$dir"/evaluator*.pid "$dir"/coordinator.pid; do
      [ -e "$f" ] || continue
      p=$(cat "$f"); kill -TERM "$p" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
      kill -KILL "$p" 2>/dev/null || true
      rm -f "$f"
    done
    echo "stopped"
    ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
