"""The independent check of chords on real guitar strums: `python benchmarks/independent.py`.

    .venv/bin/python benchmarks/independent.py [--data DIR] [--jobs N] [--work DIR]

Debian's hydrogen-drumkits-effects holds the belofilms GuitarStrums kit: real recorded guitar
strums, each named after its chord ("Fsharp major_02.flac", "Aminor_UP_01.flac", ...). The
211 whose name is a major or a minor triad are the check; the half-diminished ones
("Bminor7b5", "Asharp minro7b5") are left out. This source is reserved for independent
checks (issue 17): nothing here is used to tune a rule, fit a calibration or train a model,
and no tuning, calibration or training script reads what this one fetches or writes
(the package is unpacked into its own folder, by default benchmarks/data/independent,
never into the evaluation set's benchmarks/data/eval; the scan goes to a temporary folder).
Report these figures; do not choose anything by them.

The package is fetched as benchmarks/data/fetch.sh fetches its packages (apt-get download,
dpkg -x; skipped when already unpacked). Every strum is re-encoded through soundfile under a
neutral name (sample_0001.wav, ...: no name, folder or metadata chunk survives, so the chord
in the name cannot leak into the answer) and scanned with samplemind.Library, the real
pipeline. Printed, against the chord in the file name:

  chord or key given   a chord or a key at all
  exact chord          the chord named in the file (root and quality)
  root right           the chord's root, whatever its quality
  key MIREX            the key against the key the triad implies (C -> C major, Am -> A minor;
                       1 same, 0.5 fifth, 0.3 relative, 0.2 parallel, 0 else or none)
  note given           a single note named instead (never right: a strum is a chord)

Exit code 0: this reports, it doesn't gate.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from samplemind.music import NOTE_NAMES, chord_name, parse_chord  # noqa: E402

PACKAGE = "hydrogen-drumkits-effects"
KIT = "belofilms_GuitarStrums"
DEFAULT_DATA = HERE / "data" / "independent"
# "Fsharp major_02", "Bflat major", "Csharp minor_UP_00", "Cmajor_Down_01", "Asharp minro7b5"
_STRUM_RE = re.compile(r"^([A-G])(sharp|flat)?\s*(major|minor|minro)(\S*?)(?:_.*)?$", re.IGNORECASE)


def strum_chord(filename: str) -> str | None:
    """The triad a GuitarStrums file is named after ("Fsharp minor_UP_03.flac" -> "F#m"), or
    None when the name is not a plain major or minor triad (the m7b5 chords, anything else)."""
    stem = Path(filename).name
    stem = stem[: -len(".flac")] if stem.lower().endswith(".flac") else stem
    match = _STRUM_RE.match(stem)
    if not match:
        return None
    letter, accidental, quality, extension = match.groups()
    if extension:  # "7b5" (half-diminished): not a triad
        return None
    pc = NOTE_NAMES.index(letter.upper()) + {"sharp": 1, "flat": -1}.get((accidental or "").lower(), 0)
    return chord_name(pc % 12, "" if quality.lower() == "major" else "m")


def implied_key(chord: str) -> str:
    """The key a major or minor triad implies: "F#m" -> "F# minor", "C" -> "C major"."""
    root, quality = parse_chord(chord)
    return f"{NOTE_NAMES[root]} {'minor' if quality == 'm' else 'major'}"


def fetch(data: Path) -> Path:
    """Unpack the package into data/<package> (as fetch.sh does) and return the kit's folder."""
    subprocess.run(["bash", str(HERE / "data" / "fetch.sh"), str(data), PACKAGE], check=True,
                   stdout=sys.stderr)
    kits = sorted((data / PACKAGE).glob(f"usr/share/hydrogen/data/drumkits/{KIT}"))
    if not kits:
        raise SystemExit(f"error: no {KIT} kit in {data / PACKAGE}")
    return kits[0]


def strums(kit: Path) -> tuple[list[tuple[Path, str]], int]:
    """([(file, chord named)] of the triads, how many other files were left out)."""
    named, other = [], 0
    for path in sorted(kit.glob("*.flac")):
        chord = strum_chord(path.name)
        if chord is None:
            other += 1
        else:
            named.append((path, chord))
    return named, other


