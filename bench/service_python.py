#!/usr/bin/python3
"""The cost service from Python (Debian's python3-grpcio): single-request latency (p50, p99), batches of 100
and a stream, on distinct random candidates of a built-in space, against a running `nascluster serve`.

    ./nascluster serve --port 50051 &
    ./nascluster spaces info mnv2-edgetpu-classification --json > /tmp/space.json
    /usr/bin/python3 bench/service_python.py --target 127.0.0.1:50051 --space-info /tmp/space.json

Each phase uses its own seed, so every request is a network the server has not priced (no cache hits).
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from nascluster_cost import CostClient, request  # noqa: E402


def candidates(info, n, seed):
    rng = random.Random(seed)
    return [request(space=info["name"], decisions={d["name"]: rng.choice(d["choices"]) for d in info["decisions"]}) for _ in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="127.0.0.1:50051")
    ap.add_argument("--space-info", required=True)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    info = json.load(open(args.space_info))
    with CostClient(args.target) as cost:
        cost.capabilities()
        for r in candidates(info, 50, 99):  # warm-up (JIT, connections)
            cost._stub.Evaluate(r)
        lat = []
        for r in candidates(info, args.n, 1):
            t = time.perf_counter()
            cost._stub.Evaluate(r)
            lat.append((time.perf_counter() - t) * 1e3)
        lat.sort()
        print(f"python single: p50 {lat[len(lat) // 2]:.3f} ms, p99 {lat[int(len(lat) * 0.99)]:.3f} ms, {len(lat) / (sum(lat) / 1e3):.0f} req/s")
        reqs = candidates(info, args.n, 2)
        t = time.perf_counter()
        for i in range(0, len(reqs), 100):
            cost.evaluate_many(reqs[i:i + 100])
        print(f"python batch of 100: {len(reqs) / (time.perf_counter() - t):.0f} estimates/s")
        reqs = candidates(info, args.n, 3)
        t = time.perf_counter()
        got = sum(1 for _ in cost.stream(enumerate(reqs)))
        print(f"python stream: {got / (time.perf_counter() - t):.0f} estimates/s")


if __name__ == "__main__":
    main()
