"""Fit the shipped confidence maps: samplemind/analysis/calibration.json.

    .venv/bin/python scripts/fit_calibration.py [--work DIR] [--data DIR] [--jobs N]

One command, re-run whenever an estimator or the category model changes (after bumping
EXTRACTOR_VERSION, so the evaluation set is analysed afresh): it scans the accuracy
benchmark's evaluation set like benchmarks/calibration.py (which shares the rows and prints
the held-out reliability tables), fits one isotonic map per estimate on every source, and
writes the JSON with the held-out ECE of each map beside it. An estimate with fewer than
MIN_ROWS answers keeps no map (its raw score passes through) rather than a map fitted on
noise. Nothing from Debian's hydrogen-drumkits-effects is used.
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
    maps = {}
    for name in calibration.ESTIMATES:
        if args.only and name not in args.only:
            maps.update({key: spec for key, spec in kept.items()
                         if key == name or key.startswith(f"{name}:")})
            continue
        members = rows.get(name, [])
        if len(members) < MIN_ROWS:
            print(f"{name}: {len(members)} answers, fewer than {MIN_ROWS}: no map", file=sys.stderr)
            continue
        fitted = bench.fit_maps(members, per_value=name in calibration.PER_VALUE)
        maps[name] = {**fitted.pop(None).to_json(), "n": len(members),
                      "sources": sorted({r["source"] for r in members}),
                      "held_out_by": bench.held_out_unit(members),
                      "held_out_ece": round(float(summary.get(name, np.nan)), 4),
                      "accuracy": round(float(np.mean([r["right"] for r in members])), 4)}
        for value, mapping in sorted(fitted.items()):
            answers = [r for r in members if r.get("value") == value]
            maps[f"{name}:{value}"] = {**mapping.to_json(), "n": len(answers),
                                       "accuracy": round(float(np.mean(
                                           [r["right"] for r in answers])), 4)}
    document = {"version": calibration.CALIBRATION_VERSION,
                "extractor_version": EXTRACTOR_VERSION,
                "fitted_by": "scripts/fit_calibration.py", "maps": maps}
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {args.out} ({', '.join(maps)})", file=sys.stderr)


if __name__ == "__main__":
    main()
