"""Synthesised test audio: drum hits, drum loops, pitched tones, chord loops, noise.

Everything is generated with numpy from a fixed seed, so a test that writes a
file gets the same samples every run. ``synth_*`` functions return float32
arrays (mono: shape ``(n,)``); ``write_*`` functions write a file and return its
path. The container is chosen from the file suffix (``.wav``, ``.flac``,
``.aiff``, ``.ogg``, ``.mp3``) unless ``fmt`` is given; ``subtype`` defaults to
16-bit PCM for lossless containers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from samplemind.music import NOTE_NAMES, midi_to_hz, parse_key

DRUM_KINDS = ("kick", "snare", "hihat", "clap", "tom")

_LOSSY = {"OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}
_SUFFIX_FORMAT = {".wav": "WAV", ".flac": "FLAC", ".aiff": "AIFF", ".aif": "AIFF",
                  ".ogg": "OGG", ".mp3": "MP3"}


def write_audio(path: str | Path, audio: np.ndarray, sr: int = 44100,
                fmt: str | None = None, subtype: str | None = None) -> Path:
    """Write ``audio`` (mono ``(n,)`` or ``(n, channels)``) to ``path``; returns the path."""
    path = Path(path)
    fmt = (fmt or _SUFFIX_FORMAT.get(path.suffix.lower(), "WAV")).upper()
    if subtype is None:
        subtype = _LOSSY.get(fmt, "PCM_16")
    # Leave a little headroom so quantisation never clips.
    data = np.clip(np.asarray(audio, dtype=np.float64), -0.999, 0.999)
    # Quantise here, not in libsndfile: its float->int conversion differs between
    # containers, and the same sound must be the same PCM in wav, flac and aiff.
    if subtype == "PCM_16":
        data = np.round(data * 32767.0).astype(np.int16)
    elif subtype in ("PCM_24", "PCM_32"):
        bits = 24 if subtype == "PCM_24" else 32
        scale = float(2 ** (bits - 1) - 1)
        data = (np.round(data * scale).astype(np.int64) << (32 - bits)).astype(np.int32)
    sf.write(str(path), data, sr, format=fmt, subtype=subtype)
    return path


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _highpass(x: np.ndarray, times: int = 1) -> np.ndarray:
    """Crude high-pass: repeated first difference (keeps length)."""
    for _ in range(times):
        x = np.diff(x, prepend=x[:1])
    return x / (np.max(np.abs(x)) + 1e-12)


def _fade_out(x: np.ndarray, sr: int, seconds: float = 0.005) -> np.ndarray:
    n = min(len(x), max(1, int(seconds * sr)))
    x = x.copy()
    x[-n:] *= np.linspace(1.0, 0.0, n)
    return x


def synth_drum_hit(kind: str = "kick", sr: int = 44100, seed: int = 0) -> np.ndarray:
    """One drum hit (kick/snare/hihat/clap/tom) that decays to silence, peak ~0.9."""
    rng = _rng(seed)
    if kind == "kick":
        n = int(0.5 * sr)
        t = np.arange(n) / sr
        # Fast downward sweep 160 -> 50 Hz, like a synthesised kick.
        freq = 50.0 + 110.0 * np.exp(-t / 0.03)
        phase = 2 * np.pi * np.cumsum(freq) / sr
        body = np.sin(phase) * np.exp(-t / 0.12)
        click = rng.standard_normal(n) * np.exp(-t / 0.003) * 0.4
        x = body + click
    elif kind == "snare":
        n = int(0.35 * sr)
        t = np.arange(n) / sr
        # A drum body around 190 Hz plus the rattle: broadband noise, not only the highs.
        tone = np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
        white = rng.standard_normal(n)
        noise = 0.5 * white / np.std(white) + 0.5 * _highpass(white) / np.std(_highpass(white))
        noise = noise * np.exp(-t / 0.07)
        x = 0.5 * tone + 0.6 * noise
    elif kind == "hihat":
        n = int(0.15 * sr)
        t = np.arange(n) / sr
        x = _highpass(rng.standard_normal(n), 2) * np.exp(-t / 0.025)
    elif kind == "clap":
        n = int(0.4 * sr)
        t = np.arange(n) / sr
        noise = _highpass(rng.standard_normal(n))
        env = np.exp(-t / 0.08)
        for start in (0.0, 0.011, 0.022):  # a clap is a few quick bursts
            s = t - start
            env = env + np.where(s >= 0, np.exp(-np.clip(s, 0, None) / 0.004), 0.0)
        x = noise * env
    elif kind == "tom":
        n = int(0.6 * sr)
        t = np.arange(n) / sr
        freq = 80.0 + 70.0 * np.exp(-t / 0.15)  # pitch keeps gliding down
        phase = 2 * np.pi * np.cumsum(freq) / sr
        x = np.sin(phase) * np.exp(-t / 0.15) + 0.3 * _highpass(
            rng.standard_normal(n)) * np.exp(-t / 0.01)
    else:
        raise ValueError(f"unknown drum kind {kind!r}; choose from {DRUM_KINDS}")
    x = _fade_out(x, sr)
    return (0.9 * x / np.max(np.abs(x))).astype(np.float32)


def write_drum_hit(path: str | Path, kind: str = "kick", sr: int = 44100,
                   fmt: str | None = None, subtype: str | None = None, seed: int = 0) -> Path:
    """Write one drum hit of ``kind`` (kick/snare/hihat/clap/tom)."""
    return write_audio(path, synth_drum_hit(kind, sr, seed), sr, fmt, subtype)


# Drum patterns: (instrument, beat positions within one 4/4 bar, gain).
DRUM_PATTERNS: dict[str, tuple[tuple[str, tuple[float, ...], float], ...]] = {
    "rock": (("kick", (0, 2, 2.5), 1.0), ("snare", (1, 3), 0.8),
             ("hihat", (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5), 0.4)),
    "house": (("kick", (0, 1, 2, 3), 1.0), ("clap", (1, 3), 0.6),
              ("hihat", (0.5, 1.5, 2.5, 3.5), 0.5)),
    "hiphop": (("kick", (0, 0.75, 2.5), 1.0), ("snare", (1, 3), 0.9),
               ("hihat", (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5), 0.3)),
    "dnb": (("kick", (0, 2.5), 1.0), ("snare", (1, 3), 0.9),
            ("hihat", (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5), 0.3)),
}


def synth_drum_loop(bpm: float, bars: int = 1, sr: int = 44100, seed: int = 0,
                    pattern: str = "rock") -> np.ndarray:
    """A trimmed 4/4 drum loop of ``bars`` bars in one of :data:`DRUM_PATTERNS`.

    Its length is exactly ``bars * 4`` beats, and hits that run past the end are
    cut, as in a loop exported from a DAW.
    """
    beat = 60.0 / bpm
    n = round(bars * 4 * beat * sr)
    out = np.zeros(n, dtype=np.float64)
    hits = {kind: synth_drum_hit(kind, sr, seed + i) for i, kind in enumerate(DRUM_KINDS)}
    for bar in range(bars):
        for kind, positions, gain in DRUM_PATTERNS[pattern]:
            for pos in positions:
                start = round((bar * 4 + pos) * beat * sr)
                stop = min(n, start + len(hits[kind]))
                if start < n:
                    out[start:stop] += gain * hits[kind][: stop - start]
    return (0.9 * out / np.max(np.abs(out))).astype(np.float32)


def write_drum_loop(path: str | Path, bpm: float, bars: int = 1, sr: int = 44100,
                    fmt: str | None = None, subtype: str | None = None, seed: int = 0,
                    pattern: str = "rock") -> Path:
    """Write a trimmed drum loop of ``bars`` 4/4 bars at ``bpm`` (see :data:`DRUM_PATTERNS`)."""
    return write_audio(path, synth_drum_loop(bpm, bars, sr, seed, pattern), sr, fmt, subtype)


def _harmonic_tone(freq: float, t: np.ndarray, sr: int, harmonics: int,
                   rolloff: float = 1.0) -> np.ndarray:
    """Sum of harmonics k*freq with amplitude 1/k**rolloff, all below Nyquist."""
    x = np.zeros_like(t)
    for k in range(1, harmonics + 1):
        if k * freq >= sr / 2 * 0.95:
            break
        x += np.sin(2 * np.pi * k * freq * t + 0.3 * k) / k**rolloff
    return x


def synth_tone(midi: float, seconds: float = 1.0, sr: int = 44100,
               waveform: str = "saw", decay: float | None = None) -> np.ndarray:
    """A pitched one-shot at MIDI note ``midi`` with a short attack and decaying tail.

    ``waveform``: ``"sine"``, ``"saw"`` (all harmonics, 1/k), ``"square"`` (odd
    harmonics), ``"bass"`` (strong low harmonics: sine + a few overtones) or
    ``"pluck"`` (saw whose upper harmonics die faster).
    """
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0 = midi_to_hz(midi)
    if waveform == "sine":
        x = np.sin(2 * np.pi * f0 * t)
    elif waveform == "saw":
        x = _harmonic_tone(f0, t, sr, 40)
    elif waveform == "square":
        x = np.zeros_like(t)
        for k in range(1, 40, 2):
            if k * f0 < sr / 2 * 0.95:
                x += np.sin(2 * np.pi * k * f0 * t) / k
    elif waveform == "bass":
        x = _harmonic_tone(f0, t, sr, 6, rolloff=1.5)
    elif waveform == "pluck":
        x = np.zeros_like(t)
        for k in range(1, 30):
            if k * f0 < sr / 2 * 0.95:
                x += np.sin(2 * np.pi * k * f0 * t) / k * np.exp(-t * k * 2.0)
    else:
        raise ValueError(f"unknown waveform {waveform!r}")
    decay = decay if decay is not None else seconds / 4
    attack = np.minimum(1.0, t / 0.005)
    x = x * attack * np.exp(-t / decay)
    x = _fade_out(x, sr, 0.01)
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


def write_tone(path: str | Path, midi: float, seconds: float = 1.0, sr: int = 44100,
               waveform: str = "saw", fmt: str | None = None, subtype: str | None = None,
               decay: float | None = None) -> Path:
    """Write a pitched one-shot (see :func:`synth_tone`)."""
    return write_audio(path, synth_tone(midi, seconds, sr, waveform, decay), sr, fmt, subtype)


# Scale degrees (semitones above the tonic) of the chords in each progression.
_MAJOR_PROGRESSION = ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7))      # I IV V I
_MINOR_PROGRESSION = ((0, 3, 7), (5, 8, 12), (7, 11, 14), (0, 3, 7))      # i iv V i


def synth_chord_loop(key: str = "A minor", seconds: float = 4.0, sr: int = 44100,
                     harmonics: int = 6) -> np.ndarray:
    """A chord progression in ``key`` (I-IV-V-I or i-iv-V-i), additive tones with a bass root.

    The chords sustain to the end (the loop is cut while still sounding).
    """
    spelled = parse_key(key)
    if spelled is None:
        raise ValueError(f"not a key: {key!r}")
    tonic, scale = spelled.split()
    root = 48 + NOTE_NAMES.index(tonic)  # chords around C3..B3
    progression = _MINOR_PROGRESSION if scale == "minor" else _MAJOR_PROGRESSION
    n = int(seconds * sr)
    out = np.zeros(n)
    seg = n // len(progression)
    t = np.arange(seg) / sr
    env = np.minimum(1.0, t / 0.01) * (0.6 + 0.4 * np.exp(-t / 0.4))
    for i, chord in enumerate(progression):
        x = np.zeros(seg)
        for degree in chord:
            x += _harmonic_tone(midi_to_hz(root + degree), t, sr, harmonics, 1.2)
        x += 0.8 * _harmonic_tone(midi_to_hz(root + chord[0] - 12), t, sr, 4, 1.5)
        out[i * seg:(i + 1) * seg] = x * env
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def write_chord_loop(path: str | Path, key: str = "A minor", seconds: float = 4.0,
                     sr: int = 44100, fmt: str | None = None,
                     subtype: str | None = None) -> Path:
    """Write a chord-progression loop in ``key`` (e.g. ``"F# major"``)."""
    return write_audio(path, synth_chord_loop(key, seconds, sr), sr, fmt, subtype)


def synth_held_chord(key: str = "A minor", seconds: float = 3.5, sr: int = 44100) -> np.ndarray:
    """One tonic triad (plus bass root) held at full level and cut at the end: a pad loop."""
    spelled = parse_key(key)
    if spelled is None:
        raise ValueError(f"not a key: {key!r}")
    tonic, scale = spelled.split()
    root = 48 + NOTE_NAMES.index(tonic)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    x = sum(_harmonic_tone(midi_to_hz(root + d), t, sr, 6, 1.2)
            for d in ((0, 3, 7) if scale == "minor" else (0, 4, 7)))
    x = x + 0.8 * _harmonic_tone(midi_to_hz(root - 12), t, sr, 4, 1.5)
    x = x * np.minimum(1.0, t / 0.05)
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


def synth_bass_loop(key: str = "A minor", bpm: float = 120.0, bars: int = 2,
                    sr: int = 44100) -> np.ndarray:
    """A trimmed eighth-note bass line in ``key``: a bar on the tonic, then V - i (V - I).

    The dominant carries the leading tone, as in most real bass lines.
    """
    spelled = parse_key(key)
    if spelled is None:
        raise ValueError(f"not a key: {key!r}")
    tonic, scale = spelled.split()
    root = 36 + NOTE_NAMES.index(tonic)  # C2..B2
    third = 3 if scale == "minor" else 4
    tonic_bar = (0, 7, 12, third, 0, 7, third + 12, 7)
    turn_bar = (7, 11, 14, 11, 0, third, 7, 12)  # V (root, leading tone, fifth) then i/I
    eighth = 30.0 / bpm
    n = round(bars * 4 * 60.0 / bpm * sr)
    out = np.zeros(n)
    m = int(eighth * sr)
    t = np.arange(m) / sr
    env = np.minimum(1.0, t / 0.004) * np.exp(-t / 0.15)
    for i in range(bars * 8):
        pattern = turn_bar if (i // 8) % 2 else tonic_bar
        midi = root + pattern[i % 8]
        start = round(i * eighth * sr)
        stop = min(n, start + m)
        out[start:stop] += (_harmonic_tone(midi_to_hz(midi), t, sr, 8, 1.3) * env)[: stop - start]
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def synth_riser(seconds: float = 4.0, sr: int = 44100, seed: int = 0) -> np.ndarray:
    """An FX riser: noise plus an upward sweep, getting louder until it stops."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    sweep = np.sin(2 * np.pi * np.cumsum(200.0 * 8.0 ** (t / seconds)) / sr)
    x = (0.5 * sweep + 0.5 * _rng(seed).standard_normal(n) * 0.3) * (t / seconds) ** 2
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


