"""Kits as instruments, speed: `python benchmarks/instruments.py` (one command, prints every figure).

A kit of N generated one-shots (kick, snare, hihat, cymbal, tom, clap, perc in turn, some in
named velocity layers) is exported in the same process, in a temporary folder, three ways:
a plain kit folder (the baseline), the same with an SFZ instrument, and with a Decent Sampler
preset; plus the keyboard mapping alone (records in, zones out). Medians of --repeats runs
and the ratio of each instrument export to the plain one: the instrument should add little
to copying the files. `--sizes 500,5000`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from samplemind.export import export_kit  # noqa: E402
from samplemind.instruments import spec_for  # noqa: E402
from samplemind.instruments.mapping import build  # noqa: E402

CATEGORIES = ("kick", "snare", "hihat", "cymbal", "tom", "clap", "perc")
LAYERS = ("Soft", "Med", "Hard")


def make_kit(folder: Path, count: int) -> list[dict]:
    rng = np.random.default_rng(0)
    records = []
    for i in range(count):
        category = CATEGORIES[i % len(CATEGORIES)]
        layer = LAYERS[(i // len(CATEGORIES)) % len(LAYERS)] if i % 2 else ""
        name = f"{category} {i // (len(CATEGORIES) * len(LAYERS)):04d} {layer}".strip() + ".wav"
        path = folder / category / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.2 * rng.standard_normal(2205)).astype(np.float32), 22050)
        records.append({"id": i + 1, "path": str(path), "name": name, "type": "oneshot",
                        "category": category, "note": None,
                        "loudness_lufs": -30.0 + 10 * LAYERS.index(layer) if layer else -12.0,
                        "peak_db": -1.0, "duration": 0.1, "sample_rate": 22050})
    return records


def timed(action, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'sounds':>7} {'plain s':>9} {'sfz s':>9} {'ratio':>6} {'ds s':>9} {'ratio':>6} "
          f"{'mapping ms':>11}")
    for size in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="sm-instruments-") as tmp:
            base = Path(tmp)
            records = make_kit(base / "lib", size)
            plain = timed(partial(export, base, records, None), args.repeats)
            sfz = timed(partial(export, base, records, "sfz"), args.repeats)
            ds = timed(partial(export, base, records, "decentsampler"), args.repeats)
            pairs = [(r, f"{r['category']}/{r['name']}") for r in records]
            mapping = timed(partial(build, pairs, "Kit"), args.repeats)
            print(f"{size:>7} {plain:>9.3f} {sfz:>9.3f} {sfz / plain:>6.2f} {ds:>9.3f} "
                  f"{ds / plain:>6.2f} {mapping * 1000:>11.1f}")


def export(base: Path, records: list[dict], kind: str | None) -> None:
    """One kit folder, made afresh: plain (kind None) or with an instrument."""
    out = base / "out"
    shutil.rmtree(out, ignore_errors=True)
    export_kit(records, out, instrument=spec_for(kind, "Kit") if kind else None)


if __name__ == "__main__":
    main()