def score(pairs: list[tuple[str, dict]]) -> dict[str, float]:
    """(chord named, record) pairs -> counts and shares of the figures printed."""
    from accuracy import mirex

    n = len(pairs)
    given = exact = root = notes = 0
    mirex_total = 0.0
    for truth, record in pairs:
        chord, key = record.get("chord"), record.get("key")
        given += bool(chord or key)
        parsed, wanted = parse_chord(chord) if chord else None, parse_chord(truth)
        exact += parsed == wanted
        root += parsed is not None and parsed[0] == wanted[0]
        notes += record.get("note") is not None
        mirex_total += mirex(key, implied_key(truth))[0]
    return {"n": n, "given": given, "exact": exact, "root": root, "notes": notes,
            "mirex": mirex_total / n if n else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"where {PACKAGE} is unpacked (default: {DEFAULT_DATA})")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--work", type=Path,
                        help="keep the renamed files and the SAMPLEMIND home here (default: a "
                             "temporary folder, removed)")
    args = parser.parse_args()
    import accuracy

    from samplemind import Library
    from samplemind.analysis.versions import EXTRACTOR_VERSION
    from samplemind.config import default_jobs

    started = time.perf_counter()
    named, other = strums(fetch(args.data))
    temp = None if args.work else tempfile.TemporaryDirectory(prefix="sm-independent-")
    work = args.work.resolve() if args.work else Path(temp.name)
    try:
        pool = work / "samples"
        pool.mkdir(parents=True, exist_ok=True)
        pool = pool.resolve()
        targets, unreadable = [], 0
        for number, (source, _chord) in enumerate(named, 1):
            target = pool / f"sample_{number:04d}.wav"
            if not target.exists() and not accuracy.reencode(str(source), target):
                unreadable += 1
                target = None
            targets.append(target)
        with Library(work / "home", jobs=args.jobs or default_jobs()) as library:
            report = library.scan([pool])
            records = {s.path: s.record for s in library.ls()}
    finally:
        if temp is not None:
            temp.cleanup()
    pairs = [(chord, records.get(str(target), {}) if target else {})
             for (_source, chord), target in zip(named, targets)]
    print(f"independent check: Debian {PACKAGE}, {KIT}: {len(named)} strums named as a major or "
          f"minor triad ({other} other files left out; {unreadable} unreadable, "
          f"{report.failed} failed: counted as no answer); extractor {EXTRACTOR_VERSION}")
    print("never used for tuning, training or any choice; files renamed, so only the sound tells")
    print(f"{'triads':8} {'n':>4} {'given':>12} {'exact chord':>12} {'root':>12} {'MIREX':>6} "
          f"{'note':>5}")
    for label, members in (("major", [p for p in pairs if not p[0].endswith("m")]),
                           ("minor", [p for p in pairs if p[0].endswith("m")]),
                           ("all", pairs)):
        s = score(members)
        cells = [f"{s[k]:4d} {s[k] / s['n']:6.3f}" if s["n"] else "-" for k in ("given", "exact", "root")]
        print(f"{label:8} {s['n']:4d} " + " ".join(f"{c:>12}" for c in cells)
              + f" {s['mirex']:6.3f} {s['notes']:5d}")
    s = score(pairs)
    print(f"chord or key given {s['given'] / s['n']:.3f} ({s['given']} of {s['n']}), exact chord "
          f"{s['exact'] / s['n']:.3f} ({s['exact']}), key MIREX {s['mirex']:.3f}")
    print("samplemind answers (chord, key) by count: " + ", ".join(
        f"{k}: {v}" for k, v in sorted(Counter(
            "chord" if r.get("chord") else "key only" if r.get("key") else
            "note" if r.get("note") else "nothing" for _t, r in pairs).items())))
    loops = [r for _t, r in pairs if r.get("type") == "loop"]
    print(f"type: {sum(r.get('type') == 'oneshot' for _t, r in pairs)} of {len(pairs)} strums "
          f"typed one-shot; typed loop {len(loops)}, of which at confidence >= 0.9: "
          f"{sum((r.get('type_confidence') or 0) >= 0.9 for r in loops)}")
    print(f"(total {time.perf_counter() - started:.0f} s, jobs={args.jobs or default_jobs()})")


if __name__ == "__main__":
    main()
