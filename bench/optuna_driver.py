#!/usr/bin/python3
"""Optuna's TPE and NSGA-II on the same objective as `bench search`, for comparison.

Each trial suggests one value per decision of the search space (read from `nascluster spaces info
--json`) and is scored by a long-running `nascluster estimate --batch` process (JSON lines over a
pipe): the pixel6 analytical cost model, the benchmarks' synthetic quality and the MnasNet reward.
Writes bench/out/optuna-<sampler>-seed<k>.jsonl (one trial per line) and a .meta file with the wall
time; `dotnet run -c Release --project bench/NasCluster.Bench -- search --optuna bench/out` scores
them exactly like the project's own controllers.

Needs Debian's python3-optuna: run it with /usr/bin/python3 (the pyenv python cannot see it).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import optuna

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nascluster", default=os.path.join(HERE, "..", "nascluster"))
    ap.add_argument("--space", default="mnv2-edgetpu-classification")
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--samplers", default="tpe,nsga2")
    ap.add_argument("--latency-target-ms", default="1.5")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    info = json.loads(subprocess.check_output([args.nascluster, "spaces", "info", args.space, "--json"]))
    decisions = [(d["name"], d["choices"]) for d in info["decisions"]]
    proc = subprocess.Popen(
        [args.nascluster, "estimate", "--batch", "--space", args.space, "--quality", "synthetic",
         "--objective", "mnas", "--latency-target-ms", args.latency_target_ms],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def evaluate(candidate):
        proc.stdin.write(json.dumps(candidate) + "\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline())
        if "error" in result:
            raise RuntimeError(result["error"])
        return result

    for name in args.samplers.split(","):
        for seed in range(1, args.seeds + 1):
            sampler = optuna.samplers.TPESampler(seed=seed) if name == "tpe" else optuna.samplers.NSGAIISampler(seed=seed)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            path = os.path.join(args.out, f"optuna-{name}-seed{seed}.jsonl")
            start = time.time()
            with open(path, "w") as out:
                def objective(trial):
                    result = evaluate({n: trial.suggest_categorical(n, c) for n, c in decisions})
                    out.write(json.dumps({"trial": trial.number, "reward": result["reward"], "quality": result["quality"],
                                          "latency_ms": result["latency_ms"], "hash": result["hash"]}) + "\n")
                    return result["reward"]
                study.optimize(objective, n_trials=args.trials)
            seconds = time.time() - start
            with open(path + ".meta", "w") as meta:
                json.dump({"sampler": name, "seed": seed, "trials": args.trials, "seconds": seconds,
                           "optuna": optuna.__version__, "best": study.best_value}, meta)
            print(f"optuna {name} seed {seed}: best reward {study.best_value:.5f} in {seconds:.0f} s", flush=True)
    proc.stdin.close()
    proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
