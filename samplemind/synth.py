"""Small numpy synthesizers for drums, notes, chords and loops with known answers.

Every function is deterministic for a given ``rng`` (a ``numpy.random.Generator``)
and returns float32 audio peaking at -1 dBFS: mono ``(n,)`` or stereo ``(n, 2)``.
The demo pack, the tests and the benchmarks all build their audio from these.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence

import numpy as np

from samplemind.music import NOTE_NAMES, midi_to_hz, parse_key

PEAK_DB = -1.0
WAVEFORMS = ("sine", "triangle", "square", "saw", "warm", "organ", "keys", "pluck")
DRUM_STYLES = ("boombap", "house", "breaks", "dnb")

_TABLE_SIZE = 2048
_MAX_HARMONICS = 64


# ---------------------------------------------------------------- helpers


def normalize(audio: np.ndarray, peak_db: float = PEAK_DB) -> np.ndarray:
    """Scale audio so its sample peak sits at ``peak_db`` dBFS (silence stays silent)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0.0:
        return audio.astype(np.float32)
    return (audio * (10.0 ** (peak_db / 20.0) / peak)).astype(np.float32)


def loop_frames(sr: int, bpm: float, beats: float) -> int:
    """Frames in ``beats`` beats at ``bpm``: the loop length, rounded to a whole sample."""
    return round(float(beats * 60.0 / bpm * sr))


