"""Rendered ground truth for the accuracy benchmark: notes, chord progressions, drum loops.

    .venv/bin/python benchmarks/data/render.py [DEST] [--force]

Needs what fetch.sh unpacks in DEST (default benchmarks/data/eval; the MuseScore soundfont comes from
Debian's musescore-general-soundfont-small) and the ``fluidsynth``
program (Debian: ``apt-get install -y fluidsynth``). Writes DEST/rendered/:

  notes/        single notes of known MIDI pitch (28-96) from 14 General MIDI programs of the
                FluidR3 soundfont (piano, e-piano, accordion, guitars, basses, strings, cello,
                trumpet, flute, synth leads, vibraphone), each pitch class once per program,
                ~1.2 s held (no organs: FluidR3's sound octaves below their key, see ORGANS)
  progressions/ I-vi-IV-V-I, ii-V-I-I, I-IV-V-I in the 12 major keys and i-VI-III-VII-i,
                i-iv-V-i, i-VII-VI-V-i in the 12 minor keys (72 files, 7-10 s, block chords,
                pulses or arpeggios, with or without a bass line, 6 programs), cut at the bar
  chords/       320 chord one-shots: 10 GM programs (piano, e-piano, drawbar organ, nylon, steel
                and clean electric guitar, strings, two pads, brass) x 8 qualities (major, m, 7,
                maj7, m7, sus2, sus4, dim) x 2 random roots, from each of two soundfonts (FluidR3
                and MuseScore General, both MIT: two sources for the reports), root-position
                voicings with the root in the bass, guitars strummed (8-25 ms between strings),
                held 0.8-2.5 s and released; the key truth is the one the chord implies
                (major/7/maj7/sus -> major, m/m7 -> minor, dim -> none)
  longprogs/    48 sustained progressions of 10-40 s (a progression above repeated, bars of 1.8-4 s,
                held, pulsed or arpeggiated, 6 programs), 24 from each soundfont
  drumloops/    120 loops at known tempos from 60 to 180 BPM, sequenced with numpy from the real
                kick/snare/hi-hat one-shots that labels.py labels (Hydrogen kits, LMMS, Sonic Pi;
                the kit's package is the loop's source): 9 patterns (rock, four-on-the-floor,
                boom-bap, breakbeat, funk 16ths, slow R&B with 16th hats, half-time, shuffle,
                drum'n'bass), 1-4 bars, some swung, small timing/velocity humanisation;
                what rings past the end wraps to the start, as in a real loop. The half-time
                pattern at T BPM is, kick and snare for kick and snare, a backbeat at T/2; its
                even eighth hats (the slow R&B pattern accents its sixteenths) tell T
  manifest.jsonl one record per file: path, kind (note | progression | drumloop), type, and the
                ground truth (midi + note, key, bpm) plus how it was made

The ground truth is what was asked for: the MIDI note sent to fluidsynth (even where a GM bass
patch below E1 has a weak fundamental), the key the progression was written in, the tempo the
loop was sequenced at. Everything is deterministic (fixed seeds; fluidsynth renders offline
with reverb and chorus off for notes). MIDI files are written by a 30-line Standard MIDI File
writer here: format 0 with note, program and tempo events is all we need, so no new dependency.

calibration_loops() sequences 120 more drum loops the same way from Sonic Pi's CC0 hits alone,
for benchmarks/calibration.py's bpm map (a map may learn only from licence-clean audio); they
are not part of this evaluation set.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import labels  # noqa: E402

SR = 44100
SEED = 5
VERSION = "3"  # bump when what is rendered changes: the manifest's marker is compared
SOUNDFONT = "fluid-soundfont-gm/usr/share/sounds/sf2/FluidR3_GM.sf2"
# General MIDI soundfonts the chords and long progressions are rendered from, each its own
# source in the reports (both MIT). MuseScore General descends partly from FluidR3 Mono, but its
# piano, guitars and pads are other recordings or other programming.
SOUNDFONTS = {"fluidr3": SOUNDFONT,
              "musescore": "musescore-general-soundfont-small/usr/share/sounds/sf3/"
                           "MuseScore_General_Lite.sf3"}
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi: int) -> str:
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


# -- a tiny Standard MIDI File writer ---------------------------------------------------------

PPQ = 480


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def write_midi(path: Path, events: list[tuple[float, bytes]], bpm: float, end: float) -> None:
    """Format-0 SMF. events: (time in seconds, raw MIDI message); end: end-of-track time."""
    tempo = round(60_000_000 / bpm)
    ticks_per_second = PPQ * bpm / 60.0
    timed = [(0, bytes([0xFF, 0x51, 3]) + tempo.to_bytes(3, "big"))]
    # note-offs (0x8n) before note-ons at the same time, so a repeated note restarts cleanly
    for seconds, message in sorted(events, key=lambda e: (e[0], (e[1][0] & 0xF0) != 0x80)):
        timed.append((round(seconds * ticks_per_second), message))
    timed.append((round(end * ticks_per_second), bytes([0xFF, 0x2F, 0])))
    track, last = bytearray(), 0
    for tick, message in timed:
        track += _vlq(max(0, tick - last)) + message
        last = max(last, tick)
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, PPQ)
                     + b"MTrk" + struct.pack(">I", len(track)) + bytes(track))


def program(channel: int, number: int) -> bytes:
    return bytes([0xC0 | channel, number])


def note_on(channel: int, midi: int, velocity: int) -> bytes:
    return bytes([0x90 | channel, midi, velocity])


def note_off(channel: int, midi: int) -> bytes:
    return bytes([0x80 | channel, midi, 0])


def check_fluidsynth() -> str:
    path = shutil.which("fluidsynth")
    if path is None:
        sys.exit("error: the fluidsynth program is needed to render the evaluation set.\n"
                 "  Debian/Ubuntu: sudo apt-get install -y fluidsynth\n"
                 "  macOS: brew install fluid-synth")
    return path


def render(fluidsynth: str, soundfont: Path, midi: Path, wav: Path, reverb: bool) -> np.ndarray:
    """fluidsynth -> float64 (n, 2) at SR."""
    subprocess.run([fluidsynth, "-ni", "-q", "-R", "1" if reverb else "0", "-C", "0",
                    "-g", "0.6", "-r", str(SR), "-F", str(wav), str(soundfont), str(midi)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    audio, sr = sf.read(wav, dtype="float64", always_2d=True)
    assert sr == SR, sr
    return audio


def normalise(audio: np.ndarray, peak_db: float) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return audio if peak == 0 else audio * (10 ** (peak_db / 20) / peak)


def write_wav(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(audio, -1.0, 1.0), SR, subtype="PCM_16")


# -- single notes -------------------------------------------------------------------------------

# GM program (0-based) -> (name, lowest, highest MIDI note, category)
NOTE_PROGRAMS = {
    0: ("acoustic grand piano", 28, 96, "tonal"),
    4: ("electric piano 1", 36, 88, "tonal"),
    21: ("accordion", 41, 89, "tonal"),  # not an organ: see ORGANS
    24: ("nylon guitar", 40, 84, "tonal"),
    27: ("clean electric guitar", 40, 86, "tonal"),
    33: ("electric bass (finger)", 28, 55, "bass"),
    38: ("synth bass 1", 28, 60, "bass"),
    48: ("string ensemble 1", 36, 88, "tonal"),
    42: ("cello", 36, 72, "tonal"),
    56: ("trumpet", 55, 84, "tonal"),
    73: ("flute", 60, 96, "tonal"),
    80: ("square lead", 48, 96, "tonal"),
    81: ("sawtooth lead", 40, 90, "tonal"),
    11: ("vibraphone", 53, 89, "tonal"),
}
# FluidR3's organs sound one or two octaves below the key that plays them (16' and 32' ranks:
# Drawbar Organ C4 -> C2, Percussive Organ -> an octave down, Church Organ changes with the
# register; librosa's pyin, Essentia's PitchYinFFT and samplemind all agree). Their "note" is
# not the MIDI note asked for, so single notes use no organ; the progressions keep the drawbar
# organ, where the octave doesn't change the key.
ORGANS = (16, 17, 19)
NOTE_HELD = 1.2  # seconds the key is down
NOTE_MAX = 2.0  # the rendered release is kept up to here, then faded


def trim_tail(audio: np.ndarray, floor_db: float = -60.0, fade: float = 0.01,
              longest: float = NOTE_MAX) -> np.ndarray:
    """Cut after the last sample above floor_db (re the peak), with a short fade-out."""
    level = np.max(np.abs(audio), axis=1)
    above = np.nonzero(level > level.max() * 10 ** (floor_db / 20))[0]
    end = min(audio.shape[0], (above[-1] + 1 if above.size else 1), int(longest * SR))
    out = audio[:end].copy()
    n = min(end, int(fade * SR))
    out[end - n:] *= np.linspace(1.0, 0.0, n)[:, None]
    return out


def note_plan(rng: np.random.Generator) -> list[dict]:
    plan = []
    for number, (name, low, high, category) in NOTE_PROGRAMS.items():
        for pc in rng.permutation(12):
            choices = [m for m in range(low, high + 1) if m % 12 == pc]
            midi = int(rng.choice(choices))
            plan.append({"program": number, "instrument": name, "midi": midi,
                         "velocity": int(rng.integers(80, 118)), "category": category})
    return plan


# -- chord progressions ------------------------------------------------------------------------

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# roman numeral -> (semitones above the tonic, minor triad?)
CHORDS = {
    "I": (0, False), "ii": (2, True), "iii": (4, True), "IV": (5, False), "V": (7, False),
    "vi": (9, True), "i": (0, True), "III": (3, False), "iv": (5, True), "VI": (8, False),
    "VII": (10, False),
}
PROGRESSIONS = {
    "major": (("I", "vi", "IV", "V", "I"), ("ii", "V", "I", "I"), ("I", "IV", "V", "I")),
    "minor": (("i", "VI", "III", "VII", "i"), ("i", "iv", "V", "i"), ("i", "VII", "VI", "V", "i")),
}
PROGRESSION_PROGRAMS = {0: "acoustic grand piano", 4: "electric piano 1", 16: "drawbar organ",
                        24: "nylon guitar", 48: "string ensemble 1", 89: "warm pad"}
STYLES = ("block", "pulse", "arpeggio")


def chord_notes(tonic: int, numeral: str) -> list[int]:
    """Close-position triad between A3 and G#4."""
    offset, minor = CHORDS[numeral]
    root = (tonic + offset) % 12
    pcs = [root, (root + (3 if minor else 4)) % 12, (root + 7) % 12]
    return sorted(57 + (pc - 57) % 12 for pc in pcs)


