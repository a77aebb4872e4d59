"""Does a confidence of 0.9 mean right 9 times in 10? Reliability of every estimate.

    .venv/bin/python benchmarks/calibration.py [--work DIR] [--data DIR] [--jobs N]

Scans the accuracy benchmark's evaluation set (benchmarks/data/, renamed and re-encoded like
benchmarks/accuracy.py does) and pairs every estimate the signal made with whether it was
right:

  type      loop or one-shot as labelled (every file with a known type)
  category  the labelled class (real one-shots of the Hydrogen kits and LMMS, rendered notes;
            Sonic Pi is left out: the category model trains on it); the confidence is what
            the catalog shows after the sound consensus, from the file and its neighbours
  bpm       Accuracy1, within 4 % (drum loops with a known tempo, half-time grooves included;
            and 120 loops sequenced from Sonic Pi's CC0 hits for calibration only, source
            "sonic-pi-loops", see calibration_loop_rows)
  key       the labelled key exactly (chords, progressions, long progressions)
  chord     root and quality (chord one-shots)
  note      pitch class within 50 cents (rendered notes)

The calibration maps (samplemind/analysis/calibration.py) learn only from sources whose
licence allows it (labels.LEARN_FROM: the soundfont renders, Sonic Pi, the Salamander piano);
the Hydrogen kits and LMMS (GPL, CC-BY-SA, unclear) are test sources only. A row of a source
we learn from is scored by maps fitted with its source held out (leave-one-source-out; where
the learnable rows come from a single source or one source holds most of them, the held-out
unit is the instrument or the drum pattern instead); a row of a test source by the maps
fitted on every learnable row, as shipped. An estimate with fewer than MIN_ROWS learnable
rows ships no map, so its raw score passes through, and is scored so. The tables show
confidence bins against accuracy and the expected calibration error (ECE, goal <= 0.05) per
source ("learnt" or "test") and over all; the raw scores, before any map, are shown too.

scripts/fit_calibration.py fits the shipped maps on the same rows (learnable sources only) and
writes samplemind/analysis/calibration.json. Debian's hydrogen-drumkits-effects is never used.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from unittest import mock

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "data"))

import accuracy  # noqa: E402  (the evaluation set: items, the renamed pool, truth checks)
import labels  # noqa: E402

from samplemind import Library  # noqa: E402
from samplemind.analysis.calibration import (  # noqa: E402
    ESTIMATES,
    PER_VALUE,
    CalibrationMap,
    expected_calibration_error,
    fit_isotonic,
    reliability_table,
)
from samplemind.config import default_jobs  # noqa: E402

GOAL = 0.05
CATEGORY_SOURCES_TRAINED_ON = {"sonic-pi-samples"}  # the category model learns from these
MIN_SOURCES = 2  # fewer held-out sources than this: hold out instruments instead
MAX_SHARE = 0.7
MIN_ROWS = 60  # fewer answers than this fit no map of their own


def _chord_parts(text: str | None) -> tuple | None:
    if not text:
        return None
    try:
        from samplemind.music import parse_chord
    except ImportError:  # older tree: compare the spelling
        return (text,)
    parsed = parse_chord(text)
    return None if parsed is None else tuple(parsed) if not isinstance(parsed, str) else (parsed,)


def _raw_features(library: Library) -> dict[str, dict]:
    """path -> the analysis record's features (raw scores, before calibration)."""
    out = {}
    for row in library.catalog.full_rows():
        out[row["path"]] = json.loads(row["analysis"] or "{}").get("features", {})
    return out


def _consensus_raw(library: Library) -> dict[str, tuple[str, float]]:
    """path -> (category, raw consensus probability) of every sound-only one-shot: what the
    catalog shows, before the calibration map."""
    from samplemind.similarity import consensus

    paths = {int(r["id"]): r["path"] for r in library.catalog.full_rows()}
    ids = [i for (i,) in library.catalog.query(
        "SELECT id FROM samples WHERE type = 'oneshot' AND category_source = 'dsp'")]
    with mock.patch.object(consensus, "calibrate", lambda _name, raw, _value=None: round(raw, 3)):
        found = consensus.guesses(library.catalog, library.index.current(), ids)
    return {paths[i]: answer for i, answer in found.items()}