def synth_noise(seconds: float = 1.0, sr: int = 44100, decay: float | None = None,
                seed: int = 0) -> np.ndarray:
    """White noise, optionally with an exponential decay (seconds)."""
    n = int(seconds * sr)
    x = _rng(seed).standard_normal(n)
    if decay:
        x *= np.exp(-np.arange(n) / sr / decay)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def write_noise(path: str | Path, seconds: float = 1.0, sr: int = 44100,
                decay: float | None = None, fmt: str | None = None,
                subtype: str | None = None, seed: int = 0) -> Path:
    """Write white noise (a sustained or decaying non-tonal sound)."""
    return write_audio(path, synth_noise(seconds, sr, decay, seed), sr, fmt, subtype)


def write_long_file(path: str | Path, seconds: float, sr: int = 22050,
                    tones_hz: tuple[float, ...] = (220.0,), block_seconds: float = 30.0,
                    subtype: str = "PCM_16", seed: int = 0) -> Path:
    """Write a long mono file (noise at 0.05 RMS + steady tones) in blocks, never holding it all.

    The tones share an amplitude of 0.3 between them (each gets ``0.3 / len(tones_hz)``).
    """
    rng = _rng(seed)
    path = Path(path)
    total = int(seconds * sr)
    block = int(block_seconds * sr)
    gain = 0.3 / len(tones_hz)
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=1, subtype=subtype) as f:
        for start in range(0, total, block):
            n = min(block, total - start)
            t = (start + np.arange(n)) / sr
            x = 0.05 * rng.standard_normal(n)
            for k, hz in enumerate(tones_hz):
                x += gain * np.sin(2 * np.pi * hz * t + k)
            f.write(x.astype(np.float32))
    return path