def _generator(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng(0)


def _frames(sr: int, seconds: float) -> int:
    return max(1, round(float(seconds * sr)))


def _drum_clock(sr: int, seconds: float | None, natural: float, shortest: float
                ) -> tuple[int, np.ndarray]:
    """(frames, each frame's time in s) of a drum hit: ``seconds`` long, else its natural
    length (``natural``, at least ``shortest``, at most 1.5 s)."""
    n = _frames(sr, seconds if seconds is not None else min(1.5, max(shortest, natural)))
    return n, np.arange(n) / sr


def _drum_out(x: np.ndarray, sr: int) -> np.ndarray:
    """A drum hit's last step: the fade-out that stops a click, then the peak level."""
    return normalize(_fade_edges(x, sr))


_KEYWORD = inspect.Parameter.KEYWORD_ONLY
_Sound = Callable[..., np.ndarray]


def _drum(**own: float | int | bool | None) -> Callable[[_Sound], _Sound]:
    """What the drums share. A drum is written as its sound, ``sound(sr, clock, rng, <own parameters>)``,
    where ``clock(natural, shortest)`` gives the hit's frames and time axis (_drum_clock: the
    caller's ``seconds``, else its natural length); this makes it the public drum
    ``name(sr, *, <own, with these defaults>, seconds=None, rng=None) -> np.ndarray``, with the
    default generator, and ends the sound with the fade-out and the peak level (_drum_out).
    Each parameter's type is its default's (None: an optional float, as hihat's decay)."""
    def make(sound: _Sound) -> _Sound:
        names = list(inspect.signature(sound).parameters)
        assert names[3:] == list(own), f"{sound.__name__}: parameters {names[3:]}, defaults {list(own)}"
        signature = inspect.Signature(
            [inspect.Parameter("sr", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="int")]
            + [inspect.Parameter(name, _KEYWORD, default=default,
                                 annotation="float | None" if default is None else type(default).__name__)
               for name, default in own.items()]
            + [inspect.Parameter("seconds", _KEYWORD, default=None, annotation="float | None"),
               inspect.Parameter("rng", _KEYWORD, default=None, annotation="np.random.Generator | None")],
            return_annotation="np.ndarray")

        @functools.wraps(sound)
        def drum(*args: object, **kwargs: object) -> np.ndarray:
            try:
                given = signature.bind(*args, **kwargs)
            except TypeError as refused:  # as a def's: "kick() got an unexpected keyword ..."
                raise TypeError(f"{sound.__name__}() {refused}") from None
            given.apply_defaults()
            values = dict(given.arguments)
            sr, seconds, rng = values.pop("sr"), values.pop("seconds"), values.pop("rng")

            def clock(natural: float, shortest: float) -> tuple[int, np.ndarray]:
                return _drum_clock(sr, seconds, natural, shortest)

            return _drum_out(sound(sr, clock, _generator(rng), **values), sr)

        drum.__signature__ = signature  # type: ignore[attr-defined]
        drum.__annotations__ = {name: parameter.annotation
                                for name, parameter in signature.parameters.items()}
        drum.__annotations__["return"] = signature.return_annotation
        return drum
    return make


def _fade_edges(
    x: np.ndarray, sr: int, fade_in: float = 0.0, fade_out: float = 0.004
) -> np.ndarray:
    # A few ms of fade stop clicks where a note or a trimmed tail would end abruptly.
    n_out = min(len(x), int(fade_out * sr))
    if n_out > 1:
        ramp = np.linspace(1.0, 0.0, n_out)
        x[-n_out:] *= ramp[:, None] if x.ndim == 2 else ramp
    n_in = min(len(x), int(fade_in * sr))
    if n_in > 1:
        ramp = np.linspace(0.0, 1.0, n_in)
        x[:n_in] *= ramp[:, None] if x.ndim == 2 else ramp
    return x


def _filter(
    x: np.ndarray,
    sr: int,
    *,
    highpass: float | None = None,
    lowpass: float | None = None,
    order: int = 2,
) -> np.ndarray:
    """Zero-phase Butterworth-shaped filter done in the FFT domain (numpy has no IIR filters)."""
    # Zero padding keeps the filter's (short) ringing from wrapping around onto the start.
    size = 1 << int(np.ceil(np.log2(len(x) + 4096)))
    spectrum = np.fft.rfft(x, size)
    freqs = np.fft.rfftfreq(size, 1.0 / sr)
    gain = np.ones_like(freqs)
    if highpass:
        gain /= np.sqrt(1.0 + (highpass / np.maximum(freqs, 1e-3)) ** (2 * order))
    if lowpass:
        gain /= np.sqrt(1.0 + (freqs / lowpass) ** (2 * order))
    return np.fft.irfft(spectrum * gain, size)[: len(x)]


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Mono -> stereo with constant-power panning (-1 left .. +1 right)."""
    theta = (pan + 1.0) * np.pi / 4.0
    return np.stack([x * np.cos(theta), x * np.sin(theta)], axis=1)


def _fold(buffer: np.ndarray, n: int) -> np.ndarray:
    # Tails that ring past the loop end are wrapped onto its start, so the loop repeats seamlessly.
    out = buffer[:n].copy()
    for start in range(n, len(buffer), n):
        chunk = buffer[start : start + n]
        out[: len(chunk)] += chunk
    return out


def _add(buffer: np.ndarray, at: int, sound: np.ndarray, gain: float = 1.0) -> None:
    end = min(len(buffer), at + len(sound))
    if end > at:
        buffer[at:end] += gain * sound[: end - at]


# ---------------------------------------------------------------- oscillators


def _harmonic_amps(waveform: str) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(bright partials, dull partials or None, morph time constant in s) for a waveform."""
    k = np.arange(1, _MAX_HARMONICS + 1, dtype=float)
    odd = (k % 2 == 1).astype(float)
    if waveform == "sine":
        return np.array([1.0]), None, 0.0
    if waveform == "triangle":
        sign = np.where((k - 1) % 4 == 0, 1.0, -1.0)
        return odd * sign / k**2, None, 0.0
    if waveform == "square":
        return odd / k, None, 0.0
    if waveform == "saw":
        return 1.0 / k, None, 0.0
    if waveform == "warm":  # sine-like with a soft row of harmonics: bass that still has a pitch
        return 1.0 / k**2, None, 0.0
    if waveform == "organ":
        return np.array([1.0, 0.6, 0.35, 0.25, 0.0, 0.15, 0.0, 0.1]), None, 0.0
    if waveform == "keys":  # electric-piano-ish: a bright tine fading into a round body
        bright = np.array([1.0, 0.5, 0.12, 0.3, 0.05, 0.12, 0.02, 0.07])
        return bright, np.array([1.0, 0.15, 0.03]), 0.25
    if waveform == "pluck":
        return 1.0 / k, np.array([1.0, 0.2, 0.05]), 0.08
    raise ValueError(f"unknown waveform {waveform!r}; choose one of {', '.join(WAVEFORMS)}")


def _wavetable(amps: np.ndarray, f_max: float, sr: int) -> np.ndarray:
    # Drop partials above 0.45*sr so nothing aliases (band-limited at any pitch).
    count = max(1, min(len(amps), int(0.45 * sr / max(f_max, 1.0))))
    spectrum = np.zeros(_TABLE_SIZE // 2 + 1, dtype=complex)
    spectrum[1 : count + 1] = -1j * amps[:count] * (_TABLE_SIZE / 2)
    table = np.fft.irfft(spectrum, _TABLE_SIZE)
    return np.append(table, table[0])


def _oscillate(
    table: np.ndarray, freq: float | np.ndarray, sr: int, n: int, phase0: float = 0.0
) -> np.ndarray:
    if np.ndim(freq) == 0:
        phase = (phase0 + float(freq) * np.arange(n) / sr) % 1.0
    else:
        phase = (phase0 + np.cumsum(freq) / sr) % 1.0
    pos = phase * _TABLE_SIZE
    index = pos.astype(np.int64)
    frac = pos - index
    return table[index] + frac * (table[index + 1] - table[index])


def tone(
    sr: int,
    midi: float,
    seconds: float,
    waveform: str = "saw",
    *,
    attack: float = 0.005,
    decay: float | None = None,
    release: float = 0.03,
    detune_cents: float = 0.0,
    phase: float = 0.0,
    normalized: bool = True,
) -> np.ndarray:
    """A band-limited note at MIDI ``midi`` (A4 = 69) with an attack/decay/release envelope."""
    n = _frames(sr, seconds)
    freq = midi_to_hz(midi + detune_cents / 100.0)
    bright, dull, morph = _harmonic_amps(waveform)
    t = np.arange(n) / sr
    signal = _oscillate(_wavetable(bright, freq, sr), freq, sr, n, phase)
    if dull is not None:
        # Higher partials die first, like a struck or plucked string.
        mix = np.exp(-t / morph)
        signal = mix * signal + (1.0 - mix) * _oscillate(
            _wavetable(dull, freq, sr), freq, sr, n, phase
        )
    if decay is None and waveform in ("keys", "pluck"):
        decay = 1.2 if waveform == "keys" else 0.4
    envelope = np.minimum(1.0, t / attack) if attack > 0 else np.ones(n)
    if decay:
        envelope *= np.exp(-t / decay)
    n_release = min(n, int(release * sr))
    if n_release > 1:
        envelope[-n_release:] *= np.linspace(1.0, 0.0, n_release)
    out = signal * envelope
    return normalize(out) if normalized else out.astype(np.float32)


def _voice(
    sr: int,
    midi: float,
    seconds: float,
    waveform: str,
    rng: np.random.Generator,
    **envelope: float | None,
) -> np.ndarray:
    """One note of a mix (pad, chords, bass): at a random phase, so voices do not line up,
    and not normalized, so the mix is levelled once."""
    return tone(sr, midi, seconds, waveform, phase=float(rng.random()), normalized=False,
                **envelope)


def pad(
    sr: int,
    midis: Sequence[float],
    seconds: float,
    *,
    stereo: bool = True,
    brightness: float = 2500.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A slow-attack pad of detuned saws on one or more MIDI notes, low-passed at ``brightness``."""
    rng = _generator(rng)
    n = _frames(sr, seconds)
    channels = []
    for side in ((-7.0, 0.0, 5.0), (-5.0, 0.0, 7.0)) if stereo else ((-6.0, 0.0, 6.0),):
        mix = np.zeros(n)
        for midi in midis:
            for cents in side:
                mix += _voice(sr, midi, seconds, "saw", rng, attack=0.0, release=0.0,
                              detune_cents=cents)
        channels.append(_filter(mix, sr, lowpass=brightness))
    out = np.stack(channels, axis=1) if stereo else channels[0]
    t = np.arange(n) / sr
    envelope = np.minimum(1.0, t / min(0.6, seconds / 4)) * np.minimum(
        1.0, (seconds - t) / min(0.9, seconds / 3)
    )
    out = out * (envelope[:, None] if stereo else envelope)
    return normalize(out)


# ---------------------------------------------------------------- drums


@_drum(pitch=50.0, sweep=4.0, sweep_time=0.035, decay=0.35, click=0.4, drive=1.6)
def kick(sr, clock, rng, pitch, sweep, sweep_time, decay, click, drive) -> np.ndarray:
    """A kick: a sine swept from ``pitch*sweep`` down to ``pitch`` Hz, saturated, plus a click."""
    n, t = clock(decay * 3.0, 0.25)
    freq = pitch * (1.0 + (sweep - 1.0) * np.exp(-t / sweep_time))
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / decay)
    body = np.tanh(drive * body) / np.tanh(drive)
    transient = _filter(rng.standard_normal(n) * np.exp(-t / 0.004), sr, highpass=1500.0)
    return body + click * transient


@_drum(tone_hz=190.0, tone_level=0.5, decay=0.08, noise_decay=0.18, brightness=7000.0)
def snare(sr, clock, rng, tone_hz, tone_level, decay, noise_decay, brightness) -> np.ndarray:
    """A snare: two decaying drum-head partials plus band-passed noise for the wires."""
    n, t = clock(noise_decay * 3.5, 0.2)
    bend = 1.0 + 0.3 * np.exp(-t / 0.01)  # the head is tighter in the first milliseconds
    head = (
        np.sin(2 * np.pi * np.cumsum(tone_hz * bend) / sr)
        + 0.5 * np.sin(2 * np.pi * np.cumsum(tone_hz * 1.58 * bend) / sr)
    ) * np.exp(-t / decay)
    wires = _filter(rng.standard_normal(n), sr, highpass=900.0, lowpass=min(brightness, 0.45 * sr))
    wires = wires / (np.max(np.abs(wires)) + 1e-12) * np.exp(-t / noise_decay)
    return tone_level * head + wires


@_drum(open=False, decay=None, metallic=0.5)
def hihat(sr, clock, rng, open, decay, metallic) -> np.ndarray:
    """A hi-hat: high-passed noise mixed with six inharmonic square partials (808 style)."""
    decay = decay if decay is not None else (0.3 if open else 0.04)
    n, t = clock(decay * 4.0, 0.1)
    metal = sum(
        np.sign(np.sin(2 * np.pi * f * t + rng.random() * 6.28))
        for f in (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)
    )
    source = metallic * metal / 6.0 + (1.0 - metallic) * rng.standard_normal(n) * 0.5
    cutoff = min(7000.0, 0.3 * sr)
    body = _filter(source, sr, highpass=cutoff, order=4)
    envelope = np.exp(-t / decay) * np.minimum(1.0, t / 0.0005)
    return body * envelope


@_drum(bursts=4, spacing=0.011, decay=0.18)
def clap(sr, clock, rng, bursts, spacing, decay) -> np.ndarray:
    """A clap: a few quick noise bursts (several hands) then a longer band-passed tail."""
    n, t = clock(decay * 3.5 + bursts * spacing, 0.25)
    envelope = np.zeros(n)
    for i in range(bursts):
        start = i * spacing * (1.0 + 0.15 * (rng.random() - 0.5))
        local = t - start
        shape = np.exp(-np.clip(local, 0, None) / (decay if i == bursts - 1 else 0.006))
        envelope = np.maximum(envelope, np.where(local >= 0, shape, 0.0))
    body = _filter(rng.standard_normal(n), sr, highpass=900.0, lowpass=min(5000.0, 0.45 * sr))
    return body * envelope


@_drum(pitch=110.0, decay=0.4)
def tom(sr, clock, rng, pitch, decay) -> np.ndarray:
    """A tom: a sine that bends down to ``pitch`` Hz, an overtone, and a little stick noise."""
    n, t = clock(decay * 3.0, 0.3)
    freq = pitch * (1.0 + 0.6 * np.exp(-t / 0.04))
    phase = 2 * np.pi * np.cumsum(freq) / sr
    body = (np.sin(phase) + 0.25 * np.sin(1.5 * phase)) * np.exp(-t / decay)
    stick = _filter(rng.standard_normal(n) * np.exp(-t / 0.01), sr, highpass=2000.0)
    return body + 0.3 * stick


# ---------------------------------------------------------------- loops


def scale_chords(key: str) -> list[list[int]]:
    """MIDI triads (roots in octave 3) of i-iv-v-i (minor keys) or I-IV-V-I (major keys)."""
    parsed = parse_key(key)
    if parsed is None:
        raise ValueError(f"unknown key {key!r}")
    tonic_name, mode = parsed.split()
    tonic = NOTE_NAMES.index(tonic_name)
    third = 3 if mode == "minor" else 4
    chords = []
    for degree in (0, 5, 7, 0):
        root = 48 + (tonic + degree) % 12
        chords.append([root, root + third, root + 7])
    return chords


def chord_progression(
    sr: int,
    key: str,
    bpm: float,
    bars: int,
    *,
    timbre: str = "keys",
    stereo: bool = False,
    beats_per_bar: int = 4,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Four sustained chords in ``key`` (i-iv-v-i / I-IV-V-I) over a root bass, ``bars`` long."""
    rng = _generator(rng)
    beats = bars * beats_per_bar
    n = loop_frames(sr, bpm, beats)
    beat = 60.0 / bpm
    slot_beats = beats / 4.0
    release = 0.05
    buffer = np.zeros((n + _frames(sr, 1.0), 2 if stereo else 1))
    for index, triad in enumerate(scale_chords(key)):
        start = loop_frames(sr, bpm, index * slot_beats)
        seconds = slot_beats * beat + release
        voices = [(triad[0] - 12, 0.0, 0.9)] + [
            (m, pan, 0.6) for m, pan in zip(triad, (-0.4, 0.0, 0.4))
        ]
        for midi, pan, level in voices:
            note = _voice(sr, midi, seconds, timbre, rng, attack=0.004,
                          decay=None if timbre != "keys" else 2.5, release=release)
            placed = _pan(note, pan) if stereo else note[:, None]
            _add(buffer, start, placed, level)
    out = _fold(buffer, n)
    # Gentle accent on every beat: sustained chords that still show where the beat is.
    t = (np.arange(n) / sr) % beat
    out *= (0.7 + 0.3 * np.exp(-t / 0.12))[:, None]
    out = _fade_edges(out, sr, fade_out=0.002)
    return normalize(out if stereo else out[:, 0])


def bass_loop(
    sr: int,
    key: str,
    bpm: float,
    bars: int,
    *,
    waveform: str = "warm",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Eighth-note bass (root, octave, fifth, third) under ``chord_progression``'s chords."""
    rng = _generator(rng)
    beats = bars * 4
    n = loop_frames(sr, bpm, beats)
    eighth = 30.0 / bpm
    buffer = np.zeros(n + _frames(sr, 0.5))
    chords = scale_chords(key)
    for step in range(beats * 2):
        triad = chords[min(3, int(step / (beats * 2) * 4))]
        # Root, octave, fifth, third: the third is what tells minor from major.
        midi = (triad[0], triad[0] + 12, triad[2], triad[1])[step % 4] - 24
        note = _voice(sr, midi, eighth * 0.9, waveform, rng, attack=0.003, decay=0.25,
                      release=0.02)
        _add(buffer, loop_frames(sr, bpm, step / 2), note, 1.0 if step % 2 == 0 else 0.7)
    return normalize(_fold(buffer, n))


# Steps on a 16th-note grid (one 4/4 bar): instrument -> [(step, velocity)].
_PATTERNS: dict[str, dict[str, list[tuple[int, float]]]] = {
    "boombap": {
        "kick": [(0, 1.0), (7, 0.7), (10, 0.9)],
        "snare": [(4, 1.0), (12, 1.0)],
        "closed": [(s, 0.8 if s % 4 == 0 else 0.5) for s in range(0, 16, 2)],
    },
    "house": {
        "kick": [(0, 1.0), (4, 1.0), (8, 1.0), (12, 1.0)],
        "clap": [(4, 0.9), (12, 0.9)],
        "open": [(2, 0.6), (6, 0.6), (10, 0.6), (14, 0.6)],
        "closed": [(s, 0.35) for s in range(1, 16, 2)],
    },
    "breaks": {
        "kick": [(0, 1.0), (6, 0.7), (10, 0.9)],
        "snare": [(4, 1.0), (12, 1.0)],
        "closed": [(s, 0.7 if s % 2 == 0 else 0.35) for s in range(16)],
        "open": [(14, 0.5)],
    },
    "dnb": {
        "kick": [(0, 1.0), (10, 0.9)],
        "snare": [(4, 1.0), (12, 1.0), (15, 0.3)],
        "closed": [(s, 0.6 if s % 4 == 2 else 0.45) for s in range(0, 16, 2)],
    },
}


def drum_style(bpm: float) -> str:
    """The pattern a producer would expect at this tempo."""
    return "boombap" if bpm < 105 else "house" if bpm < 135 else "breaks" if bpm < 160 else "dnb"


def drum_loop(
    sr: int,
    bpm: float,
    bars: int,
    *,
    style: str | None = None,
    stereo: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A 4/4 drum loop (kick, snare/clap, hats) exactly ``bars`` bars long at ``bpm``."""
    rng = _generator(rng)
    style = style or drum_style(bpm)
    pattern = _PATTERNS[style]
    kit: dict[str, tuple[np.ndarray, float]] = {  # sound, pan
        "kick": (
            kick(sr, pitch=float(rng.uniform(45, 60)), decay=float(rng.uniform(0.2, 0.4)), rng=rng),
            0.0,
        ),
        "snare": (snare(sr, tone_hz=float(rng.uniform(170, 230)), rng=rng), 0.05),
        "clap": (clap(sr, rng=rng), -0.05),
        "closed": (hihat(sr, rng=rng), 0.35),
        "open": (hihat(sr, open=True, decay=0.12, seconds=0.4, rng=rng), -0.3),
    }
    n = loop_frames(sr, bpm, bars * 4)
    buffer = np.zeros((n + _frames(sr, 1.6), 2 if stereo else 1))
    levels = {"kick": 1.0, "snare": 0.8, "clap": 0.75, "closed": 0.3, "open": 0.3}
    for bar in range(bars):
        for part, hits in pattern.items():
            sound, pan = kit[part]
            placed = _pan(sound, pan) if stereo else sound[:, None]
            for step, velocity in hits:
                at = loop_frames(sr, bpm, bar * 4 + step / 4.0)
                _add(buffer, at, placed, levels[part] * velocity * float(rng.uniform(0.92, 1.0)))
    out = _fold(buffer, n)
    return normalize(out if stereo else out[:, 0])
