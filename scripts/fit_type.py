"""Fit the loop/one-shot rule's weights (samplemind/analysis/classify.py, TYPE_WEIGHTS).

    .venv/bin/python scripts/fit_type.py [--work DIR] [--data DIR] [--jobs N]

1. Analyses every file of the accuracy benchmark's evaluation set that has a known type (the
   renamed pool benchmarks/accuracy.py builds; the same --work reuses it) and keeps what
   classify.classify_type saw of each: its LoopCues, cached in DIR/type_cues.jsonl (per
   EXTRACTOR_VERSION), so a refit takes a second.
2. Fits a logistic regression of "is a loop" on classify.loop_terms (the terms the hand-set
   score added up: onset count, periodicity, whole beats, end level, held to the end,
   duration), L2-regularised towards zero, on the sources whose licence lets us learn from
   them (LEARN_FROM): the renders of the FluidR3 and MuseScore General soundfonts (MIT), Sonic
   Pi's samples and the drum loops sequenced from them (CC0), the Salamander piano chords
   (CC BY 3.0, credited in samplemind/NOTICE). The Hydrogen kits and LMMS (GPL and CC-BY-SA
   among others) are only evaluated on. Debian's hydrogen-drumkits-effects is never read.
3. Reports per source, for the shipped rule (its raw confidence, and that confidence through
   an isotonic map as the catalog shows it) and two candidates held out one source at a time
   (a source we learn from is scored by a fit without it; the others by the fit on every
   source we learn from): Platt scaling of the shipped score, and the refit. Figures: files
   typed wrong, expected calibration error of the confidence, and the sure-but-wrong answers
   (one-shots called loops, loops called one-shots, at confidence >= 0.9).
4. Says whether a candidate may replace the shipped rule: no source with more than one more
   file typed wrong, a lower ECE and no more sure-but-wrong answers than the shipped rule as
   the catalog shows it; prints the weights fitted on every LEARN_FROM source, to paste into
   classify.py when it may.

The rule decides in the analysis workers (extract.py), so a new rule means a new
EXTRACTOR_VERSION (cached analyses are redone), then scripts/reference_stats.py and
scripts/fit_calibration.py are run again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "data"))

import accuracy  # noqa: E402  (benchmarks/accuracy.py: the evaluation set and its pool)
import labels  # noqa: E402

from samplemind.analysis import classify  # noqa: E402
from samplemind.analysis.calibration import (  # noqa: E402
    expected_calibration_error,
    fit_isotonic,
)
from samplemind.analysis.versions import EXTRACTOR_VERSION  # noqa: E402
from samplemind.config import default_jobs  # noqa: E402

# Sources whose audio we may learn from (item["source"] of the evaluation set), from the one
# licence table (benchmarks/data/labels.py): MIT renders, CC0 Sonic Pi, the CC BY 3.0 Salamander
# piano. Not the Hydrogen kits or LMMS (GPL-2+, CC-BY-SA).
LEARN_FROM = labels.LEARN_FROM
L2 = 1.0  # penalty on the weights (not the intercept), in units of log-likelihood
SURE = 0.9


# -- 1. the cues ---------------------------------------------------------------------------------


def _cues_of(path: str) -> dict | None:
    """The LoopCues classify_type was given for this file (runs in a worker process)."""
    from samplemind.analysis import extract

    seen: list[classify.LoopCues] = []
    decide = classify.classify_type

    def spy(cues: classify.LoopCues) -> tuple[str, float]:
        seen.append(cues)
        return decide(cues)

    classify.classify_type = spy
    try:
        extract.analyse(path)
    except Exception:  # noqa: BLE001  (a file that fails to analyse has no type to learn)
        return None
    finally:
        classify.classify_type = decide
    return dataclasses.asdict(seen[-1]) if seen else None


def collect(work: Path, data: Path, jobs: int) -> list[dict]:
    """Rows {path, source, group, loop (truth), cues} of every typed file in the set."""
    accuracy.ensure_data(data)
    items = [i for i in accuracy.evaluation_items(data, quick=False)
             if i["type"] is not None and "hydrogen-drumkits-effects" not in str(i["src"])]
    accuracy.build_pool(items, work / "pool")
    items = [i for i in items if i["path"] is not None]
    cache = work / "type_cues.jsonl"
    known: dict[str, dict] = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            row = json.loads(line)
            if row.get("extractor") == EXTRACTOR_VERSION:
                known[row["path"]] = row["cues"]
    todo = sorted({i["path"] for i in items} - set(known))
    if todo:
        accuracy.log(f"analysing {len(todo)} files for their loop cues ({jobs} workers) ...")
        with ProcessPoolExecutor(jobs) as pool, cache.open("a") as out:
            for path, cues in zip(todo, pool.map(_cues_of, todo, chunksize=8)):
                if cues is not None:
                    known[path] = cues
                    out.write(json.dumps({"path": path, "extractor": EXTRACTOR_VERSION,
                                          "cues": cues}) + "\n")
    rows = []
    for item in items:
        if item["path"] in known:
            rows.append({"path": item["path"], "source": str(item["source"]),
                         "group": item["group"], "loop": item["type"] == "loop",
                         "cues": classify.LoopCues(**known[item["path"]])})
    return rows


# -- 2. the fit ----------------------------------------------------------------------------------


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[float, np.ndarray]:
    """(intercept, weights) of an L2-regularised logistic regression, by Newton's method."""
    design = np.hstack([np.ones((x.shape[0], 1)), x])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        gradient = design.T @ (p - y) + penalty * beta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(beta[0]), beta[1:]