def collect(work: Path, data: Path, jobs: int, log=accuracy.log) -> dict[str, list[dict]]:
    """estimate -> rows {raw, right, source, unit} on the evaluation set (scanned into
    ``work``, reused when it is there)."""
    accuracy.ensure_data(data)
    items = accuracy.evaluation_items(data, quick=False)
    items = [i for i in items if "hydrogen-drumkits-effects" not in str(i["src"])]
    work.mkdir(parents=True, exist_ok=True)
    log(f"re-encoding {len(items)} files under neutral names into {work / 'pool'} ...")
    if accuracy.build_pool(items, work / "pool"):
        import shutil

        shutil.rmtree(work / "home", ignore_errors=True)
    items = [i for i in items if i["path"] is not None]
    with Library(work / "home", jobs=jobs) as library:
        report = library.scan([work / "pool" / "samples"])
        log(f"  scan: {report.seen} files, {report.analysed} analysed, {report.failed} failed")
        features = _raw_features(library)
        mixed = _consensus_raw(library)
    rows: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        f = features.get(item["path"])
        if f is None:
            continue
        truth = item["truth"]
        source = str(item.get("source") or "fluidr3")
        unit = str(truth.get("instrument") or truth.get("program") or truth.get("pattern")
                   or source)

        def add(name: str, raw: float | None, right: bool, source: str = source,
                unit: str = unit, path: str = item["path"]) -> None:
            if raw is not None and math.isfinite(float(raw)):
                rows[name].append({"raw": float(raw), "right": float(right), "source": source,
                                   "unit": unit, "path": path})

        if item["type"] is not None:
            add("type", f.get("type_confidence"), f.get("type") == item["type"])
        if item.get("category") in accuracy.CATEGORIES and f.get("category") is not None \
                and source not in CATEGORY_SOURCES_TRAINED_ON:
            category, raw = mixed.get(item["path"], (f["category"], f.get("category_confidence")))
            add("category", raw, category == item["category"])
            rows["category"][-1].update(truth=item["category"], value=category)
            add("category (file alone)", f.get("category_confidence"),
                f["category"] == item["category"])
        # half-time grooves included: their hats tell their written tempo (as in accuracy.py)
        if truth.get("bpm") and f.get("bpm") and item["group"] in ("drumloop", "real-loop"):
            add("bpm", f.get("bpm_confidence"), accuracy.bpm_relation(f["bpm"], truth["bpm"])[0])
        if truth.get("key") and f.get("key"):
            add("key", f.get("key_confidence"), accuracy.mirex(f["key"], truth["key"])[0] == 1.0)
        if truth.get("chord") and f.get("chord"):
            add("chord", f.get("chord_confidence"),
                _chord_parts(f["chord"]) == _chord_parts(truth["chord"]))
        if item["group"] == "note" and f.get("note"):
            add("note", f.get("note_confidence"),
                accuracy.note_relation(accuracy.note_midi(f), truth["midi"])[0])
    for row in calibration_loop_rows(work, data, jobs, log):
        rows["bpm"].append(row)
    return rows


def calibration_loop_rows(work: Path, data: Path, jobs: int, log=accuracy.log) -> list[dict]:
    """bpm rows of the drum loops sequenced from Sonic Pi's CC0 hits for calibration only
    (render.calibration_loops): nearly all the evaluation set's own loops are sequenced from
    the GPL kits, which no map may learn from. Renamed and scanned in a library of their own,
    so the evaluation set's category consensus does not change. They feed the bpm map only:
    type has hundreds of learnable rows of real material already."""
    loops = [{"src": r["path"], "group": "drumloop", "type": "loop", "truth": r,
              "source": r["source"]}
             for r in accuracy.render.calibration_loops(data, work / "calibration-loops",
                                                        log=log)]
    if accuracy.build_pool(loops, work / "loops-pool"):
        import shutil

        shutil.rmtree(work / "loops-home", ignore_errors=True)
    with Library(work / "loops-home", jobs=jobs) as library:
        report = library.scan([work / "loops-pool" / "samples"])
        log(f"  calibration loops: {report.seen} files, {report.analysed} analysed")
        features = _raw_features(library)
    rows = []
    for item in loops:
        f = features.get(item["path"]) or {}
        raw = f.get("bpm_confidence")
        if f.get("bpm") and raw is not None and math.isfinite(float(raw)):
            rows.append({"raw": float(raw), "source": item["source"],
                         "right": float(accuracy.bpm_relation(f["bpm"], item["truth"]["bpm"])[0]),
                         "unit": item["truth"]["pattern"], "path": item["path"]})
    return rows