def progression_events(tonic: int, numerals: tuple[str, ...], bar: float, style: str,
                       bass: bool, rng: np.random.Generator) -> list[tuple[float, bytes]]:
    events: list[tuple[float, bytes]] = []
    beat = bar / 4
    for index, numeral in enumerate(numerals):
        start = index * bar
        notes = chord_notes(tonic, numeral)
        if style == "block":
            hits = [(start, bar, notes)]
        elif style == "pulse":
            hits = [(start + b * beat, beat * 0.9, notes) for b in range(4)]
        else:  # arpeggio in eighths: up and down, the chord's root again on top
            shape = [notes[0], notes[1], notes[2], notes[0] + 12, notes[2], notes[1], notes[0],
                     notes[1]]
            hits = [(start + e * beat / 2, beat / 2 * 0.95, [shape[e]]) for e in range(8)]
        for when, length, chord in hits:
            velocity = int(rng.integers(70, 100))
            for midi in chord:
                events += [(when, note_on(0, midi, velocity)), (when + length, note_off(0, midi))]
        if bass:
            root = 36 + (tonic + CHORDS[numeral][0]) % 12
            for half in range(2):
                when = start + half * bar / 2
                events += [(when, note_on(1, root, 95)), (when + bar / 2 * 0.9, note_off(1, root))]
    return events


