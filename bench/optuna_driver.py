#!/usr/bin/python3
"""Optuna's TPE and NSGA-II on the same objective as `bench search`, for comparison, priced over the cost service.

Each trial suggests one value per decision of the search space (read from `nascluster spaces info --json`)
and prices the candidate with the cost service's Python client (clients/python, gRPC nascluster.cost.v1):
the pixel6 analytical cost model, then the benchmarks' synthetic quality and the MnasNet reward computed
here from the service's answer. Without --target the driver starts `nascluster serve --port 0` itself
and stops it at the end.

The synthetic quality is a benchmark's stand-in for a trained accuracy (src/Shared/Architecture/
SyntheticQuality.cs says why); the service does not offer it, because it is not a cost. This file holds
its one other copy, and the test suite checks that both give the same numbers
(tests/Cluster.Tests/CostServiceProcessTests.cs compares this driver's output with
`nascluster estimate --batch --quality synthetic`).

Writes bench/out/optuna-<sampler>-seed<k>.jsonl (one trial per line, with its decisions) and a .meta file
with the wall time; `dotnet run -c Release --project bench/NasCluster.Bench -- search --optuna bench/out`
scores them exactly like the project's own controllers.

Needs Debian's python3-optuna, python3-grpcio and python3-grpc-tools: run it with /usr/bin/python3.
"""
import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

import optuna

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))
from nascluster_cost import CostClient  # noqa: E402


def synthetic_quality(result):
    """SyntheticQuality.Of, from a priced result with its layers:
    Q = 0.78 + 0.10·(1 − e^(−params/4M)) + 0.06·(1 − e^(−MACs/1.5G)) + 0.01·(share of k×k convs with k ≥ 5)
        + 0.002·u(hash), u(hash) ∈ [−1, 1] from the hash's first 8 hex digits."""
    kernels = [l.kernel_h for l in result.layers if l.groups > 0 and l.kernel_h > 1]
    large = sum(1 for k in kernels if k >= 5) / len(kernels) if kernels else 0.0
    wobble = int(result.architecture_hash[:8], 16) / 4294967295 * 2 - 1
    return (0.78
            + 0.10 * (1 - math.exp(-result.params / 4e6))
            + 0.06 * (1 - math.exp(-result.macs / 1.5e9))
            + 0.01 * large
            + 0.002 * wobble)


def mnas_reward(quality, latency_ms, target_ms, w=-0.07):
    """MnasNet's soft constraint Q·(T/T0)^w, as RewardFunction (objective mnas) computes it."""
    return quality * math.pow(latency_ms / target_ms, w)


def start_server(nascluster):
    """`nascluster serve --port 0`; returns the process and the address it printed."""
    proc = subprocess.Popen([nascluster, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True, bufsize=1)
    for line in proc.stdout:
        m = re.search(r"serving nascluster\.cost\.v1\.CostService on http://([0-9.]+:\d+)", line)
        if m:
            return proc, m.group(1)
    raise RuntimeError(f"`{nascluster} serve` exited ({proc.wait()}) before it listened")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nascluster", default=os.path.join(HERE, "..", "nascluster"))
    ap.add_argument("--target", help="HOST:PORT of a running `nascluster serve` (default: start one)")
    ap.add_argument("--space", default="mnv2-edgetpu-classification")
    ap.add_argument("--space-info", help="the space's `spaces info --json` document (default: ask --nascluster)")
    ap.add_argument("--hardware", default="pixel6")
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--samplers", default="tpe,nsga2")
    ap.add_argument("--latency-target-ms", type=float, default=1.5)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    if args.space_info:
        with open(args.space_info) as f:
            info = json.load(f)
    else:
        info = json.loads(subprocess.check_output([args.nascluster, "spaces", "info", args.space, "--json"]))
    decisions = [(d["name"], d["choices"]) for d in info["decisions"]]
    server, target = (None, args.target) if args.target else start_server(args.nascluster)
    try:
        with CostClient(target) as cost:
            for name in args.samplers.split(","):
                for seed in range(1, args.seeds + 1):
                    run(cost, info["name"], decisions, name, seed, args)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait()
    return 0


def run(cost, space, decisions, sampler_name, seed, args):
    if sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    elif sampler_name == "nsga2":
        sampler = optuna.samplers.NSGAIISampler(seed=seed)
    else:
        raise SystemExit(f"unknown sampler '{sampler_name}' (samplers: tpe, nsga2)")
    study = optuna.create_study(direction="maximize", sampler=sampler)
    path = os.path.join(args.out, f"optuna-{sampler_name}-seed{seed}.jsonl")
    start = time.time()
    with open(path, "w") as out:
        def objective(trial):
            candidate = {n: trial.suggest_categorical(n, c) for n, c in decisions}
            r = cost.evaluate(space=space, decisions=candidate, hardware=args.hardware, layers=True)
            quality = synthetic_quality(r)
            reward = mnas_reward(quality, r.latency_ms, args.latency_target_ms)
            out.write(json.dumps({"trial": trial.number, "reward": reward, "quality": quality,
                                  "latency_ms": r.latency_ms, "hash": r.architecture_hash,
                                  "decisions": candidate}) + "\n")
            return reward
        study.optimize(objective, n_trials=args.trials)
    seconds = time.time() - start
    with open(path + ".meta", "w") as meta:
        json.dump({"sampler": sampler_name, "seed": seed, "trials": args.trials, "seconds": seconds,
                   "optuna": optuna.__version__, "best": study.best_value, "priced_by": "nascluster.cost.v1"}, meta)
    print(f"optuna {sampler_name} seed {seed}: best reward {study.best_value:.5f} in {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
