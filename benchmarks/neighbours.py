"""The server's table of nearest neighbours: built anew against patched after a few files
arrive, on real sound vectors jittered to N samples (as benchmarks/similar.py makes them).

    python benchmarks/neighbours.py [--samples 100000] [--arrivals 1,10,100]

Prints the build (the baseline, same process), then for each number of arriving samples
(new files plus as many rescanned ones, and a few removed): how long the patch took, how
many rows it searched again, its ratio to the build, and a check that every row it
changed, and 2,000 other rows, equal a live search.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from samplemind.similarity import neighbours, search  # noqa: E402
from samplemind.similarity.index import VectorIndex  # noqa: E402


class VectorLog:
    """What patch() reads of a catalog, for an index changed here directly: the ids whose
    vector changed or left since the table's generation."""

    def __init__(self, changed: list[int], removed: list[int]) -> None:
        self.changed, self.removed = changed, removed

    def vector_changes(self, since: int) -> tuple[list[int], list[int]]:
        return self.changed, self.removed

    def oldest_removal_kept(self) -> int:
        return 0

    def snapshot(self) -> Any:
        import contextlib

        return contextlib.nullcontext()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--arrivals", default="1,10,100",
                        help="new samples per patch (as many again are rescanned, a tenth removed)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    import similar  # benchmarks/similar.py: real vectors, jitter expansion

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} at start")
    real, _, source = similar.real_vectors(args.jobs, use_eval=True)
    rng = np.random.default_rng(similar.SEED)
    arrivals = [int(a) for a in args.arrivals.split(",")]
    spare = sum(arrivals)
    vectors, _ = similar.expand(real, args.samples + spare, 0.2, rng)
    ids = np.arange(1, args.samples + 1, dtype=np.int64)
    started = time.perf_counter()
    index = VectorIndex.build(ids, vectors[:args.samples], generation=1)
    print(f"index: {args.samples:,} samples ({source}, jittered), {index.info.kind} nlist "
          f"{index.info.nlist} nprobe {index.info.nprobe}, built in "
          f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    table = neighbours.build(index)
    build_s = time.perf_counter() - started
    print(f"build (baseline): {build_s:.2f} s for {len(table.ids):,} rows, "
          f"{table.nbytes / 2**20:.0f} MB")
    next_id, spare_row, generation = args.samples + 1, args.samples, 1
    print(f"{'arrivals':>9} {'moved':>6} {'removed':>8} {'patch s':>9} {'rows':>9} "
          f"{'vs build':>9}  check")
    for count in arrivals:
        new_ids = np.arange(next_id, next_id + count, dtype=np.int64)
        new_raw = vectors[spare_row:spare_row + count]
        next_id, spare_row = next_id + count, spare_row + count
        present = table.ids.astype(np.int64)
        moved = rng.choice(present, count, replace=False)
        removed = np.setdiff1d(rng.choice(present, max(1, count // 10), replace=False), moved)
        moved_raw = similar.expand(real, count, 0.2, rng)[0]
        generation += 1
        index.update(np.concatenate([new_ids, moved]), np.concatenate([new_raw, moved_raw]),
                     removed, generation=generation)
        log = VectorLog([*new_ids.tolist(), *moved.tolist()], removed.tolist())
        started = time.perf_counter()
        patched = neighbours.patch(table, log)
        patch_s = time.perf_counter() - started
        if patched is None:
            print(f"{count:>9} {count:>6} {len(removed):>8}  (too many rows reached: built anew)")
            table = neighbours.build(index)
            continue
        changed_rows = np.flatnonzero(
            (patched.numbers != _aligned(table, patched)).any(axis=(1, 2)))
        others = rng.choice(len(patched.ids), min(2000, len(patched.ids)), replace=False)
        rows = np.union1d(changed_rows, others)
        wrong = sum(patched.ranked(int(patched.ids[r]), 16)
                    != search.ranked(index, [int(patched.ids[r])], k=16, aspects=None,
                                     allowed=None)
                    for r in rows.tolist())
        print(f"{count:>9} {count:>6} {len(removed):>8} {patch_s:>9.3f} {patched.computed:>9,} "
              f"{patch_s / build_s:>8.4f}x  {len(rows):,} rows against a live search: "
              f"{wrong} differ")
        table = patched
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def _aligned(old: neighbours.NeighbourTable, new: neighbours.NeighbourTable) -> np.ndarray:
    """old's numbers on new's rows (zeros for rows old did not have)."""
    out = np.zeros_like(new.numbers)
    at = np.searchsorted(old.ids, new.ids)
    at = np.minimum(at, len(old.ids) - 1)
    same = old.ids[at] == new.ids
    out[same] = old.numbers[at[same]]
    return out


if __name__ == "__main__":
    main()