def terms(rows: list[dict]) -> np.ndarray:
    return np.array([classify.loop_terms(r["cues"]) for r in rows], dtype=np.float64)


def decide(rows: list[dict], intercept: float, weights: np.ndarray) -> list[tuple[str, float]]:
    """classify_type of each row under these weights."""
    return [classify.classify_type(r["cues"], intercept=intercept, weights=tuple(weights))
            for r in rows]


def held_out(rows: list[dict], fitted: Callable[[list[dict]], Callable[[dict], tuple[str, float]]]
             ) -> list[tuple[str, float]]:
    """Each row's answer from a rule ``fitted`` on the LEARN_FROM rows of other sources."""
    answers: list[tuple[str, float]] = [("", 0.0)] * len(rows)
    for source in sorted({r["source"] for r in rows}):
        rule = fitted([r for r in rows if r["source"] in LEARN_FROM and r["source"] != source])
        for index, row in enumerate(rows):
            if row["source"] == source:
                answers[index] = rule(row)
    return answers


def refit(train: list[dict]) -> Callable[[dict], tuple[str, float]]:
    """New weights for every term."""
    intercept, weights = fit(terms(train), np.array([r["loop"] for r in train], float))
    return lambda row: decide([row], intercept, weights)[0]


def platt(train: list[dict]) -> Callable[[dict], tuple[str, float]]:
    """The shipped score, rescaled: sigmoid(a * score + b) (Platt scaling)."""
    scores = np.array([[classify.loop_score(r["cues"])] for r in train])
    b, (a,) = fit(scores, np.array([r["loop"] for r in train], float), l2=0.0)
    weights = tuple(a * w for w in classify.TYPE_WEIGHTS)
    return lambda row: classify.classify_type(row["cues"], a * classify.TYPE_INTERCEPT + b,
                                              weights)


def shipped_with_map(rows: list[dict]) -> list[tuple[str, float]]:
    """The shipped rule, its confidence through an isotonic map fitted on the LEARN_FROM
    rows of the other sources: what the catalog shows (calibration.json's "type" map, as
    scripts/fit_calibration.py fits it), judged held out like benchmarks/calibration.py."""
    raw = [classify.classify_type(r["cues"]) for r in rows]
    right = [(kind == "loop") == r["loop"] for r, (kind, _) in zip(rows, raw)]
    answers = list(raw)
    for source in sorted({r["source"] for r in rows}):
        train = [r["source"] in LEARN_FROM and r["source"] != source for r in rows]
        mapping = fit_isotonic([c for t, (_, c) in zip(train, raw) if t],
                               [h for t, h in zip(train, right) if t])
        for index, row in enumerate(rows):
            if row["source"] == source:
                answers[index] = (raw[index][0], round(mapping(raw[index][1]), 3))
    return answers


# -- 3. the report -------------------------------------------------------------------------------


def figures(rows: list[dict], answers: list[tuple[str, float]]) -> dict:
    right = np.array([(kind == "loop") == r["loop"] for r, (kind, _) in zip(rows, answers)])
    conf = np.array([c for _, c in answers])
    sure = conf >= SURE
    loops = np.array([r["loop"] for r in rows])
    return {"n": len(rows), "right": int(right.sum()), "acc": float(right.mean()),
            "ece": expected_calibration_error(conf, right),
            "oneshot_as_loop": int((sure & ~right & ~loops).sum()),
            "loop_as_oneshot": int((sure & ~right & loops).sum())}


