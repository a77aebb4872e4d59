"""Facet counts speed: `python benchmarks/facets.py` (one command, prints every figure).

The web UI asks GET /api/v1/facets for every list it shows (issue 23: the counts beside the
filters are those of the current results), so Library.facets must stay small next to what
the UI already asks for each query. Builds benchmarks/query.py's catalog of generated records
(100,000 by default) and prints, for typical queries, the median of --runs calls of
Library.facets(q) next to the baseline in the same run: Library.stats() (what the facets
cost before: whole-library counts) and Library.count(q) (the total the first page asks for).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from query import build_catalog, make_rows  # noqa: E402

from samplemind import Library  # noqa: E402

QUERIES = ("", "cat:kick", "type:loop bpm:120..128", "tag:dark", "warm", "-cat:*")


def median_ms(call, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        seconds = build_catalog(home, make_rows(args.rows))
        print(f"catalog: {args.rows:,} generated records in {seconds:.1f} s")
        with Library(home) as library:
            stats = median_ms(library.stats, args.runs)
            print(f"baseline Library.stats() (whole-library counts): median {stats:.1f} ms")
            print(f"{'query':<26} {'matches':>8} {'facets ms':>10} {'count ms':>9} "
                  f"{'facets/stats':>13} {'facets/count':>13}")
            for query in QUERIES:
                matches = library.count(query)
                facets = median_ms(lambda q=query: library.facets(q), args.runs)
                count = median_ms(lambda q=query: library.count(q), args.runs)
                print(f"{query or '(every sample)':<26} {matches:>8,} {facets:>10.1f} {count:>9.1f} "
                      f"{facets / stats:>13.2f} {facets / max(count, 1e-6):>13.1f}")


if __name__ == "__main__":
    main()
