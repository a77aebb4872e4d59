"""Accuracy of the estimates on small generated subsets, against issue 5's targets.

The full evaluation (real Debian samples and FluidR3 renders) is benchmarks/accuracy.py; it
needs fluidsynth and a download, so the suite uses material generated here with
samplemind.synth instead: 12 drum loops at known tempos (70-180 BPM, several patterns),
12 single notes of known pitch (MIDI 28-96, several waveforms) and 6 chord progressions in
known keys. Every file is written under a neutral name (sample_01.wav ...), so only the
sound can tell; the same scoring rules as the benchmark apply (a missing estimate is wrong).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samplemind import synth
from samplemind.music import NOTE_NAMES, parse_key

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

SR = 44100
# (bpm, style, bars): every pattern synth knows, each beside tempos it is not written for
LOOPS = [(72, "boombap", 2), (80, "breaks", 2), (88, "house", 2), (95, "boombap", 2),
         (104, "breaks", 2), (112, "house", 2), (121, "dnb", 2), (128, "house", 4),
         (140, "breaks", 4), (150, "boombap", 4), (165, "dnb", 4), (176, "breaks", 4)]
# (MIDI, waveform): low bass to high lead, every pitch class once
NOTES = [(29, "warm"), (33, "saw"), (38, "square"), (43, "pluck"), (48, "keys"),
         (54, "organ"), (59, "triangle"), (63, "saw"), (68, "keys"), (76, "square"),
         (82, "pluck"), (95, "sine")]
PROGRESSIONS = [("C major", "keys", 96), ("A minor", "warm", 110), ("F# major", "organ", 120),
                ("D# minor", "saw", 100), ("G major", "pluck", 90), ("B minor", "keys", 126)]
TARGETS = {"bpm_acc1": 0.95, "bpm_acc2": 0.99, "key_mirex": 0.90, "note_pc": 0.95,
           "note_octave": 0.90, "type": 0.97}


def _write(path: Path, audio: np.ndarray) -> None:
    sf.write(path, np.clip(audio, -1, 1), SR, subtype="PCM_16")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict, dict]]:
    """(ground truth, samplemind record) for every generated file, scanned once."""
    from samplemind import Library

    root = tmp_path_factory.mktemp("accuracy")
    folder = root / "pool"
    folder.mkdir()
    truths = []
    for index, (bpm, style, bars) in enumerate(LOOPS):
        audio = synth.drum_loop(SR, bpm, bars, style=style, rng=np.random.default_rng(index))
        truths.append(({"kind": "loop", "type": "loop", "bpm": bpm, "style": style}, audio))
    for midi, waveform in NOTES:
        audio = synth.tone(SR, midi, 1.5, waveform, decay=0.8 if waveform in ("pluck", "keys")
                           else None, release=0.3)
        truths.append(({"kind": "note", "type": "oneshot", "midi": midi}, audio))
    for index, (key, timbre, bpm) in enumerate(PROGRESSIONS):
        audio = synth.chord_progression(SR, key, bpm, 4, timbre=timbre,
                                        rng=np.random.default_rng(100 + index))
        truths.append(({"kind": "progression", "type": "loop", "key": key}, audio))
    order = np.random.default_rng(7).permutation(len(truths))
    paths = {}
    for number, position in enumerate(order, 1):
        truth, audio = truths[position]
        path = folder / f"sample_{number:02d}.wav"
        _write(path, audio)
        paths[str(path)] = truth
    with Library(root / "home", jobs=2, timeout=60) as library:
        report = library.scan([folder])
        assert report.failed == 0
        records = {s.path: s.record for s in library.ls()}
    return [(truth, records[path]) for path, truth in paths.items()]


def _bpm_scores(estimate: float | None, truth: float) -> tuple[bool, bool]:
    if not estimate:
        return False, False
    near = [abs(estimate - truth * f) <= 0.04 * truth * f for f in (1.0, 2.0, 0.5)]
    return near[0], any(near)


def _mirex(estimate: str | None, truth: str) -> float:
    if not estimate or parse_key(estimate) is None:
        return 0.0
    (et, em), (tt, tm) = parse_key(estimate).split(), parse_key(truth).split()
    e, t = NOTE_NAMES.index(et), NOTE_NAMES.index(tt)
    if (e, em) == (t, tm):
        return 1.0
    if em == tm and (e - t) % 12 in (5, 7):
        return 0.5
    if (tm, em) == ("major", "minor") and (e - t) % 12 == 9 or \
            (tm, em) == ("minor", "major") and (e - t) % 12 == 3:
        return 0.3
    return 0.2 if e == t else 0.0


def _midi_of(record: dict) -> float | None:
    if record.get("pitch_hz"):
        return 69.0 + 12.0 * math.log2(record["pitch_hz"] / 440.0)
    return None


def _describe(pairs: list[tuple[dict, dict]], field: str) -> str:
    return "; ".join(f"{t} -> {r.get(field)}" for t, r in pairs)


def _tempo_scores(scanned: list[tuple[dict, dict]]) -> tuple[float, float, str]:
    loops = [(t, r) for t, r in scanned if t["kind"] == "loop"]
    assert len(loops) == 12
    scores = [_bpm_scores(r.get("bpm"), t["bpm"]) for t, r in loops]
    misses = [(t, r) for (t, r), (a, _) in zip(loops, scores) if not a]
    return (sum(a for a, _ in scores) / len(loops), sum(b for _, b in scores) / len(loops),
            _describe(misses, "bpm"))


def test_tempo_of_drum_loops_accuracy1(scanned: list[tuple[dict, dict]]) -> None:
    acc1, _, misses = _tempo_scores(scanned)
    assert acc1 >= TARGETS["bpm_acc1"], misses


def test_tempo_of_drum_loops_accuracy2(scanned: list[tuple[dict, dict]]) -> None:
    _, acc2, misses = _tempo_scores(scanned)
    assert acc2 >= TARGETS["bpm_acc2"], misses


def test_note_of_single_notes(scanned: list[tuple[dict, dict]]) -> None:
    notes = [(t, r) for t, r in scanned if t["kind"] == "note"]
    assert len(notes) == 12
    pc = octave = 0
    misses = []
    for truth, record in notes:
        estimate = _midi_of(record)
        diff = None if estimate is None else estimate - truth["midi"]
        ok_pc = diff is not None and abs((diff + 6) % 12 - 6) <= 0.5
        ok_octave = diff is not None and abs(diff) <= 0.5
        pc += ok_pc
        octave += ok_octave
        if not ok_octave:
            misses.append((truth, record))
    assert pc / len(notes) >= TARGETS["note_pc"], _describe(misses, "note")
    assert octave / len(notes) >= TARGETS["note_octave"], _describe(misses, "note")


def test_key_of_chord_progressions(scanned: list[tuple[dict, dict]]) -> None:
    progressions = [(t, r) for t, r in scanned if t["kind"] == "progression"]
    assert len(progressions) == 6
    score = float(np.mean([_mirex(r.get("key"), t["key"]) for t, r in progressions]))
    assert score >= TARGETS["key_mirex"], _describe(progressions, "key")


def test_loop_or_oneshot(scanned: list[tuple[dict, dict]]) -> None:
    correct = [r.get("type") == t["type"] for t, r in scanned]
    misses = [(t, r) for (t, r), ok in zip(scanned, correct) if not ok]
    assert sum(correct) / len(scanned) >= TARGETS["type"], _describe(misses, "type")