def learnable(rows: list[dict]) -> list[dict]:
    """The rows whose source's licence lets us learn from it (labels.LEARN_FROM)."""
    return [r for r in rows if labels.may_learn_from(r["source"])]


def held_out_unit(rows: list[dict]) -> str:
    """"source" when the rows come from at least two sources and no source holds more than
    MAX_SHARE of them (else holding out the big one leaves a map fitted on a handful), else
    "unit" (the instrument, or the drum pattern). Given the learnable rows."""
    counts = Counter(r["source"] for r in rows)
    if len(counts) >= MIN_SOURCES and max(counts.values()) <= MAX_SHARE * len(rows):
        return "source"
    return "unit"


def fit_maps(rows: list[dict], per_value: bool) -> dict[str | None, CalibrationMap]:
    """The estimate's map (key None) and, with ``per_value``, one per answer that has at least
    MIN_ROWS rows: what scripts/fit_calibration.py ships. Fitted on the learnable rows only;
    none at all (every raw score passes through) when fewer than MIN_ROWS of them."""
    rows = learnable(rows)
    if len(rows) < MIN_ROWS:
        return {}
    maps = {None: fit_isotonic([r["raw"] for r in rows], [r["right"] for r in rows])}
    if per_value:
        for value, count in Counter(r.get("value") for r in rows).items():
            if value is not None and count >= MIN_ROWS:
                members = [r for r in rows if r.get("value") == value]
                maps[value] = fit_isotonic([r["raw"] for r in members],
                                           [r["right"] for r in members])
    return maps


def _apply(maps: dict[str | None, CalibrationMap], row: dict) -> float:
    mapping = maps.get(row.get("value")) or maps.get(None)
    return mapping(row["raw"]) if mapping is not None else row["raw"]


def held_out_confidences(rows: list[dict], per_value: bool = False) -> np.ndarray:
    """Each row's confidence under maps that never saw it: a learnable row's under maps fitted
    on the other learnable sources (or instruments, see held_out_unit), a test source's under
    the maps fitted on every learnable row (what ships). No map: the raw score."""
    clean = learnable(rows)
    shipped = fit_maps(clean, per_value)
    out = np.array([_apply(shipped, row) for row in rows], dtype=np.float64)
    if not shipped:
        return out
    key = held_out_unit(clean)
    for unit in sorted({r[key] for r in clean}):
        maps = fit_maps([r for r in clean if r[key] != unit], per_value)
        for index, row in enumerate(rows):
            if labels.may_learn_from(row["source"]) and row[key] == unit:
                out[index] = _apply(maps, row)
    return out


def print_table(title: str, confidence: np.ndarray, right: np.ndarray) -> None:
    ece = expected_calibration_error(confidence, right)
    print(f"  {title}: n={len(right)}, accuracy {right.mean():.3f}, mean confidence "
          f"{confidence.mean():.3f}, ECE {ece:.3f} {'PASS' if ece <= GOAL else 'FAIL'}")
    print("    bin        n   conf    acc")
    for low, high, count, conf, acc in reliability_table(confidence, right):
        print(f"    {low:.1f}-{high:.1f} {count:5} {conf:6.3f} {acc:6.3f}")


