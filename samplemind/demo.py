"""The built-in demo pack, and big generated libraries for benchmarks.

Everything is synthesised with numpy (see ``samplemind.synth``), so each file's
category, tempo, key and note are known exactly: the demo shows what analysis
finds, and tests use the truths to check it.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from samplemind.errors import UsageError
from samplemind.music import NOTE_NAMES, midi_to_note, note_to_midi
from samplemind.synth import (
    bass_loop,
    chord_progression,
    clap,
    drum_loop,
    hihat,
    kick,
    normalize,
    pad,
    snare,
    tom,
    tone,
)

__all__ = ["MARKER", "DemoFile", "write_demo_pack", "write_library"]

MARKER = ".samplemind-demo"  # hidden, so the scanner skips it
# extension -> (libsndfile container, default subtype)
FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "aiff": ("AIFF", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}
LOSSY = frozenset({"ogg", "mp3"})
PCM_PEAK_DB = -1.5
LOSSY_PEAK_DB = -3.0  # lossy encoders overshoot the source peak by a dB or so
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

Render = Callable[[int, np.random.Generator], np.ndarray]


@dataclasses.dataclass(frozen=True)
class DemoFile:
    """One generated file and the truths it was made with."""

    path: Path  # absolute path of the written file
    category: str  # kick|snare|hihat|clap|tom|bass|synth|keys|pad, or drums for drum loops
    type: str  # "loop" | "oneshot"
    bpm: float | None  # truth for loops
    key: str | None  # truth for chord/bass loops and chord pads, e.g. "A minor"
    note: str | None  # truth for pitched one-shots, e.g. "A1"
    sample_rate: int | None = None
    channels: int | None = None
    subtype: str | None = None  # libsndfile subtype written, e.g. "PCM_24", "VORBIS"


@dataclasses.dataclass(frozen=True)
class _Spec:
    relpath: str
    sr: int
    render: Render
    category: str
    type: str = "oneshot"
    subtype: str | None = None
    bpm: float | None = None
    key: str | None = None
    note: str | None = None


# ---------------------------------------------------------------- spec helpers


def _stereo_note(sr: int, midi: int, seconds: float, waveform: str, **kwargs: float) -> np.ndarray:
    # Two slightly detuned copies, one per side: the usual cheap synth width.
    left = tone(sr, midi, seconds, waveform, detune_cents=-6.0, normalized=False, **kwargs)
    right = tone(
        sr, midi, seconds, waveform, detune_cents=6.0, phase=0.25, normalized=False, **kwargs
    )
    return np.stack([left, right], axis=1)


def _note(
    relpath: str,
    sr: int,
    category: str,
    note: str,
    waveform: str,
    seconds: float,
    *,
    stereo: bool = False,
    decay: float | None = None,
    subtype: str | None = None,
) -> _Spec:
    midi = note_to_midi(note)
    assert midi is not None, note

    def render(rate: int, rng: np.random.Generator) -> np.ndarray:
        if stereo:
            return _stereo_note(rate, midi, seconds, waveform, decay=decay)
        return tone(rate, midi, seconds, waveform, decay=decay, phase=float(rng.random()))

    return _Spec(relpath, sr, render, category, subtype=subtype, note=note)


def _drum_loop(
    relpath: str, sr: int, bpm: float, bars: int, *, stereo: bool, subtype: str | None = None
) -> _Spec:
    def render(rate: int, rng: np.random.Generator) -> np.ndarray:
        return drum_loop(rate, bpm, bars, stereo=stereo, rng=rng)

    return _Spec(relpath, sr, render, "drums", "loop", subtype, bpm=bpm)


def _chord_loop(
    relpath: str,
    sr: int,
    key: str,
    bpm: float,
    bars: int,
    *,
    stereo: bool,
    timbre: str = "keys",
    category: str = "keys",
    subtype: str | None = None,
) -> _Spec:
    def render(rate: int, rng: np.random.Generator) -> np.ndarray:
        return chord_progression(rate, key, bpm, bars, timbre=timbre, stereo=stereo, rng=rng)

    return _Spec(relpath, sr, render, category, "loop", subtype, bpm=bpm, key=key)


def _drum(
    relpath: str,
    sr: int,
    voice: Callable[..., np.ndarray],
    subtype: str | None = None,
    **params: float,
) -> _Spec:
    # The category is the synthesizer's name: kick(), snare(), hihat(), clap(), tom().
    def render(rate: int, rng: np.random.Generator) -> np.ndarray:
        return voice(rate, rng=rng, **params)

    return _Spec(relpath, sr, render, voice.__name__, subtype=subtype)


def _pad(
    relpath: str,
    sr: int,
    midis: list[int],
    *,
    key: str | None = None,
    note: str | None = None,
    seconds: float = 3.0,
    **params: float,
) -> _Spec:
    def render(rate: int, rng: np.random.Generator) -> np.ndarray:
        return pad(rate, midis, seconds, rng=rng, **params)

    return _Spec(relpath, sr, render, "pad", key=key, note=note)


def _bass_loop(
    relpath: str, sr: int, key: str, bpm: float, bars: int, subtype: str | None = None
) -> _Spec:
    def render(rate: int, rng: np.random.Generator) -> np.ndarray:
        return bass_loop(rate, key, bpm, bars, rng=rng)

    return _Spec(relpath, sr, render, "bass", "loop", subtype, bpm=bpm, key=key)


# fmt: off
def _demo_specs() -> list[_Spec]:
    """The demo pack's layout: what a producer's folder looks like, plus a few unnamed files."""
    return [
        # Drum one-shots, named the way packs name them.
        _drum("Drums/Kicks/kick_deep.wav", 44100, kick, "PCM_24", pitch=45, decay=0.5, click=0.3),
        _drum("Drums/Kicks/kick_punchy.wav", 48000, kick, pitch=58, sweep=5, decay=0.22, click=0.7),
        _drum("Drums/Kicks/kick_808_long.flac", 44100, kick, "PCM_24",
              pitch=49, decay=0.9, click=0.15, drive=1.2, seconds=1.4),
        _drum("Drums/Kicks/kick_hard.wav", 96000, kick, "FLOAT",
              pitch=55, sweep=6, decay=0.3, click=0.9, drive=3.0),
        _drum("Drums/Snares/snare_tight.flac", 44100, snare,
              tone_hz=230, decay=0.05, noise_decay=0.1),
        _drum("Drums/Snares/snare_fat.wav", 48000, snare, "PCM_24",
              tone_hz=175, tone_level=0.8, noise_decay=0.25),
        _drum("Drums/Snares/snare_crack.aiff", 44100, snare,
              tone_hz=260, tone_level=0.3, noise_decay=0.14, brightness=12000),
        _drum("Drums/HiHats/hihat_closed_01.wav", 44100, hihat, metallic=0.6),
        _drum("Drums/HiHats/hihat_closed_02.ogg", 44100, hihat, decay=0.03, metallic=0.2),
        _drum("Drums/HiHats/hihat_open_01.wav", 96000, hihat, "PCM_24", open=True, metallic=0.6),
        _drum("Drums/HiHats/hihat_open_02.flac", 48000, hihat, open=True, decay=0.45, metallic=0.3),
        _drum("Drums/Claps/clap_dry.wav", 44100, clap, decay=0.1),
        _drum("Drums/Claps/clap_big.mp3", 44100, clap, bursts=5, spacing=0.013, decay=0.3),
        _drum("Drums/Toms/tom_low.wav", 44100, tom, pitch=90),
        _drum("Drums/Toms/tom_mid.flac", 48000, tom, pitch=130, decay=0.35),
        _drum("Drums/Toms/tom_high.aiff", 44100, tom, "PCM_24", pitch=190, decay=0.3),
        # Pitched one-shots: the note is in the name.
        _note("Bass/bass_E1.aiff", 44100, "bass", "E1", "warm", 1.5, decay=0.8, subtype="PCM_24"),
        _note("Bass/bass_A1.wav", 44100, "bass", "A1", "saw", 1.2, decay=0.6),
        _note("Bass/bass_C2.flac", 48000, "bass", "C2", "warm", 1.2, decay=0.7, subtype="PCM_24"),
        _note("Bass/bass_F2.mp3", 44100, "bass", "F2", "saw", 1.0, decay=0.5),
        _note("Bass/sub_bass_G1.wav", 22050, "bass", "G1", "sine", 1.5, decay=1.0),
        _note("Synth/synth_lead_C3.wav", 44100, "synth", "C3", "saw", 1.5, stereo=True),
        _note("Synth/synth_pluck_A4.ogg", 48000, "synth", "A4", "pluck", 1.0),
        _note("Synth/synth_square_E4.flac", 44100, "synth", "E4", "square", 1.2, decay=0.9),
        _note("Synth/synth_saw_G3.mp3", 48000, "synth", "G3", "saw", 1.5, stereo=True, decay=1.5),
        _note("Keys/keys_C4.wav", 44100, "keys", "C4", "keys", 2.0),
        _note("Keys/keys_E4.aiff", 48000, "keys", "E4", "keys", 2.0, stereo=True),
        _note("Keys/organ_A3.flac", 44100, "keys", "A3", "organ", 1.5),
        _pad("Pads/pad_A2_warm.flac", 48000, [45], note="A2", brightness=1800),
        _pad("Pads/pad_Cmaj_airy.ogg", 44100, [48, 52, 55, 60], key="C major"),
        # Loops: trimmed to an exact number of beats, tempo (and key) in the name.
        _drum_loop("Loops/Drums/drum_loop_90bpm.wav", 44100, 90, 2, stereo=True),
        _drum_loop("Loops/Drums/drum_loop_120bpm.flac", 44100, 120, 2, stereo=True),
        _drum_loop("Loops/Drums/drum_loop_140bpm.wav", 48000, 140, 2, stereo=False,
                   subtype="PCM_24"),
        _drum_loop("Loops/Drums/drum_loop_174bpm.ogg", 44100, 174, 2, stereo=True),
        _drum_loop("Loops/Drums/drum_loop_house_128bpm.mp3", 44100, 128, 2, stereo=True),
        _chord_loop("Loops/Chords/chords_Am_loop_90bpm.ogg", 44100, "A minor", 90, 2, stereo=True),
        _chord_loop("Loops/Chords/chords_C_loop_120bpm.wav", 44100, "C major", 120, 2,
                    stereo=False),
        _chord_loop("Loops/Chords/chords_F#m_loop_140bpm.flac", 48000, "F# minor", 140, 2,
                    stereo=True, timbre="saw", category="synth"),
        _chord_loop("Loops/Chords/chords_D_loop_100bpm.aiff", 44100, "D major", 100, 2,
                    stereo=False, timbre="organ"),
        _bass_loop("Loops/Bass/bass_loop_Am_120bpm.wav", 22050, "A minor", 120, 2),
        # Neutral names: only analysis of the sound can tell what these are.
        _drum("Misc/sample_01.wav", 44100, kick, pitch=52, decay=0.35, click=0.5),
        _note("Misc/sample_02.flac", 44100, "bass", "D2", "saw", 1.0, decay=0.5),
        _drum_loop("Misc/sample_03.wav", 48000, 100, 2, stereo=False),
        _chord_loop("Misc/sample_04.mp3", 44100, "G major", 110, 2, stereo=True),
        _drum("Misc/sample_05.ogg", 48000, snare, tone_hz=200),
        _drum("Misc/sample_06.aiff", 44100, hihat, open=True, decay=0.25),
        _note("Misc/sample_07.wav", 44100, "keys", "G4", "keys", 1.5, subtype="FLOAT"),
        _drum("Misc/sample_08.flac", 44100, clap),
    ]
# fmt: on


# ---------------------------------------------------------------- writing


def _prepare_target(target: Path) -> Path:
    """Resolve ``target``; refuse a non-empty folder that no earlier run of ours wrote."""
    root = Path(target).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is not a folder; choose another folder")
    marker = root / MARKER
    if root.is_dir():
        if not marker.is_file():
            if any(entry.name != MARKER for entry in root.iterdir()):
                raise UsageError(f"{root} is not empty; choose another folder")
        else:
            _remove_previous(root, marker)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _remove_previous(root: Path, marker: Path) -> None:
    # Only files an earlier run listed are removed, so a user's own additions survive.
    try:
        listed = json.loads(marker.read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return
    for relpath in listed:
        path = (root / str(relpath)).resolve()
        if path.is_relative_to(root) and path != root and path.is_file():
            path.unlink()
            for parent in path.parents:
                if parent == root or any(parent.iterdir()):
                    break
                parent.rmdir()


def _write_marker(root: Path, kind: str, seed: int, specs: Sequence[_Spec]) -> None:
    # Written before the audio, so an interrupted run can simply be run again.
    payload = {
        "generator": "samplemind",
        "kind": kind,
        "seed": seed,
        "files": [spec.relpath for spec in specs],
    }
    (root / MARKER).write_text(json.dumps(payload, indent=1) + "\n")


def _write(root: Path, spec: _Spec, seed: int) -> DemoFile:
    ext = spec.relpath.rsplit(".", 1)[-1].lower()
    container, default_subtype = FORMATS[ext]
    subtype = spec.subtype or default_subtype
    # Each file's noise comes from its own stream, so adding a file never changes the others.
    rng = np.random.default_rng([seed, zlib.crc32(spec.relpath.encode())])
    audio = normalize(spec.render(spec.sr, rng), LOSSY_PEAK_DB if ext in LOSSY else PCM_PEAK_DB)
    if not np.all(np.isfinite(audio)):  # encoders fail obscurely on NaN; say which file
        raise ValueError(f"synthesis produced non-finite samples for {spec.relpath}")
    path = root / spec.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, spec.sr, subtype=subtype, format=container)
    return DemoFile(
        path,
        spec.category,
        spec.type,
        spec.bpm,
        spec.key,
        spec.note,
        spec.sr,
        1 if audio.ndim == 1 else audio.shape[1],
        subtype,
    )


def _write_all(target: Path, kind: str, seed: int, specs: Sequence[_Spec]) -> list[DemoFile]:
    root = _prepare_target(target)
    _write_marker(root, kind, seed, specs)
    return [_write(root, spec, seed) for spec in specs]


def write_demo_pack(target: Path, *, seed: int = 7) -> list[DemoFile]:
    """Write the demo sample pack into ``target`` and return each file with its truths."""
    return _write_all(target, "demo", seed, _demo_specs())


# ---------------------------------------------------------------- benchmark libraries

_ONESHOT_WEIGHTS = {
    "kick": 0.16,
    "snare": 0.14,
    "hihat": 0.16,
    "clap": 0.08,
    "tom": 0.08,
    "bass": 0.12,
    "synth": 0.1,
    "keys": 0.1,
    "pad": 0.06,
}
_FOLDERS = {
    "kick": "Drums/Kicks",
    "snare": "Drums/Snares",
    "hihat": "Drums/HiHats",
    "clap": "Drums/Claps",
    "tom": "Drums/Toms",
    "bass": "Bass",
    "synth": "Synth",
    "keys": "Keys",
    "pad": "Pads",
}
_SUBTYPES = {
    "wav": ("PCM_16", "PCM_24", "FLOAT"),
    "flac": ("PCM_16", "PCM_24"),
    "aiff": ("PCM_16", "PCM_24"),
    "ogg": ("VORBIS",),
    "mp3": ("MPEG_LAYER_III",),
}
_KEYS = [f"{name} {mode}" for name in NOTE_NAMES for mode in ("major", "minor")]


def _pick_format(rng: np.random.Generator, formats: Sequence[str]) -> tuple[str, int, str]:
    ext = str(rng.choice(formats))
    sr = int(rng.choice([44100, 48000, 22050, 96000], p=[0.6, 0.3, 0.06, 0.04]))
    if ext == "mp3" and sr not in _MP3_RATES:
        sr = 48000
    return ext, sr, str(rng.choice(_SUBTYPES[ext]))


def _random_oneshot(index: int, rng: np.random.Generator, formats: Sequence[str]) -> _Spec:
    category = str(rng.choice(list(_ONESHOT_WEIGHTS), p=list(_ONESHOT_WEIGHTS.values())))
    ext, sr, subtype = _pick_format(rng, formats)
    seconds = float(rng.uniform(0.1, 1.5))
    u = [float(x) for x in rng.uniform(0.0, 1.0, size=4)]  # this file's parameter draws
    is_open = u[0] > 0.6
    drums: dict[str, tuple[Callable[..., np.ndarray], dict[str, float]]] = {
        "kick": (kick, {"pitch": 40 + 25 * u[0], "sweep": 2.5 + 4 * u[1],
                        "decay": 0.1 + 0.6 * u[2], "click": u[3]}),
        "snare": (snare, {"tone_hz": 150 + 150 * u[0], "tone_level": 0.2 + 0.7 * u[1],
                          "noise_decay": 0.06 + 0.3 * u[2]}),
        "hihat": (hihat, {"open": is_open, "metallic": u[2],
                          "decay": 0.15 + 0.4 * u[1] if is_open else 0.02 + 0.05 * u[1]}),
        "clap": (clap, {"bursts": 3 + int(3 * u[0]), "spacing": 0.008 + 0.008 * u[1],
                        "decay": 0.08 + 0.3 * u[2]}),
        "tom": (tom, {"pitch": 70 + 200 * u[0], "decay": 0.15 + 0.5 * u[1]}),
    }  # fmt: skip
    note = None
    if category in drums:
        voice, params = drums[category]
        spec = _drum("", sr, voice, subtype, seconds=seconds, **params)
    else:
        low, high, waveforms = {
            "bass": (28, 52, ("saw", "warm", "sine", "square")),
            "synth": (48, 84, ("saw", "square", "pluck", "triangle")),
            "keys": (48, 84, ("keys", "organ")),
            "pad": (45, 69, ("pad",)),
        }[category]
        midi = int(rng.integers(low, high + 1))
        note = midi_to_note(midi)
        waveform = str(rng.choice(waveforms))
        if waveform == "pad":
            spec = _pad("", sr, [midi], note=note, seconds=seconds, stereo=u[0] > 0.3)
        else:
            decay = 0.2 + 1.5 * u[0]
            spec = _note("", sr, category, note, waveform, seconds, decay=decay, subtype=subtype)
    name = f"{category}_{note}_{index:05d}" if note else f"{category}_{index:05d}"
    folder = _FOLDERS[category]
    if rng.random() < 0.2:  # some files carry no hint in their name or folder
        name, folder = f"sample_{index:05d}", "Misc"
    return dataclasses.replace(spec, relpath=f"{folder}/{name}.{ext}", subtype=subtype)


def _random_loop(index: int, rng: np.random.Generator, formats: Sequence[str]) -> _Spec:
    kind = str(rng.choice(["drums", "chords", "bass"], p=[0.5, 0.35, 0.15]))
    ext, sr, subtype = _pick_format(rng, formats)
    bpm = float(rng.integers(80, 176))
    # 2-8 s: pick among the bar counts that fit this tempo.
    fitting = [b for b in (1, 2, 4) if 2.0 <= b * 240.0 / bpm <= 8.0] or [2]
    bars = int(rng.choice(fitting))
    stereo = bool(rng.random() < 0.6)
    key = str(rng.choice(_KEYS))
    short = key.split()[0] + ("m" if key.endswith("minor") else "")
    if kind == "drums":
        spec = _drum_loop(
            f"Loops/Drums/drum_loop_{bpm:.0f}bpm_{index:05d}.{ext}",
            sr,
            bpm,
            bars,
            stereo=stereo,
            subtype=subtype,
        )
    elif kind == "chords":
        timbre = str(rng.choice(["keys", "saw", "organ"]))
        spec = _chord_loop(
            f"Loops/Chords/chords_{short}_{bpm:.0f}bpm_{index:05d}.{ext}",
            sr,
            key,
            bpm,
            bars,
            stereo=stereo,
            timbre=timbre,
            category="synth" if timbre == "saw" else "keys",
            subtype=subtype,
        )
    else:
        spec = _Spec(
            f"Loops/Bass/bass_loop_{short}_{bpm:.0f}bpm_{index:05d}.{ext}",
            sr,
            lambda r, g: bass_loop(r, key, bpm, bars, rng=g),
            "bass",
            "loop",
            subtype,
            bpm=bpm,
            key=key,
        )
    if rng.random() < 0.2:  # some files carry no hint in their name or folder
        spec = dataclasses.replace(spec, relpath=f"Misc/sample_{index:05d}.{ext}")
    return spec


def _library_specs(n_oneshots: int, n_loops: int, seed: int, formats: Sequence[str]) -> list[_Spec]:
    rng = np.random.default_rng(seed)
    specs = [_random_oneshot(i, rng, formats) for i in range(n_oneshots)]
    return specs + [_random_loop(n_oneshots + i, rng, formats) for i in range(n_loops)]


def _write_library_share(
    root: Path,
    n_oneshots: int,
    n_loops: int,
    seed: int,
    formats: tuple[str, ...],
    share: int,
    shares: int,
) -> list[tuple[int, DemoFile]]:
    # Specs hold closures (not picklable): each worker rebuilds them from the seed.
    specs = _library_specs(n_oneshots, n_loops, seed, formats)
    return [(i, _write(root, specs[i], seed)) for i in range(share, len(specs), shares)]


def write_library(
    target: Path,
    n_oneshots: int,
    n_loops: int,
    *,
    seed: int = 0,
    formats: Sequence[str] = ("wav",),
    workers: int | None = None,
) -> list[DemoFile]:
    """Write a large, varied generated library (one-shots 0.1-1.5 s, loops 2-8 s) for benchmarks."""
    formats = tuple(formats)
    unknown = [ext for ext in formats if ext not in FORMATS]
    if unknown or not formats:
        raise UsageError(
            f"unknown format(s) {unknown or list(formats)}; choose from {', '.join(FORMATS)}"
        )
    specs = _library_specs(n_oneshots, n_loops, seed, formats)
    if workers is None:  # processes only pay off once there is real work to share
        workers = min(4, os.cpu_count() or 1) if len(specs) >= 400 else 1
    if workers <= 1:
        return _write_all(target, "library", seed, specs)
    root = _prepare_target(target)
    _write_marker(root, "library", seed, specs)
    written: list[DemoFile | None] = [None] * len(specs)
    # spawn, not fork: forking a process that may be running threads can deadlock.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [
            pool.submit(
                _write_library_share, root, n_oneshots, n_loops, seed, formats, share, workers
            )
            for share in range(workers)
        ]
        for job in jobs:
            for index, demo_file in job.result():
                written[index] = demo_file
    return [demo_file for demo_file in written if demo_file is not None]
