#!/usr/bin/python3
"""A multi-objective Optuna study (NSGA-II) over a built-in space whose objective calls the cost service:
minimise latency and energy on the chosen hardware, maximise a quality estimate (here the space's MAC count
as a stand-in a user replaces with their own training). Prints the Pareto front as JSON lines.

    /usr/bin/python3 clients/python/examples/optuna_study.py --target 127.0.0.1:50051 --space-info space.json --trials 60
"""
import argparse
import json
import math
import os
import sys

import optuna

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from nascluster_cost import CostClient  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="127.0.0.1:50051")
    ap.add_argument("--space-info", required=True)
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hardware", default="pixel6")
    args = ap.parse_args()
    info = json.load(open(args.space_info))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with CostClient(args.target) as cost:
        def objective(trial):
            decisions = {d["name"]: trial.suggest_categorical(d["name"], d["choices"]) for d in info["decisions"]}
            r = cost.evaluate(space=info["name"], decisions=decisions, hardware=args.hardware)
            trial.set_user_attr("hash", r.architecture_hash)
            trial.set_user_attr("cached", r.cached)
            # Capacity as a quality stand-in: log10 of MACs (a user plugs in their own accuracy here).
            return r.latency_ms, r.energy_mj, math.log10(max(r.macs, 1))

        study = optuna.create_study(directions=["minimize", "minimize", "maximize"],
                                    sampler=optuna.samplers.NSGAIISampler(seed=args.seed))
        study.optimize(objective, n_trials=args.trials)
        for t in sorted(study.best_trials, key=lambda t: t.values[0]):
            print(json.dumps({"trial": t.number, "latency_ms": t.values[0], "energy_mj": t.values[1],
                              "log10_macs": t.values[2], "hash": t.user_attrs["hash"]}))
        print(json.dumps({"trials": len(study.trials), "pareto": len(study.best_trials)}))


if __name__ == "__main__":
    main()
