"""Review mode (issue 19): how fast do the owner's answers fix the unnamed one-shots?

    .venv/bin/python benchmarks/review.py [--limit N] [--work DIR] [--jobs N] [--data DIR]

The evaluation set is benchmarks/accuracy.py's labelled real one-shots (Hydrogen kits, LMMS,
Sonic Pi; built from the Debian packages when missing), re-encoded as sample_NNNN.wav in a
shuffled order (no name, folder or metadata survives) and scanned once. Then, on a private
copy of that catalog per strategy, a simulated owner answers questions with the true
category, one at a time through Library.review_answer (each answer teaches at once), and
after N = 0, 5, 10, 20, 50 answers top-1 is measured over the sounds not answered yet,
overall and per class. Three strategies in the same command:

  picker   Library.review_questions (expected change: unsure, near many unsure sounds)
  random   a random unanswered one-shot (fixed seed)
  lowest   the unanswered one-shot with the lowest category confidence

--limit takes a fixed-seed subset of the one-shots (the whole set is ~1,000 files); --source
NAME keeps only one source's (a library of one package or kit: held out from the others, its
figures are its own answers' alone). The time
of each answer is printed (median and max) per strategy, and what the answers did to the
other sounds: how many neighbours they made right and how many they made wrong (teaching that
breaks as much as it fixes shows here, not in top-1). --time-at N (e.g. 100000) instead
builds benchmarks/similar.py's synthetic catalog of N rows (real vectors and rows, jittered;
benchmarks/serve.py's builder), runs the post-scan category steps once, then times the
questions and a few answers and undos there, each answer taught where it reaches, and in the
same run the full recompute an answer ran before (median and the ratio; the first answer
after the round apart, as it reads every candidate; the load average beside them, and each
answer's CPU time, which the other processes of a busy machine inflate less). Exit code 0:
this reports.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402

from samplemind import Library  # noqa: E402

CHECKPOINTS = (0, 5, 10, 20, 50)
CATEGORIES = accuracy.CATEGORIES


def oneshots(data: Path, limit: int | None, source: str | None = None) -> list[dict]:
    items = [i for i in accuracy.evaluation_items(data, quick=False)
             if i["group"] == "real-oneshot" and i.get("category") in CATEGORIES
             and (source is None or i["source"] == source)]
    if limit and limit < len(items):
        items = random.Random(accuracy.SEED).sample(items, limit)
    return items


SOURCES: dict[int, str] = {}  # sample id -> its kit's package (the set's source)


def top1(library: Library, truth: dict[int, str], answered: set[int]
         ) -> tuple[float, dict, dict]:
    """(top-1, per class, per source) over the sounds not answered yet."""
    rows = dict(library.catalog.query("SELECT id, category FROM samples"))
    rest = [i for i in truth if i not in answered]
    per: dict[str, list[bool]] = {c: [] for c in CATEGORIES}
    by_source: dict[str, list[bool]] = {}
    for i in rest:
        per[truth[i]].append(rows.get(i) == truth[i])
        by_source.setdefault(SOURCES.get(i, "?"), []).append(rows.get(i) == truth[i])
    hits = sum(sum(v) for v in per.values())
    return hits / max(len(rest), 1), {c: (sum(v) / len(v) if v else None) for c, v in per.items()}, \
        {s: sum(v) / len(v) for s, v in sorted(by_source.items())}


def simulate(home: Path, truth: dict[int, str], strategy: str
             ) -> tuple[list, list[float], list[int]]:
    """(top-1 at each checkpoint, each answer's seconds, [neighbours the answers made right,
    neighbours they made wrong]: what teaching did besides the answered sounds)."""
    rng = random.Random(accuracy.SEED)
    answered: set[int] = set()
    results, seconds, churn = [], [], [0, 0]
    with Library(home) as library:
        for n in range(max(CHECKPOINTS) + 1):
            if n in CHECKPOINTS:
                results.append((n, *top1(library, truth, answered)))
            if n == max(CHECKPOINTS):
                break
            if strategy == "picker":
                found = library.review_questions(None, 1, reviewer="bench")
                if not found:
                    break
                question = found[0]
                sample_id, field = question["sample_id"], question["field"]
            else:
                left = sorted(set(truth) - answered)
                if strategy == "random":
                    sample_id = rng.choice(left)
                else:
                    confidence = dict(library.catalog.query(
                        "SELECT id, coalesce(category_confidence, 0) FROM samples"))
                    sample_id = min(left, key=lambda i: (confidence.get(i, 0), i))
                field = "category"
            if field == "type":  # the truth of this set: they are all one-shots
                value = "oneshot"
            else:
                value = truth.get(sample_id)
                if value is None:
                    answered.add(sample_id)
                    continue
            before = dict(library.catalog.query("SELECT id, category FROM samples"))
            started = time.perf_counter()
            done = library.review_answer(sample_id, field, value, reviewer="bench")
            seconds.append(time.perf_counter() - started)
            moved = [i for i in done["changed_ids"] if i != sample_id and i in truth]
            if moved:
                now = dict(library.catalog.query("SELECT id, category FROM samples"))
                churn[0] += sum(now.get(i) == truth[i] != before.get(i) for i in moved)
                churn[1] += sum(before.get(i) == truth[i] != now.get(i) for i in moved)
            if field == "category":
                answered.add(sample_id)
    return results, seconds, churn


def time_at(n: int, work: Path, jobs: int, rounds: int = 9) -> None:
    """Questions, answers and undos on a synthetic catalog of n rows: each answer taught
    where it reaches (teach.relearn), then, in the same run, the full recompute every
    answer ran before (the steps after a scan over the whole library)."""
    import contextlib

    import serve  # benchmarks/serve.py: the synthetic catalog builder

    from samplemind.models import ScanReport
    from samplemind.scan import refine_categories
    from samplemind.similarity import teach

    home = work / f"time-{n}"
    if not (home / ".done").exists():
        shutil.rmtree(home, ignore_errors=True)
        facts = serve.make_catalog(home, n, jobs)
        print(f"built {facts['count']} rows", file=sys.stderr)
        (home / ".done").write_text("ok")

    @contextlib.contextmanager
    def full_recompute():
        """Every answer re-teaches the whole library, as before answers were taught where
        they reach."""
        planned = teach.plan_relearn
        teach.plan_relearn = lambda *args, **kwargs: None
        try:
            yield
        finally:
            teach.plan_relearn = planned

    with Library(home) as library:
        library.index.current()
        started = time.perf_counter()
        refine_categories(library.catalog, library.index, ScanReport())  # as a scan leaves it
        print(f"category round after the scan: {time.perf_counter() - started:.1f} s",
              file=sys.stderr)

        def one(reviewer: str) -> tuple[float, float, float, int, int | None, float]:
            started = time.perf_counter()
            question = library.review_questions(None, 1, reviewer=reviewer)[0]
            asked = time.perf_counter() - started
            value = "snare" if question["guess"] != "snare" else "tom"
            if question["field"] == "type":
                value = "oneshot"
            started, cpu = time.perf_counter(), time.process_time()
            done = library.review_answer(question["sample_id"], question["field"], value)
            answered, cpu = time.perf_counter() - started, time.process_time() - cpu
            started = time.perf_counter()
            library.review_undo(done["answer_id"])
            return asked, answered, time.perf_counter() - started, done["changed"], \
                done["relearned"], cpu

        load = os.getloadavg()
        # the first answer after a round reads every candidate (teach._candidates): apart
        first, *near = [one(f"near{k}") for k in range(rounds + 1)]
        with full_recompute():
            full = [one(f"full{k}") for k in range(3)]
        count = library.count()

    def ms(values: list[float]) -> str:
        return (f"median {statistics.median(values) * 1000:.0f} ms, mean "
                f"{statistics.mean(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms")

    def column(rows: list[tuple], at: int) -> list:
        return [row[at] for row in rows]

    print(f"== {count} samples (load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} before, "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after) ==")
    print(f"  next question: {ms(column(near, 0))}")
    print(f"  one answer applied, taught where it reaches: {ms(column(near, 1))} over "
          f"{len(near)} answers, its process's CPU time median "
          f"{statistics.median(column(near, 5)) * 1000:.0f} ms "
          f"(samples taught again {column(near, 4)}, categories changed {column(near, 3)}); "
          f"undo {ms(column(near, 2))}")
    print(f"  the first answer after the round (reads every candidate): "
          f"{first[1] * 1000:.0f} ms, CPU {first[5] * 1000:.0f} ms")
    print(f"  one answer applied, the whole library again (before): {ms(column(full, 1))}; "
          f"undo {ms(column(full, 2))}")
    print(f"  ratio (whole library / where it reaches), median answer: "
          f"{statistics.median(column(full, 1)) / statistics.median(column(near, 1)):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=HERE / "out" / "review")
    parser.add_argument("--data", type=Path, default=HERE / "data" / "eval")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--time-at", type=int, default=None, metavar="N")
    parser.add_argument("--source", default=None, metavar="NAME",
                        help="only the one-shots of one source (e.g. lmms-common): a library of "
                        "that kit or package alone, so no other source's questions or answers "
                        "count in its figures (use a --work of its own)")
    parser.add_argument("--answer-weight", type=float, default=None, metavar="W",
                        help="try another teach.ANSWER_WEIGHT (the owner's answers' vote)")
    parser.add_argument("--strategies", default="picker,random,lowest",
                        help="which of picker, random, lowest to run (comma-separated)")
    args = parser.parse_args()
    if args.answer_weight is not None:
        from samplemind.similarity import teach

        teach.ANSWER_WEIGHT = args.answer_weight
    if args.time_at:
        time_at(args.time_at, args.work, args.jobs)
        return
    accuracy.ensure_data(args.data)
    items = oneshots(args.data, args.limit, args.source)
    if not items:
        parser.error(f"no labelled one-shots of source {args.source!r}")
    pool = args.work / "pool"
    accuracy.build_pool(items, pool)
    home = args.work / "home"
    started = time.perf_counter()
    with Library(home, jobs=args.jobs) as library:
        report = library.scan([pool / "samples"])
        library.index.current()
        ids = {s.path: s.id for s in library.ls()}
    print(f"scan: {report.seen} files, {report.failed} failed, "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    truth = {ids[i["path"]]: i["category"] for i in items if i.get("path") in ids}
    SOURCES.update({ids[i["path"]]: i["source"] for i in items if i.get("path") in ids})
    counts = Counter(truth.values())
    print(f"== Review on {len(truth)} unnamed real one-shots: "
          + ", ".join(f"{c} {counts[c]}" for c in CATEGORIES if counts[c]) + " ==")
    table = {}
    for strategy in args.strategies.split(","):
        copy = args.work / f"home-{strategy}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(home, copy)
        table[strategy], seconds, churn = simulate(copy, truth, strategy)
        timing = (f"answer: median {statistics.median(seconds) * 1000:.0f} ms, "
                  f"max {max(seconds) * 1000:.0f} ms" if seconds else "no answers")
        print(f"  {strategy}: {timing}; the answers' neighbours: {churn[0]} made right, "
              f"{churn[1]} made wrong")
    print("\ntop-1 over the unanswered one-shots after N answers")
    print(f"  {'N':>3}  " + "  ".join(f"{s:>7}" for s in table))
    for row in range(len(CHECKPOINTS)):
        n = CHECKPOINTS[row]
        cells = [f"{table[s][row][1]:7.3f}" if row < len(table[s]) else "      -" for s in table]
        print(f"  {n:>3}  " + "  ".join(cells))
    print(f"\nper class ({' / '.join(table)})")
    for row in range(len(CHECKPOINTS)):
        if row >= min(len(v) for v in table.values()):
            break
        parts = []
        for c in CATEGORIES:
            if not counts[c]:
                continue
            values = ["-" if table[s][row][2][c] is None else f"{table[s][row][2][c]:.2f}"
                      for s in table]
            parts.append(f"{c} {'/'.join(values)}")
        print(f"  N={CHECKPOINTS[row]:>2}: " + "  ".join(parts))
    print(f"\nper source ({' / '.join(table)}; sounds in the set)")
    sizes = Counter(SOURCES[i] for i in truth)
    for row in range(len(CHECKPOINTS)):
        if row >= min(len(v) for v in table.values()):
            break
        parts = [f"{name} ({sizes[name]}) " + "/".join(f"{table[s][row][3].get(name, 0):.3f}"
                                                      for s in table)
                 for name in sorted(sizes)]
        print(f"  N={CHECKPOINTS[row]:>2}: " + "  ".join(parts))


if __name__ == "__main__":
    main()