def progression_plan(rng: np.random.Generator) -> list[dict]:
    plan, number = [], 0
    programs = list(PROGRESSION_PROGRAMS)
    for mode in ("major", "minor"):
        for tonic in range(12):
            for numerals in PROGRESSIONS[mode]:
                seconds = float(rng.uniform(7.0, 10.0))
                bpm = round(240.0 * len(numerals) / seconds, 1)
                plan.append({"tonic": tonic, "mode": mode, "numerals": numerals, "bpm": bpm,
                             "program": programs[number % len(programs)],
                             "style": STYLES[(number // len(programs)) % len(STYLES)],
                             "bass": bool(number % 2)})
                number += 1
    return plan


# -- chord one-shots ------------------------------------------------------------------------

# quality -> intervals above the root (the chord symbols of samplemind.analysis.tonal)
CHORD_QUALITIES = {"": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
                   "m7": (0, 3, 7, 10), "sus2": (0, 2, 7), "sus4": (0, 5, 7), "dim": (0, 3, 6)}
# GM program -> (name, strummed?): the instrument families producers' chord one-shots come from
CHORD_PROGRAMS = {0: ("acoustic grand piano", False), 4: ("electric piano 1", False),
                  16: ("drawbar organ", False), 24: ("nylon guitar", True),
                  25: ("steel guitar", True), 27: ("clean electric guitar", True),
                  48: ("string ensemble 1", False), 89: ("warm pad", False),
                  90: ("polysynth pad", False), 61: ("brass section", False)}
CHORD_MAX = 3.5  # seconds of release kept
CHORD_SLOT = 8.0  # seconds between chords rendered in one run (held + release fit)


def chord_voicing(root: int, quality: str, rng: np.random.Generator, strummed: bool) -> list[int]:
    """Root position: the root in the bass (E2-D#3 for guitars, C3-B3 otherwise) and the chord
    tones stacked above it, sometimes with the root doubled on top."""
    low = 40 if strummed else 48
    bass = low + (root - low) % 12
    tones = [bass + interval for interval in CHORD_QUALITIES[quality]]
    upper = [t + 12 for t in tones[1:]]
    notes = [bass] + sorted(set(tones[1:] + (upper if strummed else [])))
    if rng.uniform() < 0.5:
        notes.append(bass + 12 if bass + 12 not in notes else bass + 24)
    return sorted(notes)


def chord_plan(rng: np.random.Generator) -> list[dict]:
    plan = []
    for source in SOUNDFONTS:
        for number, (name, strummed) in CHORD_PROGRAMS.items():
            for quality in CHORD_QUALITIES:
                for _ in range(2):
                    root = int(rng.integers(12))
                    plan.append({"source": source, "program": number, "instrument": name,
                                 "root": root, "quality": quality,
                                 "notes": chord_voicing(root, quality, rng, strummed),
                                 "strum": float(rng.uniform(0.008, 0.025)) if strummed else 0.0,
                                 "held": float(rng.uniform(0.8, 2.5)),
                                 "velocity": int(rng.integers(75, 115))})
    return plan


def chord_key(root: int, quality: str) -> str | None:
    """The key a lone chord implies (the rule samplemind documents): dim implies none."""
    if quality == "dim":
        return None
    return f"{NOTE_NAMES[root]} {'minor' if quality in ('m', 'm7') else 'major'}"


# -- long progressions ------------------------------------------------------------------------

LONG_PROGRAMS = {0: "acoustic grand piano", 4: "electric piano 1", 16: "drawbar organ",
                 25: "steel guitar", 48: "string ensemble 1", 89: "warm pad"}


def long_plan(rng: np.random.Generator) -> list[dict]:
    """10-40 s of one progression repeated, held or pulsed, per soundfont."""
    plan = []
    programs = list(LONG_PROGRAMS)
    for source in SOUNDFONTS:
        for index in range(24):
            mode = ("major", "minor")[index % 2]
            numerals = PROGRESSIONS[mode][int(rng.integers(len(PROGRESSIONS[mode])))]
            seconds = float(rng.uniform(10.0, 40.0))
            bar = float(rng.uniform(1.8, 4.0))
            repeats = max(1, round(seconds / (bar * len(numerals))))
            plan.append({"source": source, "tonic": int(rng.integers(12)), "mode": mode,
                         "numerals": numerals * repeats, "bar": bar,
                         "program": programs[index % len(programs)],
                         "style": ("block", "pulse", "arpeggio")[(index // 6) % 3],
                         "bass": bool(rng.uniform() < 0.5)})
    return plan


# -- drum loops from real one-shots ---------------------------------------------------------

STEPS = 16
# pattern -> (voice -> [(step, gain)]), tempo range, swing choices
PATTERNS: dict[str, tuple[dict[str, list[tuple[int, float]]], tuple[float, float], tuple[float, ...]]] = {
    "rock": ({"kick": [(0, 1), (8, 1), (10, .8)], "snare": [(4, 1), (12, 1)],
              "hat": [(s, .9 if s % 4 == 0 else .6) for s in range(0, 16, 2)]},
             (60, 150), (0.5, 0.5, 0.56)),
    "four": ({"kick": [(0, 1), (4, 1), (8, 1), (12, 1)], "snare": [(4, .9), (12, .9)],
              "hat": [(2, .9), (6, .9), (10, .9), (14, .9)]},
             (100, 140), (0.5,)),
    "boombap": ({"kick": [(0, 1), (7, .7), (10, .9)], "snare": [(4, 1), (12, 1)],
                 "hat": [(s, .8 if s % 4 == 0 else .5) for s in range(0, 16, 2)]},
                (60, 100), (0.58, 0.62, 0.5)),
    "break": ({"kick": [(0, 1), (2, .7), (10, 1)], "snare": [(4, 1), (7, .35), (12, 1), (15, .35)],
               "hat": [(s, .7) for s in range(0, 16, 2)]},
              (85, 180), (0.5, 0.55)),
    "funk": ({"kick": [(0, 1), (3, .8), (10, .9)], "snare": [(4, 1), (9, .3), (12, 1), (14, .3)],
              "hat": [(s, .7 if s % 2 == 0 else .4) for s in range(16)]},
             (70, 120), (0.5, 0.54)),
    "rnb": ({"kick": [(0, 1), (7, .7), (10, .9)], "snare": [(4, 1), (12, 1)],
             "hat": [(s, .6 if s % 2 == 0 else .35) for s in range(16)]},
            (60, 90), (0.5, 0.56)),
    "halftime": ({"kick": [(0, 1), (10, .8)], "snare": [(8, 1)],
                  "hat": [(s, .7) for s in range(0, 16, 2)]},
                 (120, 180), (0.5,)),
    "shuffle": ({"kick": [(0, 1), (8, 1)], "snare": [(4, 1), (12, 1)],
                 "hat": [(s, .8 if s % 4 == 0 else .55) for s in range(0, 16, 2)]},
                (60, 130), (0.66,)),
    "dnb": ({"kick": [(0, 1), (10, 1)], "snare": [(4, 1), (12, 1)],
             "hat": [(s, .6) for s in range(0, 16, 2)]},
            (160, 180), (0.5,)),
}
VOICE_GAIN = {"kick": 1.0, "snare": 0.85, "hat": 0.45}
HIT_MAX = 1.5  # seconds of each one-shot kept (cymbal tails would swamp short loops)


def _load_hit(path: str) -> np.ndarray:
    audio, sr = sf.read(path, dtype="float64", always_2d=True)
    mono = audio.mean(axis=1)
    if sr != SR:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(sr, SR)
        mono = resample_poly(mono, SR // g, sr // g)
    start = int(np.argmax(np.abs(mono) > np.max(np.abs(mono)) * 0.05))  # skip leading silence
    mono = mono[max(0, start - 32): max(0, start - 32) + int(HIT_MAX * SR)]
    n = min(mono.size, int(0.02 * SR))
    mono[mono.size - n:] *= np.linspace(1, 0, n)
    return mono / (np.max(np.abs(mono)) + 1e-12)


def drum_kits(dest: Path) -> list[dict[str, str]]:
    """Kits of one kick, one snare, one closed hi-hat from the same source (real one-shots)."""
    records = labels.load(dest)
    by_kit: dict[str, dict[str, list[dict]]] = {}
    for record in records:
        if record["type"] != "oneshot" or record["category"] not in ("kick", "snare", "hihat"):
            continue
        source = record["instrument"].rsplit("/", 1)[0]  # hydrogen/<kit>, lmms/drums, sonic-pi
        by_kit.setdefault(source, {}).setdefault(record["category"], []).append(record)
    kits = []
    for source, voices in sorted(by_kit.items()):
        if not all(voices.get(v) for v in ("kick", "snare", "hihat")):
            continue
        hats = voices["hihat"]
        closed = [r for r in hats if "open" not in r["instrument"].lower()
                  and "pedal" not in r["instrument"].lower()] or hats
        choice = {}
        for voice, pool in (("kick", voices["kick"]), ("snare", voices["snare"]), ("hat", closed)):
            # the loudest layer of the first instrument (instrument names sort "Kick" first)
            pool = sorted(pool, key=lambda r: (r["instrument"], -(r["layer"] or 0)))
            choice[voice] = pool[0]["path"]
        kits.append({"kit": source, **choice})
    return kits


def loop_plan(index: int, count: int, rng: np.random.Generator) -> tuple[float, str, float, int]:
    """(bpm, pattern, swing, bars) of loop ``index`` of ``count``: tempos spread evenly over
    60-180 BPM, half of them whole numbers, each with a pattern written for its tempo."""
    bpm = round(60.0 + 120.0 * (index + float(rng.uniform())) / count, 1)
    if rng.uniform() < 0.5:
        bpm = float(round(bpm))
    fitting = [p for p in PATTERNS if PATTERNS[p][1][0] <= bpm <= PATTERNS[p][1][1]]
    pattern = fitting[index % len(fitting)]
    swing = float(rng.choice(PATTERNS[pattern][2]))
    bars = int(rng.choice([1, 2, 4])) if bpm >= 100 else int(rng.choice([1, 2]))
    return bpm, pattern, swing, bars


def sequence_loop(kit: dict[str, np.ndarray], pattern: str, bpm: float, bars: int, swing: float,
                  rng: np.random.Generator) -> np.ndarray:
    hits, _, _ = PATTERNS[pattern]
    step = 60.0 / bpm / 4
    length = int(round(bars * STEPS * step * SR))
    out = np.zeros(length + int(HIT_MAX * SR) + SR)
    for bar in range(bars):
        for voice, steps in hits.items():
            for position, gain in steps:
                when = position * step
                if position % 2 == 1 and swing != 0.5 and voice == "hat" and pattern == "funk":
                    when += (swing - 0.5) * 2 * step  # 16th swing
                elif position % 4 == 2 and swing != 0.5 and pattern != "funk":
                    when += (swing - 0.5) * 4 * step  # the off-beat eighth, delayed
                when += bar * STEPS * step + float(rng.normal(0, 0.002))
                at = max(0, int(round(when * SR)))
                sound = kit[voice] * VOICE_GAIN[voice] * gain * float(rng.uniform(0.85, 1.0))
                out[at: at + sound.size] += sound
    loop = out[:length].copy()
    tail = out[length:]
    for start in range(0, tail.size, length):  # what rings past the end comes round again
        piece = tail[start: start + length]
        loop[: piece.size] += piece
    return loop


# -- building everything ---------------------------------------------------------------------------


CALIBRATION_LOOPS = 120
CALIBRATION_SEED = 17


def calibration_loops(dest: Path, out: Path, count: int = CALIBRATION_LOOPS,
                      log=print) -> list[dict]:
    """Drum loops sequenced only from Sonic Pi's CC0 one-shots, for the confidence
    calibration (benchmarks/calibration.py), not for the evaluation set: the evaluation set's
    loops come from every labelled kit, most of them Hydrogen's (GPL), and a calibration map
    may learn only from audio whose licence allows it. Each loop takes a random kick, snare
    and closed hi-hat of Sonic Pi's on loop_plan's tempos and patterns; its source is
    "sonic-pi-loops". Written to ``out``, reused while its manifest is of this VERSION."""
    manifest = out / "manifest.json"
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved.get("version") == VERSION and len(saved.get("records", [])) == count \
                and all(Path(r["path"]).exists() for r in saved["records"]):
            return saved["records"]
    hits = [r for r in labels.load(dest) if r["source"] == "sonic-pi-samples"
            and r["type"] == "oneshot"]
    voices = {"kick": [r["path"] for r in hits if r["category"] == "kick"],
              "snare": [r["path"] for r in hits if r["category"] == "snare"],
              "hat": [r["path"] for r in hits if r["category"] == "hihat"
                      and "open" not in r["instrument"]]}
    log(f"sequencing {count} calibration drum loops from Sonic Pi's hits "
        f"({', '.join(f'{len(v)} {k}' for k, v in voices.items())}) into {out} ...")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(CALIBRATION_SEED)
    records = []
    for index in range(count):
        bpm, pattern, swing, bars = loop_plan(index, count, rng)
        chosen = {voice: str(rng.choice(paths)) for voice, paths in voices.items()}
        kit = {voice: _load_hit(path) for voice, path in chosen.items()}
        audio = normalise(sequence_loop(kit, pattern, bpm, bars, swing, rng), -1.0)
        path = out / f"sonicpi_{index + 1:03d}_{pattern}_{bpm:g}bpm.wav"
        write_wav(path, audio)
        records.append({"path": str(path), "kind": "drumloop", "type": "loop", "bpm": bpm,
                        "pattern": pattern, "swing": swing, "bars": bars,
                        "kit": "+".join(Path(p).stem for p in chosen.values()),
                        "source": "sonic-pi-loops"})
    manifest.write_text(json.dumps({"version": VERSION, "records": records}))
    return records


def build(dest: Path, force: bool = False, log=print) -> Path:
    """Render everything into dest/rendered (skipped when its manifest is current)."""
    dest = Path(dest).resolve()  # the manifest holds absolute paths
    out = dest / "rendered"
    manifest = out / "manifest.jsonl"
    marker = out / ".version"
    if not force and manifest.exists() and marker.exists() and marker.read_text() == VERSION:
        log(f"rendered evaluation set up to date in {out}")
        return manifest
    fluidsynth = check_fluidsynth()
    soundfont = dest / SOUNDFONT
    if not soundfont.is_file():
        sys.exit(f"error: no soundfont at {soundfont}: run benchmarks/data/fetch.sh first")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    records: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="sm-render-") as tmp:
        scratch = Path(tmp)
        plan = note_plan(rng)
        log(f"rendering {len(plan)} notes with fluidsynth ...")
        for index, spec in enumerate(plan, 1):
            name = note_name(spec["midi"])
            events = [(0.0, program(0, spec["program"])),
                      (0.0, note_on(0, spec["midi"], spec["velocity"])),
                      (NOTE_HELD, note_off(0, spec["midi"]))]
            write_midi(scratch / "n.mid", events, 120.0, NOTE_MAX)
            audio = render(fluidsynth, soundfont, scratch / "n.mid", scratch / "n.wav", reverb=False)
            audio = normalise(trim_tail(audio), -3.0)
            path = out / "notes" / f"note_{index:03d}_p{spec['program']:03d}_{name}.wav"
            write_wav(path, audio)
            records.append({"path": str(path), "kind": "note", "type": "oneshot",
                            "midi": spec["midi"], "note": name, "category": spec["category"],
                            "program": spec["program"], "instrument": spec["instrument"],
                            "velocity": spec["velocity"]})
        plan = progression_plan(rng)
        log(f"rendering {len(plan)} chord progressions with fluidsynth ...")
        for index, spec in enumerate(plan, 1):
            bar = 240.0 / spec["bpm"]
            events = [(0.0, program(0, spec["program"])), (0.0, program(1, 33))]
            events += progression_events(spec["tonic"], spec["numerals"], bar, spec["style"],
                                         spec["bass"], rng)
            length = bar * len(spec["numerals"])
            write_midi(scratch / "p.mid", events, spec["bpm"], length)
            audio = render(fluidsynth, soundfont, scratch / "p.mid", scratch / "p.wav", reverb=True)
            n = int(round(length * SR))
            audio = np.concatenate([audio, np.zeros((max(0, n - audio.shape[0]), 2))])[:n]
            audio = normalise(audio, -3.0)
            key = f"{NOTE_NAMES[spec['tonic']]} {spec['mode']}"
            path = out / "progressions" / (f"prog_{index:03d}_{key.replace(' ', '_').replace('#', 's')}"
                                           f"_{'-'.join(spec['numerals'])}.wav")
            write_wav(path, audio)
            records.append({"path": str(path), "kind": "progression", "type": "loop", "key": key,
                            "numerals": list(spec["numerals"]), "bpm": spec["bpm"],
                            "program": spec["program"], "source": "fluidr3",
                            "instrument": PROGRESSION_PROGRAMS[spec["program"]],
                            "style": spec["style"], "bass": spec["bass"],
                            "seconds": round(length, 3)})
        plan = chord_plan(rng)
        log(f"rendering {len(plan)} chord one-shots with fluidsynth ...")
        # One fluidsynth run per soundfont and program (loading a compressed soundfont takes
        # seconds): the chords follow each other CHORD_SLOT seconds apart and are cut apart.
        batches: dict[tuple[str, int], list[tuple[int, dict]]] = {}
        for index, spec in enumerate(plan, 1):
            batches.setdefault((spec["source"], spec["program"]), []).append((index, spec))
        for (source, number), batch in batches.items():
            events = [(0.0, program(0, number))]
            for slot, (_, spec) in enumerate(batch):
                start = slot * CHORD_SLOT
                for order, midi in enumerate(spec["notes"]):
                    events += [(start + order * spec["strum"], note_on(0, midi, spec["velocity"])),
                               (start + spec["held"], note_off(0, midi))]
            write_midi(scratch / "c.mid", events, 120.0, len(batch) * CHORD_SLOT)
            whole = render(fluidsynth, dest / SOUNDFONTS[source], scratch / "c.mid",
                           scratch / "c.wav", reverb=False)
            for slot, (index, spec) in enumerate(batch):
                start = int(slot * CHORD_SLOT * SR)
                piece = whole[start:start + int(CHORD_SLOT * SR)]
                audio = normalise(trim_tail(piece, longest=spec["held"] + CHORD_MAX), -3.0)
                chord = f"{NOTE_NAMES[spec['root']]}{spec['quality']}"
                path = out / "chords" / (f"chord_{index:03d}_{source}_p{number:03d}_"
                                         f"{chord.replace('#', 's')}.wav")
                write_wav(path, audio)
                records.append({"path": str(path), "kind": "chord", "type": "oneshot",
                                "chord": chord, "root": spec["root"], "quality": spec["quality"],
                                "key": chord_key(spec["root"], spec["quality"]),
                                "source": source, "program": number,
                                "instrument": spec["instrument"], "notes": spec["notes"],
                                "strum": round(spec["strum"], 4), "held": round(spec["held"], 3)})
        plan = long_plan(rng)
        log(f"rendering {len(plan)} long progressions (10-40 s) with fluidsynth ...")
        for index, spec in enumerate(plan, 1):
            font = dest / SOUNDFONTS[spec["source"]]
            bar = spec["bar"]
            bpm = 240.0 / bar
            events = [(0.0, program(0, spec["program"])), (0.0, program(1, 33))]
            events += progression_events(spec["tonic"], spec["numerals"], bar, spec["style"],
                                         spec["bass"], rng)
            length = bar * len(spec["numerals"])
            write_midi(scratch / "l.mid", events, bpm, length + 2.0)
            audio = render(fluidsynth, font, scratch / "l.mid", scratch / "l.wav", reverb=True)
            audio = normalise(trim_tail(audio, longest=length + 2.0), -3.0)
            key = f"{NOTE_NAMES[spec['tonic']]} {spec['mode']}"
            path = out / "longprogs" / (f"long_{index:03d}_{spec['source']}_"
                                        f"{key.replace(' ', '_').replace('#', 's')}.wav")
            write_wav(path, audio)
            records.append({"path": str(path), "kind": "longprog", "type": None, "key": key,
                            "numerals": list(spec["numerals"][:len(spec["numerals"])]),
                            "source": spec["source"], "program": spec["program"],
                            "instrument": LONG_PROGRAMS[spec["program"]], "style": spec["style"],
                            "bass": spec["bass"], "seconds": round(audio.shape[0] / SR, 3)})
    kits = drum_kits(dest)
    loaded = {kit["kit"]: {v: _load_hit(kit[v]) for v in ("kick", "snare", "hat")} for kit in kits}
    count = 120
    log(f"sequencing {count} drum loops from {len(kits)} kits of real one-shots ...")
    for index in range(count):
        bpm, pattern, swing, bars = loop_plan(index, count, rng)
        kit = kits[int(rng.integers(len(kits)))]
        audio = sequence_loop(loaded[kit["kit"]], pattern, bpm, bars, swing, rng)
        audio = normalise(audio, -1.0)
        path = out / "drumloops" / f"drums_{index + 1:03d}_{pattern}_{bpm:g}bpm.wav"
        write_wav(path, audio)
        records.append({"path": str(path), "kind": "drumloop", "type": "loop", "bpm": bpm,
                        "pattern": pattern, "swing": swing, "bars": bars, "kit": kit["kit"],
                        "source": kit["kit"].split("/")[0],
                        "seconds": round(audio.size / SR, 3)})
    with open(manifest, "w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    marker.write_text(VERSION)
    counts = Counter(r["kind"] for r in records)
    log(f"{len(records)} rendered files -> {manifest}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return manifest


def load(dest: str | Path = labels.DEFAULT_DEST) -> list[dict]:
    manifest = Path(dest) / "rendered" / "manifest.jsonl"
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path, default=labels.DEFAULT_DEST)
    parser.add_argument("--force", action="store_true", help="render again even when up to date")
    args = parser.parse_args()
    if not (args.dest / "hydrogen-data" / ".unpacked").exists():
        sys.exit(f"error: no evaluation data in {args.dest}: run benchmarks/data/fetch.sh first")
    build(args.dest, force=args.force)


if __name__ == "__main__":
    main()