def category_goals(members: list[dict]) -> None:
    """Issue 17's category goals on the kits never trained on (Hydrogen, LMMS): top-1 >= 0.85,
    kick/snare/hihat >= 0.90, and at calibrated confidence >= 0.9 right >= 95 % of the time on
    at least half the files."""
    kits = [r for r in members if r["source"] != "fluidr3"]
    if not kits:
        return
    held = held_out_confidences(members, per_value=True)[[r["source"] != "fluidr3"
                                                           for r in members]]
    right = np.array([r["right"] for r in kits])
    print(f"  goals on {len(kits)} one-shots of kits never trained on (catalog answer, "
          "consensus included):")
    print(f"    top-1 {right.mean():.3f} (goal >= 0.85)")
    for name in ("kick", "snare", "hihat", "cymbal", "tom", "clap", "perc", "bass", "tonal"):
        mask = np.array([r.get("truth") == name for r in kits])
        if mask.any():
            goal = " (goal >= 0.90)" if name in ("kick", "snare", "hihat") else ""
            print(f"    {name:7} {right[mask].mean():.3f} n={mask.sum()}{goal}")
    over = held >= 0.9
    share = over.mean()
    print(f"    at confidence >= 0.9: right {right[over].mean() if over.any() else float('nan'):.3f} "
          f"on {share:.0%} of the files (goal: >= 0.95 on >= 50 %)")


def report(rows: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Print the reliability tables; returns estimate -> held-out ECE over all its rows
    ("all"), over the learnable sources, each scored held out ("learnt"), and over the test
    sources ("test"), with "map" 1.0 when the estimate gets a map, 0.0 when too few learnable
    rows leave its raw score to pass through."""
    summary = {}
    for name in [*ESTIMATES, "category (file alone)"]:
        members = rows.get(name, [])
        print(f"\n== {name} ==")
        if not members:
            print("  no estimates with a known answer")
            continue
        right = np.array([r["right"] for r in members])
        raw = np.array([r["raw"] for r in members])
        clean = learnable(members)
        held = held_out_confidences(members, per_value=name in PER_VALUE)
        learnt = np.array([labels.may_learn_from(r["source"]) for r in members])
        if len(clean) < MIN_ROWS:
            print(f"  {len(clean)} rows of learnable sources, fewer than {MIN_ROWS}: no map, "
                  "the raw score passes through")
        else:
            print(f"  fitted on {len(clean)} rows of learnable sources, held out by "
                  f"{held_out_unit(clean)}; test sources scored by the map fitted on them all"
                  + ("; a map per answer with enough rows" if name in PER_VALUE else ""))
        print_table("raw score (no map)", raw, right)
        print_table("calibrated, held out (all)", held, right)
        for source in sorted({r["source"] for r in members}):
            mask = np.array([r["source"] == source for r in members])
            ece = expected_calibration_error(held[mask], right[mask])
            over = held[mask] >= 0.9
            extra = (f"; at >= 0.9: {right[mask][over].mean():.3f} right on {over.mean():.0%}"
                     if over.any() else "; none at >= 0.9")
            role = "learnt" if labels.may_learn_from(source) else "test"
            print(f"    {source:22} {role:6} n={mask.sum():4} acc {right[mask].mean():.3f} "
                  f"conf {held[mask].mean():.3f} ECE {ece:.3f}{extra}")
        summary[name] = {"all": expected_calibration_error(held, right),
                         "learnt": expected_calibration_error(held[learnt], right[learnt]),
                         "test": expected_calibration_error(held[~learnt], right[~learnt]),
                         "map": float(len(clean) >= MIN_ROWS)}
        if name == "category":
            category_goals(members)
    print("\n== Expected calibration error, held out (goal <= 0.05) ==")
    print(f"  {'':24} {'all':>6} {'learnt':>7} {'test':>6}")
    for name, ece in summary.items():
        verdict = "PASS" if max(v for k, v in ece.items() if k != "map" and not math.isnan(v)) \
            <= GOAL else "FAIL"
        note = "" if ece["map"] else f"  (no map: fewer than {MIN_ROWS} learnable rows)"
        print(f"  {name:24} {ece['all']:6.3f} {ece['learnt']:7.3f} {ece['test']:6.3f}  "
              f"{verdict}{note}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=labels.DEFAULT_DEST)
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "sm-calibration",
                        help="the renamed pool and its SAMPLEMIND home (reused when present)")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    args = parser.parse_args()
    rows = collect(args.work.resolve(), args.data, args.jobs)
    report(rows)


if __name__ == "__main__":
    main()