def report(rows: list[dict], answers: dict[str, list[tuple[str, float]]]) -> None:
    """Per source and variant: wrong answers, ECE, sure but wrong (one-shots called loops /
    loops called one-shots, at confidence >= SURE)."""
    sources = sorted({r["source"] for r in rows})
    print(f"{'':24}" + "".join(f"{name:>22}" for name in answers))
    print(f"{'source':18} {'n':>4} {'learn':>5}" + f"{'wrong   ECE sure':>22}" * len(answers))
    for source in [*sources, "all"]:
        mask = [source in ("all", r["source"]) for r in rows]
        members = [r for r, m in zip(rows, mask) if m]
        cells = []
        for found in answers.values():
            f = figures(members, [a for a, m in zip(found, mask) if m])
            cells.append(f"{f['n'] - f['right']:5} {f['ece']:.3f} "
                         f"{f['oneshot_as_loop']:>2}/{f['loop_as_oneshot']:<2}")
        learn = "yes" if source in LEARN_FROM else ("" if source == "all" else "no")
        print(f"{source:18} {len(members):4} {learn:>5}" + "".join(f"{c:>22}" for c in cells))
    print(f"(wrong: files typed wrong; ECE: 10 bins; sure: one-shots called loops / loops called "
          f"one-shots at confidence >= {SURE}. Held out: a rule fitted on LEARN_FROM sources "
          "other than the row's; the map, on every other source)")


def verdict(rows: list[dict], answers: dict[str, list[tuple[str, float]]],
            baseline: str = "shipped + map") -> None:
    """Whether each candidate may replace the baseline (see the module's docstring, step 4)."""
    def per_source(found: list[tuple[str, float]]) -> dict[str, dict]:
        return {source: figures([r for r in rows if r["source"] == source],
                                [a for r, a in zip(rows, found) if r["source"] == source])
                for source in sorted({r["source"] for r in rows})}

    base, base_all = per_source(answers[baseline]), figures(rows, answers[baseline])
    for name in ("Platt", "refit"):
        mine, all_ = per_source(answers[name]), figures(rows, answers[name])
        worse = [s for s in base if base[s]["right"] - mine[s]["right"] > 1]
        sure = all_["oneshot_as_loop"] + all_["loop_as_oneshot"]
        base_sure = base_all["oneshot_as_loop"] + base_all["loop_as_oneshot"]
        problems = ([f"worse by more than one file on {', '.join(worse)}"] if worse else []) + (
            [f"ECE {all_['ece']:.3f} not under {base_all['ece']:.3f}"]
            if all_["ece"] >= base_all["ece"] else []) + (
            [f"{sure} sure but wrong, against {base_sure}"] if sure > base_sure else [])
        print(f"{name}: " + ("may replace the shipped rule" if not problems
                             else "keep the shipped rule: " + "; ".join(problems)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=labels.DEFAULT_DEST)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "sm-type")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    args = parser.parse_args()
    rows = collect(args.work.resolve(), args.data, args.jobs)
    print(f"{len(rows)} files with a known type: " + ", ".join(
        f"{s} {n}" for s, n in sorted(Counter(r["source"] for r in rows).items())))
    answers = {"shipped, raw": [classify.classify_type(r["cues"]) for r in rows],
               "shipped + map": shipped_with_map(rows),
               "Platt": held_out(rows, platt), "refit": held_out(rows, refit)}
    report(rows, answers)
    verdict(rows, answers)
    learn = [r for r in rows if r["source"] in LEARN_FROM]
    intercept, weights = fit(terms(learn), np.array([r["loop"] for r in learn], float))
    print(f"\nfitted on {len(learn)} files of {', '.join(sorted(LEARN_FROM))}:")
    print(f"TYPE_INTERCEPT = {intercept:.2f}")
    print("TYPE_WEIGHTS = (" + ", ".join(f"{w:.2f}" for w in weights) + ")")
    print("  " + ", ".join(f"{name} {w:+.2f}" for name, w in zip(classify.LOOP_TERMS, weights)))
    if not all(math.isfinite(w) for w in weights):
        sys.exit("the fit did not converge")


if __name__ == "__main__":
    main()
