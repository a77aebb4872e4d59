"""What the server's metrics cost: `python benchmarks/metrics.py` (one command).

Measures, in this process, medians of --runs runs:
  - request_done: counting one answered request and its latency, per request (the middleware
    calls it for every request), over the routes and statuses of a busy server;
  - render: one /metrics exposition with those series and the server's scrape-time readings.
With --baseline FILE (another metrics module, e.g. the hand-written writer this replaced:
`git show bf622ce:samplemind/server/metrics.py > /tmp/hand_metrics.py`) the same figures
for it, and the ratio new/baseline. For scale: benchmarks/serve.py's one-sample GET answers
in about 300 µs of server time per request on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUTES = [f"route_{i}" for i in range(40)]
STATUSES = (200, 304, 404)


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"metrics_{abs(hash(path))}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(module: ModuleType, requests: int, runs: int) -> dict[str, float]:
    metrics = module.Metrics()
    for name in ("samplemind_ws_clients", "samplemind_jobs_active", "samplemind_catalog_samples",
                 "samplemind_record_cache_bytes", "samplemind_neighbour_table_samples"):
        metrics.gauge(name, "a reading", lambda: [((), 1.0)])
    reading = getattr(metrics, "counter", metrics.gauge)  # the hand writer had gauges only
    for name in ("samplemind_feature_cache_hits", "samplemind_record_cache_hits",
                 "samplemind_neighbour_table_hits"):
        reading(name, "a count", lambda: [((), 12345.0)])
    rng = random.Random(1)
    calls = [(rng.choice(ROUTES), "GET", rng.choice(STATUSES), rng.random() * 0.02)
             for _ in range(requests)]
    per_request, render = [], []
    for _ in range(runs):
        done = metrics.request_done
        started = time.perf_counter()
        for route, method, status, seconds in calls:
            done(route, method, status, seconds)
        per_request.append((time.perf_counter() - started) / requests * 1e6)
        started = time.perf_counter()
        for _ in range(20):
            metrics.render()
        render.append((time.perf_counter() - started) / 20 * 1e3)
    size = len(metrics.render())
    return {"request_us": statistics.median(per_request), "render_ms": statistics.median(render),
            "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another metrics module to compare with")
    args = parser.parse_args()
    current = measure(load(ROOT / "samplemind" / "server" / "metrics.py"), args.requests, args.runs)
    print(f"{len(ROUTES)} routes x {len(STATUSES)} statuses, {args.requests} requests, "
          f"medians of {args.runs} runs")
    print(f"prometheus-client : request_done {current['request_us']:.2f} µs/request, "
          f"/metrics render {current['render_ms']:.2f} ms ({current['bytes']} bytes)")
    if args.baseline:
        base = measure(load(args.baseline), args.requests, args.runs)
        print(f"baseline          : request_done {base['request_us']:.2f} µs/request, "
              f"/metrics render {base['render_ms']:.2f} ms ({base['bytes']} bytes)")
        print(f"ratio new/baseline: request_done {current['request_us'] / base['request_us']:.2f}x, "
              f"render {current['render_ms'] / base['render_ms']:.2f}x")


if __name__ == "__main__":
    main()
