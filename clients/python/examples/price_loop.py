#!/usr/bin/python3
"""Prices random candidates of a built-in space in a loop, one request each, and prints a line per candidate.

    /usr/bin/python3 clients/python/examples/price_loop.py --target 127.0.0.1:50051 --space-info space.json

--space-info is the output of `nascluster spaces info SPACE --json` (the space's decisions and choices).
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from nascluster_cost import CostClient, CostError  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="127.0.0.1:50051")
    ap.add_argument("--space-info", required=True)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hardware", default="pixel6")
    args = ap.parse_args()
    info = json.load(open(args.space_info))
    rng = random.Random(args.seed)
    with CostClient(args.target) as cost:
        caps = cost.capabilities()
        print(f"simulator {caps.simulator_version}; hardware {', '.join(h.name for h in caps.hardware)}")
        for i in range(args.count):
            decisions = {d["name"]: rng.choice(d["choices"]) for d in info["decisions"]}
            r = cost.evaluate(space=info["name"], decisions=decisions, hardware=args.hardware)
            print(json.dumps({"i": i, "hash": r.architecture_hash, "latency_ms": r.latency_ms, "energy_mj": r.energy_mj,
                              "params": r.params, "macs": r.macs, "cached": r.cached}))
        try:
            cost.evaluate(space=info["name"], decisions={"no_such_decision": 1})
        except CostError as e:
            print(json.dumps({"refused": e.field, "reason": e.message}))


if __name__ == "__main__":
    main()
