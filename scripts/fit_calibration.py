"""Fit the shipped confidence maps: samplemind/analysis/calibration.json.

    .venv/bin/python scripts/fit_calibration.py [--work DIR] [--data DIR] [--jobs N]

One command, re-run whenever an estimator or the category model changes (after bumping
EXTRACTOR_VERSION, so the evaluation set is analysed afresh): it scans the accuracy
benchmark's evaluation set like benchmarks/calibration.py (which shares the rows and prints
the held-out reliability tables), fits one isotonic map per estimate on the rows of the
sources whose licence lets us learn from them (benchmarks/data/labels.py LEARN_FROM: the
FluidR3 and MuseScore renders, Sonic Pi, the Salamander piano; never the Hydrogen kits or
LMMS, which are test sources only), and writes the JSON with each map's held-out ECE (its
learnable sources held out one at a time) and test ECE (the test sources) beside it. An
estimate with fewer than MIN_ROWS learnable rows keeps no map (its raw score passes through;
"without_map" says so) rather than a map fitted on noise. Nothing from Debian's
hydrogen-drumkits-effects is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import calibration as bench  # noqa: E402  (benchmarks/calibration.py)

from samplemind.analysis import calibration  # noqa: E402
from samplemind.analysis.versions import EXTRACTOR_VERSION  # noqa: E402
from samplemind.config import default_jobs  # noqa: E402

MIN_ROWS = bench.MIN_ROWS


def fit(rows: dict[str, list[dict]], summary: dict[str, dict[str, float]] | None = None,
        only: list[str] | None = None, kept: dict | None = None) -> tuple[dict, dict]:
    """(maps, without_map) for calibration.json from the benchmark's rows: every map fitted
    on the rows of learnable sources only (labels.LEARN_FROM); an estimate with fewer than
    MIN_ROWS of them keeps no map (without_map says why). With ``only``, the other
    estimates' maps are taken from ``kept`` as they are. ``summary``: the held-out ECEs of
    bench.report, written beside each map."""
    summary = summary or {}
    maps: dict[str, dict] = {}
    without_map: dict[str, str] = {}
    for name in calibration.ESTIMATES:
        if only and name not in only:
            maps.update({key: spec for key, spec in (kept or {}).items()
                         if key == name or key.startswith(f"{name}:")})
            continue
        everything = rows.get(name, [])
        members = bench.learnable(everything)
        tested = sorted({r["source"] for r in everything} - {r["source"] for r in members})
        if len(members) < MIN_ROWS:
            without_map[name] = (f"{len(members)} rows of learnable sources, fewer than "
                                 f"{MIN_ROWS}: the raw score passes through")
            print(f"{name}: {without_map[name]}", file=sys.stderr)
            continue
        fitted = bench.fit_maps(members, per_value=name in calibration.PER_VALUE)
        ece = summary.get(name, {})
        maps[name] = {**fitted.pop(None).to_json(), "n": len(members),
                      "sources": sorted({r["source"] for r in members}),
                      "tested_on": tested,
                      "held_out_by": bench.held_out_unit(members),
                      "held_out_ece": _rounded(ece.get("learnt")),
                      "test_ece": _rounded(ece.get("test")),
                      "accuracy": round(float(np.mean([r["right"] for r in members])), 4)}
        for value, mapping in sorted(fitted.items()):
            answers = [r for r in members if r.get("value") == value]
            maps[f"{name}:{value}"] = {**mapping.to_json(), "n": len(answers),
                                       "accuracy": round(float(np.mean(
                                           [r["right"] for r in answers])), 4)}
    return maps, without_map


def _rounded(value: float | None) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=bench.labels.DEFAULT_DEST)
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "sm-calibration")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--out", type=Path, default=calibration.CALIBRATION_FILE)
    parser.add_argument("--only", nargs="*", choices=calibration.ESTIMATES,
                        help="refit these estimates, keep the other maps of --out as they are")
    args = parser.parse_args()
    rows = bench.collect(args.work.resolve(), args.data, args.jobs)
    summary = bench.report(rows)
    kept = {}
    if args.only and args.out.exists():
        kept = json.loads(args.out.read_text()).get("maps", {})
    maps, without_map = fit(rows, summary, args.only, kept)
    document = {"version": calibration.CALIBRATION_VERSION,
                "extractor_version": EXTRACTOR_VERSION,
                "fitted_by": "scripts/fit_calibration.py",
                "learnt_from": sorted(bench.labels.LEARN_FROM),
                "without_map": without_map, "maps": maps}
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {args.out} ({', '.join(maps)})", file=sys.stderr)


if __name__ == "__main__":
    main()
