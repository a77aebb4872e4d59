"""Pitch of one-shots (YIN) and key of tonal material (peak chroma + Essentia ``Key``).

Pitch: a vectorised YIN (cumulative-mean-normalised difference, absolute
threshold, parabolic refinement) on a few frames after the attack. It is
reported as a note only when the pitch is confident, stable over time (drums
glide, notes don't) and the fundamental is actually present in the spectrum
(a triad's common period is not a note).

Key and chord: prominent spectral peaks (40 Hz-5 kHz) of long (~186 ms) frames
are folded into a 36-bin pitch-class profile. Nothing is named where the sound
shows no harmony (has_harmony, chord_like: how much energy sits in peaks, how
much of it persists, how many pitch classes it spreads over, how periodic it
is), which leaves out drums, noise and effects. A harmony held from start to end
(held_harmony) is matched against chord templates (estimate_chord; a chord over a
loud bass that YIN reads as that note, or that no template fits as a whole, is named
from the notes heard beside the bass once the bass note's own partials, piano stretch
included, are fitted and taken out: chord_over_note, chord_over_bass; one low note whose
weak fundamental YIN missed is no chord: one_note_under_the_bass; a pitch YIN reads under
the lowest strong partial whose partial series has gaps is the common period of a chord's
notes, not a note: common_period; a held chord no template names, whose notes beside the
bass stand out as chord_on_note's tests ask, gets the key of the whole: several_notes); a
harmony that moves is handed to Essentia's
``Key`` (Temperley profiles; the first and last fifth of a sound, at most 3 s
each, weigh 4x: tonic emphasis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from samplemind.analysis.decode import es
from samplemind.analysis.spectral import hann
from samplemind.music import CHORD_QUALITIES, chord_name, hz_to_note, parse_chord, parse_key

FMIN = 25.0  # Hz, just under B0 (30.9 Hz)
FMAX = 4200.0
YIN_THRESHOLD = 0.15
NOTE_MIN_CONFIDENCE = 0.8
NOTE_MAX_SPREAD_CENTS = 35.0
FUNDAMENTAL_FLOOR_DB = -30.0  # the f0 partial must be within this of the strongest partial
KEY_RANGE = (40.0, 5000.0)  # partials folded into the chroma (bass fundamentals count)
TONAL_RANGE = (100.0, 5000.0)  # where "is it tonal?" is judged (kick drums' sines sit below)
KEY_MIN_TONAL_RATIO = 0.5  # share of band energy in prominent peaks
PEAK_PROMINENCE_DB = 10.0
KEY_PROFILE = "temperley"
KEY_EDGE_SHARE = 0.2  # the first and last fifth of the sounding frames ...
KEY_EDGE_WEIGHT = 4.0  # ... count this many times: a loop starts and ends on its tonic chord
KEY_EDGE_MAX_SECONDS = 3.0  # ... but no longer than this each


def _fft_size(n: int) -> int:
    """Smallest 2^a * 3^b >= n (pocketfft is fast on these; saves up to 25 % over 2^a)."""
    best = 1 << math.ceil(math.log2(n))
    three = 3
    while three < best:
        size = three << max(0, math.ceil(math.log2(n / three)))
        best = min(best, size) if size >= n else best
        three *= 3
    return best


def yin_window(sample_rate: int, fmin: float = FMIN) -> int:
    """YIN integration window: a power of two holding one period of ``fmin``."""
    return 1 << math.ceil(math.log2(sample_rate / fmin))


def yin(frames: np.ndarray, sample_rate: int, fmin: float = FMIN,
        fmax: float = FMAX) -> tuple[np.ndarray, np.ndarray]:
    """YIN on (n, 2W) frames -> (f0 Hz, clarity 0..1) per frame."""
    count, length = frames.shape
    w = length // 2
    tau_max = min(w - 1, math.ceil(sample_rate / fmin))
    tau_min = max(2, int(sample_rate / fmax))
    n_fft = _fft_size(length + w)
    x = np.ascontiguousarray(frames, dtype=np.float32)
    x = x - x.mean(axis=1, keepdims=True)  # DC is not a pitch
    spec = np.fft.rfft(x, n_fft, axis=1)
    head = np.fft.rfft(x[:, :w], n_fft, axis=1)
    # corr[tau] = sum over j < W of x[j] * x[j + tau]: one product of spectra per frame.
    corr = np.fft.irfft(spec * np.conj(head), n_fft, axis=1)[:, : tau_max + 1]
    corr = corr.astype(np.float64)
    energy = np.cumsum(np.square(x, dtype=np.float64), axis=1)
    sq = np.concatenate([np.zeros((count, 1)), energy], axis=1)
    taus = np.arange(tau_max + 1)
    diff = sq[:, w][:, None] + (sq[:, taus + w] - sq[:, taus]) - 2.0 * corr
    diff[:, 0] = 0.0
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * taus[1:] / np.maximum(np.cumsum(diff[:, 1:], axis=1), 1e-12)
    f0 = np.zeros(count)
    clarity = np.zeros(count)
    # No pitch in a (near) silent frame, nor when the integration window itself is empty
    # (a click later in the frame would otherwise look perfectly periodic).
    silent = (sq[:, -1] <= 1e-10 * length) | (sq[:, w] <= 1e-3 * sq[:, -1])
    for i in range(count):  # a handful of frames: the search itself is cheap
        if silent[i]:
            continue
        row = cmnd[i]
        under = np.nonzero(row[tau_min:tau_max] < YIN_THRESHOLD)[0]
        if under.size:
            t = int(under[0]) + tau_min
            while t + 1 < tau_max and row[t + 1] < row[t]:
                t += 1
        else:
            t = int(np.argmin(row[tau_min:tau_max])) + tau_min
        shift = 0.0
        if 1 <= t < tau_max:
            a, b, c = row[t - 1], row[t], row[t + 1]
            den = a - 2.0 * b + c
            if den > 0:
                shift = 0.5 * (a - c) / den
        f0[i] = sample_rate / (t + shift)
        clarity[i] = min(1.0, max(0.0, 1.0 - row[t]))
    return f0, clarity


@dataclass
class PitchResult:
    """Pitch analysis of a one-shot."""

    clarity: float  # energy-weighted YIN clarity: 0 noise .. 1 periodic
    steady: bool = False  # one clear pitch held throughout (a note, or a chord's common period)
    hz: float | None = None
    note: str | None = None
    confidence: float | None = None


def analyse_pitch(mono: np.ndarray, sample_rate: int, start: int, stop: int,
                  n_frames: int = 3, fmin: float = FMIN) -> PitchResult:
    """Pitch of the part ``mono[start:stop]`` (after the attack, before the tail).

    ``fmin`` sets the lowest pitch searched; frames are two periods of it long.
    """
    w = yin_window(sample_rate, fmin)
    length = 2 * w
    if mono.size < length:
        # Short sound: shrink the window (loses the lowest notes, which need time anyway).
        w = max(64, 1 << int(math.log2(max(2, mono.size // 2))))
        length = 2 * w
        mono = np.pad(mono, (0, max(0, length - mono.size)))
        start, stop = 0, length
    last = max(0, min(stop, mono.size) - length)
    first = min(max(0, start), last)
    starts = np.unique(np.linspace(first, last, n_frames).astype(int))
    frames = np.stack([mono[s:s + length] for s in starts])
    f0, clarity = yin(frames, sample_rate, fmin=max(fmin, sample_rate / (w - 1)))
    energy = np.einsum("ij,ij->i", frames, frames).astype(np.float64)
    weights = energy / energy.sum() if energy.sum() > 0 else np.full(len(f0), 1.0 / len(f0))
    mean_clarity = float(weights @ clarity)
    result = PitchResult(clarity=mean_clarity)
    # Every frame still within 20 dB of the loudest must agree: drums glide, notes hold.
    loud = energy >= 0.01 * energy.max()
    if mean_clarity < NOTE_MIN_CONFIDENCE or clarity[loud].min() < NOTE_MIN_CONFIDENCE / 2:
        return result
    if not np.all(f0[loud] > 0):
        return result
    cents = 1200.0 * np.log2(f0[loud] / 440.0)
    centre = float(np.median(cents))
    spread = float(np.max(np.abs(cents - centre)))
    if spread > NOTE_MAX_SPREAD_CENTS:
        # Right after the attack YIN may lock onto a harmonic or a subharmonic of the note
        # (plucks, reeds, bowed strings). When the frames differ by a whole-number ratio,
        # the settled later frame holds the note; a drum's glide isn't such a jump.
        settled = _settled_pitch(f0[loud], clarity[loud])
        if settled is None:
            return result
        centre, spread = settled, NOTE_MAX_SPREAD_CENTS
    hz = 440.0 * 2.0 ** (centre / 1200.0)
    result.steady = True
    if not _fundamental_present(frames, sample_rate, hz):
        return result
    note, _dev = hz_to_note(hz)
    result.hz = hz
    result.note = note
    result.confidence = mean_clarity * max(0.0, 1.0 - spread / (2 * NOTE_MAX_SPREAD_CENTS))
    return result


HARMONIC_JUMPS = (2, 3, 4, 5, 6)
HARMONIC_TOLERANCE_CENTS = 25.0


def _settled_pitch(f0: np.ndarray, clarity: np.ndarray) -> float | None:
    """Cents (re A4) of the last frame when every earlier frame sits a whole-number ratio
    (2-6, either way) away from it or on it and the last frame is confidently periodic."""
    if f0.size < 2 or clarity[-1] < NOTE_MIN_CONFIDENCE:
        return None
    last = 1200.0 * math.log2(f0[-1] / 440.0)
    steps = [0.0] + [1200.0 * math.log2(k) for k in HARMONIC_JUMPS]
    for hz in f0[:-1]:
        gap = abs(1200.0 * math.log2(hz / 440.0) - last)
        if min(abs(gap - step) for step in steps) > HARMONIC_TOLERANCE_CENTS:
            return None
    return last


def _fundamental_present(frames: np.ndarray, sample_rate: int, hz: float) -> bool:
    """True when the spectrum has a partial at ``hz`` (not just a common period of partials)."""
    n = frames.shape[1]
    loudest = frames[int(np.argmax(np.einsum("ij,ij->i", frames, frames)))]
    spec = np.abs(np.fft.rfft(loudest * hann(n), 2 * n))
    freqs = np.fft.rfftfreq(2 * n, 1.0 / sample_rate)
    near = (freqs >= hz * 2 ** (-1 / 24)) & (freqs <= hz * 2 ** (1 / 24))
    if not near.any():
        near = np.abs(freqs - hz) == np.abs(freqs - hz).min()
    band = freqs <= min(sample_rate / 2, 8000.0)
    top = spec[band].max()
    if top <= 0:
        return False
    return 20.0 * math.log10(spec[near].max() / top + 1e-12) >= FUNDAMENTAL_FLOOR_DB


def prominent_peaks(power: np.ndarray,
                    half: int = 15) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spectral peaks standing PEAK_PROMINENCE_DB above the local mean level.

    Returns (frame index, bin, interpolated bin, energy of the peak's 5 bins) per peak.
    """
    level = 10.0 * np.log10(power + np.float32(1e-12), dtype=np.float32)
    padded = np.pad(level, ((0, 0), (half + 1, half)), mode="edge")
    csum = np.cumsum(padded, axis=1, dtype=np.float64)
    local = (csum[:, 2 * half + 1:] - csum[:, : -2 * half - 1]) / (2 * half + 1)
    mid = level[:, 1:-1]
    is_peak = (mid > level[:, :-2]) & (mid >= level[:, 2:]) \
        & (mid > local[:, 1:-1] + PEAK_PROMINENCE_DB)
    is_peak &= mid > level.max(axis=1, keepdims=True) - 80.0
    frame, k = np.nonzero(is_peak)
    k = k + 1
    a, b, c = level[frame, k - 1], level[frame, k], level[frame, k + 1]
    den = a - 2.0 * b + c
    shift = np.where(den < 0, 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0)
    last = power.shape[1] - 1
    energy = sum(power[frame, np.clip(k + j, 0, last)].astype(np.float64)
                 for j in (-2, -1, 0, 1, 2))
    return frame, k, k + shift, energy


@dataclass
class ChromaSums:
    """Accumulated 36-bin peak chroma and tonal-energy shares (mergeable across blocks)."""

    chroma: np.ndarray
    bass: np.ndarray = field(default_factory=lambda: np.zeros(12))  # lowest peaks, pc 0 = C
    band_energy: float = 0.0
    peak_energy: float = 0.0
    sustained_energy: float = 0.0
    pair_energy: float = 0.0

    @classmethod
    def empty(cls) -> ChromaSums:
        """Zeroed sums."""
        return cls(chroma=np.zeros(36))

    def add(self, other: ChromaSums) -> None:
        """Merge another block's sums."""
        self.chroma += other.chroma
        self.bass = self.bass + other.bass
        self.band_energy += other.band_energy
        self.peak_energy += other.peak_energy
        self.sustained_energy += other.sustained_energy
        self.pair_energy += other.pair_energy

    @property
    def tonal_ratio(self) -> float:
        """Share of the 100 Hz-5 kHz energy held by prominent peaks."""
        return self.peak_energy / self.band_energy if self.band_energy > 0 else 0.0

    @property
    def sustain(self) -> float:
        """Share of that energy in peaks that persist into the next frame."""
        return self.sustained_energy / self.pair_energy if self.pair_energy > 0 else 0.0


def key_frame_sizes(sample_rate: int) -> tuple[int, int]:
    """(n_fft, hop) for key analysis: ~186 ms frames so low partials resolve to semitones.

    Frames don't overlap: chords last far longer than a frame, and it halves the cost.
    """
    n_fft = 1 << round(math.log2(0.186 * sample_rate))
    return n_fft, n_fft


def edge_weights(power: np.ndarray, frame_seconds: float | None = None) -> np.ndarray:
    """Per-frame chroma weights: KEY_EDGE_WEIGHT for the first and last KEY_EDGE_SHARE of the
    sounding frames (at most KEY_EDGE_MAX_SECONDS each, given ``frame_seconds``), 1 elsewhere.

    Tonic emphasis: progressions and loops open and close on the tonic chord (over the
    tonic in the bass), while the middle visits the relative major, IV or VI - which, with
    decaying piano or guitar tones, otherwise pulls a minor key towards them.
    """
    weights = np.ones(power.shape[0])
    energy = power.sum(axis=1, dtype=np.float64)
    if energy.size == 0 or energy.max() <= 0:
        return weights
    active = np.nonzero(energy > energy.max() * 1e-4)[0]
    first, stop = int(active[0]), int(active[-1]) + 1
    count = max(1, round(KEY_EDGE_SHARE * (stop - first)))
    if frame_seconds:
        # A long progression repeats its chords: only its first and last bars or so open and
        # close on the tonic, a fifth of 30 s holds the whole progression.
        count = min(count, max(1, round(KEY_EDGE_MAX_SECONDS / frame_seconds)))
    if 2 * count < stop - first:  # too short to have a start and an end: leave it even
        weights[first:first + count] = KEY_EDGE_WEIGHT
        weights[stop - count:stop] = KEY_EDGE_WEIGHT
    return weights


def chroma_sums(power: np.ndarray, sample_rate: int, n_fft: int,
                edges: bool = False) -> ChromaSums:
    """Peak chroma (36 bins, bin 0 = A as Essentia's HPCP) and tonal shares of power frames.

    ``edges``: the frames are the whole sound, and its start and end count more in the
    chroma (:func:`edge_weights`); the tonal shares are never weighted.
    """
    first = math.ceil(KEY_RANGE[0] * n_fft / sample_rate)
    last = min(power.shape[1] - 1, int(KEY_RANGE[1] * n_fft / sample_rate))
    margin = 20  # the local-mean window and peak neighbours reach this far
    offset = max(0, first - margin)
    view = power[:, offset: last + margin + 1]  # only the bins the key needs: ~5x fewer
    frame, k, kf, energy = prominent_peaks(view)
    hz = (kf + offset) * sample_rate / n_fft
    out = ChromaSums.empty()
    sel = (hz >= KEY_RANGE[0]) & (hz <= KEY_RANGE[1])
    if sel.any():
        pos = ((69.0 + 12.0 * np.log2(hz[sel] / 440.0)) * 3.0 - 27.0) % 36.0  # 27 = A (pc 9) * 3
        lo = np.floor(pos).astype(int)
        frac = pos - lo
        mag = np.sqrt(energy[sel])
        if edges:
            mag = mag * edge_weights(power, n_fft / sample_rate)[frame[sel]]
        out.chroma = (np.bincount(lo % 36, mag * (1 - frac), 36)
                      + np.bincount((lo + 1) % 36, mag * frac, 36))
        out.bass = _bass_chroma(frame[sel], hz[sel], mag)
    # Tonal shares are judged from TONAL_RANGE, above the sine bodies of kick drums.
    t_first = math.ceil(TONAL_RANGE[0] * n_fft / sample_rate) - offset
    t_last = min(view.shape[1] - 1, int(TONAL_RANGE[1] * n_fft / sample_rate) - offset)
    band = slice(max(0, t_first), t_last + 1)
    tonal_peaks = (hz >= TONAL_RANGE[0]) & (hz <= TONAL_RANGE[1])
    out.band_energy = float(view[:, band].sum(dtype=np.float64))
    out.peak_energy = float(energy[tonal_peaks].sum())
    if view.shape[0] > 1:
        tonal = np.zeros(view.shape, dtype=np.float32)
        top = view.shape[1] - 1
        for j in (-2, -1, 0, 1, 2):
            cols = np.clip(k + j, 0, top)
            tonal[frame, cols] = view[frame, cols]
        tonal = tonal[:, band]
        grown = np.maximum(tonal, np.maximum(np.roll(tonal, 1, axis=1), np.roll(tonal, -1, axis=1)))
        out.sustained_energy = float(np.minimum(tonal[:-1], grown[1:]).sum(dtype=np.float64))
        out.pair_energy = float(view[:-1, band].sum(dtype=np.float64))
    return out


class KeyEstimator:
    """Essentia's ``Key`` configured once."""

    def __init__(self) -> None:
        # Temperley's profiles: with the start/end emphasis of chroma_sums(edges=True) the
        # MIREX score on 72 rendered progressions (24 keys, 6 GM instruments) went from
        # 0.868 ("edma", plain chroma) to 0.981; minor keys from 0.76 to 0.96. Synth chord
        # and bass loops stay right. Edges of at most 3 s weighing 4x (not a fifth at 3x):
        # FluidR3's 10-40 s progressions 0.842 -> 0.913, the short ones unchanged; the
        # held-out MuseScore long ones 0.842 -> 1.0.
        self._key = es.Key(profileType=KEY_PROFILE, pcpSize=36)

    def estimate(self, sums: ChromaSums) -> tuple[str | None, float | None]:
        """("A minor", strength) for material whose harmony moves, else (None, None).

        Whether there is harmony at all is decided before (has_harmony); a held chord gets
        its key from the chord (key_of_chord) instead.
        """
        if sums.tonal_ratio < KEY_MIN_TONAL_RATIO:
            return None, None
        pcp = sums.chroma
        if pcp.max() <= 0:
            return None, None
        tonic, scale, strength, _rel = self._key((pcp / pcp.max()).astype(np.float32))
        key = parse_key(f"{tonic} {scale}")
        if key is None:
            return None, None
        confidence = max(0.0, min(1.0, float(strength))) * min(1.0, sums.tonal_ratio)
        return key, confidence


# A frame's bass note: its lowest peak at least this share of its strongest. A low string's
# fundamental is often weaker than its 2nd and 3rd partials (piano, guitar): at 0.25 the next
# chord tone up took its place (Gsus4 read as Csus2). 0.15: exact chords FluidR3 0.869 -> 0.894,
# MuseScore 0.844 -> 0.869, Salamander 0.760 -> 0.771; notes and drums unchanged.
BASS_FLOOR = 0.15


def _bass_chroma(frame: np.ndarray, hz: np.ndarray, mag: np.ndarray) -> np.ndarray:
    """12-bin chroma (pc 0 = C) of each frame's lowest strong peak, weighted by the frame's
    loudest peak: the note a chord stands on (usually its root)."""
    out = np.zeros(12)
    if frame.size == 0:
        return out
    order = np.lexsort((hz, frame))  # by frame, then by frequency
    frame, hz, mag = frame[order], hz[order], mag[order]
    starts = np.r_[0, np.nonzero(np.diff(frame))[0] + 1]
    ends = np.r_[starts[1:], frame.size]
    for a, b in zip(starts, ends):
        top = mag[a:b].max()
        strong = np.nonzero(mag[a:b] >= BASS_FLOOR * top)[0]
        pc = int(round(69.0 + 12.0 * math.log2(hz[a + strong[0]] / 440.0))) % 12
        out[pc] += top
    return out


# -- chords of one-shots ------------------------------------------------------------------------
#
# The peak chroma of a held chord, folded to 12 pitch classes and scaled to its strongest class,
# first loses what the partials of its own notes put there: each note's 3rd partial sounds a
# fifth above it, its 5th a major third above, its 7th a minor seventh above: LEAKAGE, about
# the median share measured on the FluidR3 single notes of benchmarks/data, chosen with the
# tone and bass weights on the FluidR3 chords and checked on the held-out MuseScore ones), so
# a plain triad's overtones do not read as a seventh or a ninth.
# Then every root and quality is scored: the strength of its tones, minus the strength of the
# pitch classes it leaves out, plus a bonus when the bass note (each frame's lowest strong peak)
# is its root; every tone must be present (CHORD_TONE_MIN). A chord is one harmony held
# throughout: when stretches of a sound differ from the whole, it is a progression and gets
# a key, not a chord (held_harmony).

LEAKAGE = ((7, 0.4), (4, 0.15), (10, 0.08))  # (semitones above a note, share) from partials
# The profile is compressed before the leakage is removed: in recorded chords the bass note
# (doubled an octave down, struck harder, a low string ringing) can outweigh the upper voices
# several times over, and its weaker chord tones would fall under CHORD_TONE_MIN. 0.85 is the
# strongest compression that cost nothing on any source (FluidR3, MuseScore and Salamander
# chords, the FluidR3 notes, the labelled real one-shots); 0.8 scored better still on the
# recorded piano but lost an exact chord on MuseScore.
CHORD_PROFILE_GAMMA = 0.85
CHORD_TONE_MIN = 0.2  # each chord tone but the fifth at least this share of the strongest
CHORD_BASS_WEIGHT = 1.0  # score bonus when the bass note is the candidate's root
CHORD_MIN_SCORE = 1.0  # best score below this: no chord


def chord_profile(sums: ChromaSums) -> np.ndarray:
    """12 pitch classes (pc 0 = C) scaled to the strongest, with the partials' leakage removed."""
    pcs = pitch_classes(sums)
    top = pcs.max()
    if top <= 0:
        return np.zeros(12)
    p = (pcs / top) ** CHORD_PROFILE_GAMMA
    leak = np.zeros(12)
    for shift, share in LEAKAGE:
        leak += share * np.roll(p, shift)
    return np.clip(p - leak, 0.0, None)


def pitch_classes(sums: ChromaSums) -> np.ndarray:
    """The 36-bin peak chroma folded to 12 pitch classes, pc 0 = C (bins centred on notes)."""
    classes = np.roll(sums.chroma, 1).reshape(12, 3).sum(axis=1)  # class j = A + j semitones
    return np.roll(classes, 9)  # A is pitch class 9


def chord_scores(sums: ChromaSums) -> list[tuple[float, int, str]]:
    """(score, root pc, quality) of every chord whose tones are all present, best first."""
    p = chord_profile(sums)
    if p.max() <= 0:
        return []
    bass_total = sums.bass.sum()
    bass = sums.bass / bass_total if bass_total > 0 else np.zeros(12)
    total = float(p.sum())
    out = []
    for root in range(12):
        for quality, intervals in CHORD_QUALITIES.items():
            tones = [(root + i) % 12 for i in intervals]
            # The perfect fifth may be faint (the root's own 3rd partial is subtracted from it,
            # and voicings leave it out); every other tone must sound.
            if min(p[(root + i) % 12] for i in intervals if i != 7) < CHORD_TONE_MIN:
                continue
            inside = float(p[tones].sum())
            out.append((2.0 * inside - total + CHORD_BASS_WEIGHT * float(bass[root]), root,
                        quality))
    out.sort(key=lambda s: -s[0])
    return out


def weakest_tone(sums: ChromaSums, chord: str) -> float:
    """The weakest chord tone but the root and the fifth in the chord profile (0..1)."""
    parsed = parse_chord(chord)
    if parsed is None:
        return 0.0
    root, quality = parsed
    p = chord_profile(sums)
    others = [p[(root + i) % 12] for i in CHORD_QUALITIES[quality] if i not in (0, 7)]
    return float(min(others)) if others else 0.0


# A chord over a loud bass note: YIN hears the bass (the common period of the chord is its
# root's), so the sound reads as a note. Two tests, the first tried first:
#
# - the note's own partials are fitted (its fundamental within 15 cents, and piano strings'
#   stretch, f_n = n f0 sqrt(1 + B n^2) for an inharmonicity B up to 0.003), each partial
#   within a tolerance that narrows with its number (a low note's partials crowd together).
#   What no partial explains is another note: it is a chord when one pitch class, on the
#   note's semitone grid, holds at least NOTE_CHORD_MIN_OTHER of the peak amplitude up to
#   5 kHz, the three strongest hold at least NOTE_CHORD_MIN_CONCENTRATION of what is left
#   (a cymbal's ring scatters), and no partial sits an octave below the note (YIN's octave
#   error on a low note makes every odd partial look foreign). The chord's tones are those
#   pitch classes, less what their own partials add (LEAKAGE), over the note as its root.
#   Single notes (FluidR3's, the real one-shots', Salamander's piano strings) leave at most
#   0.041 off their partials; recorded piano chords over their bass 0.02-0.19.
# - else the older test: much of the tonal energy off the note's first 8 harmonics, and the
#   chord found in the whole profile rooted on the note with every tone clearly there.
FOREIGN_TOLERANCE_CENTS = 40.0
FOREIGN_MAX_HARMONIC = 8
NOTE_CHORD_MIN_FOREIGN = 0.08
NOTE_CHORD_MIN_TONE = 0.15
PARTIAL_TOLERANCE_CENTS = 30.0
PARTIAL_TOLERANCE_SPACING = 0.15  # ... at most this share of the gap to the next partial
INHARMONICITY = np.r_[0.0, np.geomspace(2e-5, 3e-3, 30)]
F0_OFFSETS_CENTS = (-15.0, -10.0, -5.0, 0.0, 5.0, 10.0, 15.0)
NOTE_CHORD_MIN_OTHER = 0.045
NOTE_CHORD_MIN_CONCENTRATION = 0.5
OTHER_TONE_MIN = 0.3  # each chord tone but the root and the fifth, share of the strongest


def note_partials(f: np.ndarray, amp: np.ndarray, hz: float) -> tuple[np.ndarray, float]:
    """(mask of the peaks that are partials of one note near ``hz``, its fitted f0): the
    fundamental and inharmonicity that explain the most peak amplitude."""
    on, f0, _numbers = fit_partials(f, amp, hz)
    return on, f0


def fit_partials(f: np.ndarray, amp: np.ndarray,
                 hz: float) -> tuple[np.ndarray, float, np.ndarray]:
    """note_partials, plus each peak's partial number under the fitted stretch."""
    best = (-1.0, np.zeros(f.shape, dtype=bool), hz, np.ones(f.shape, dtype=int))
    for offset in F0_OFFSETS_CENTS:
        f0 = hz * 2.0 ** (offset / 1200.0)
        ratio = f / f0
        for b in INHARMONICITY:
            n = np.maximum(1.0, np.round(ratio / np.sqrt(1.0 + b * ratio ** 2)))
            predicted = n * f0 * np.sqrt(1.0 + b * n ** 2)
            tolerance = np.minimum(PARTIAL_TOLERANCE_CENTS,
                                   1200.0 * np.log2(1.0 + PARTIAL_TOLERANCE_SPACING / n))
            on = np.abs(1200.0 * np.log2(f / predicted)) <= tolerance
            explained = float(amp[on].sum())
            if explained > best[0] + 1e-12:
                best = (explained, on, f0, n.astype(int))
    return best[1], best[2], best[3]


def other_notes(power: np.ndarray, sample_rate: int, n_fft: int,
                hz: float) -> tuple[np.ndarray, float, float, bool]:
    """What a sound read as the note ``hz`` holds besides that note: (12 pitch classes
    relative to the note, 0 = the note, as shares of the peak amplitude from the note to
    5 kHz; the three strongest's share of the amplitude off the note's partials; the fitted
    f0; whether a partial sits an octave below the note)."""
    _frame, _k, kf, energy = prominent_peaks(power)
    f = kf * sample_rate / n_fft
    below = f[(f > 0.4 * hz) & (f < 0.6 * hz)]
    sel = (f >= hz * 0.95) & (f <= 5000.0)
    f, amp = f[sel], np.sqrt(energy[sel])
    total = float(amp.sum())
    if total <= 0:
        return np.zeros(12), 0.0, hz, False
    on, f0 = note_partials(f, amp, hz)
    octave_below = bool(below.size) and bool(
        np.any(np.abs(1200.0 * np.log2(below / (f0 / 2.0))) < PARTIAL_TOLERANCE_CENTS + 10.0))
    semis = 12.0 * np.log2(f[~on] / f0)
    on_grid = np.abs(semis - np.round(semis)) < 0.3  # tuned notes, not a cymbal's partials
    pcs = np.bincount(np.round(semis[on_grid]).astype(int) % 12, amp[~on][on_grid], 12)
    off = float(amp[~on].sum())
    concentration = float(np.sort(pcs)[-3:].sum() / off) if off > 0 else 0.0
    return pcs / total, concentration, f0, octave_below


def chord_on_note(power: np.ndarray, sample_rate: int, n_fft: int,
                  hz: float) -> tuple[str | None, float | None]:
    """(chord, confidence) from the notes heard beside the note ``hz`` (see above)."""
    pcs, concentration, f0, octave_below = other_notes(power, sample_rate, n_fft, hz)
    if (octave_below or pcs.max() < NOTE_CHORD_MIN_OTHER
            or concentration < NOTE_CHORD_MIN_CONCENTRATION):
        return None, None
    q = pcs / pcs.max()
    q[0] = 0.0
    leak = np.zeros(12)
    for shift, share in LEAKAGE:
        leak += share * np.roll(q, shift)
    q = np.clip(q - leak, 0.0, None)
    if q.max() <= 0:  # nothing beside the note but its own pitch class: no other tone
        return None, None
    q = q / q.max()
    q[0] = 1.0
    scored = []
    for quality, intervals in CHORD_QUALITIES.items():
        if min(q[i] for i in intervals if i not in (0, 7)) < OTHER_TONE_MIN:
            continue
        scored.append((2.0 * float(q[list(intervals)].sum()) - float(q.sum()), quality))
    if not scored:
        return None, None
    scored.sort(reverse=True)
    best, quality = scored[0]
    second = scored[1][0] if len(scored) > 1 else 0.0
    root = round(69.0 + 12.0 * math.log2(f0 / 440.0)) % 12
    return chord_name(root, quality), min(1.0, 0.5 + (best - second))


def foreign_share(power: np.ndarray, sample_rate: int, n_fft: int, hz: float) -> float:
    """Share of the peak amplitude between the note ``hz`` and its 8th harmonic (5 kHz at
    most) that lies off its harmonics (further than FOREIGN_TOLERANCE_CENTS)."""
    _frame, _k, kf, energy = prominent_peaks(power)
    f = kf * sample_rate / n_fft
    sel = (f >= hz * 0.95) & (f <= min(5000.0, FOREIGN_MAX_HARMONIC * hz))
    amp = np.sqrt(energy[sel])
    if amp.sum() <= 0:
        return 0.0
    h = f[sel] / hz
    cents = np.abs(1200.0 * np.log2(h / np.maximum(1.0, np.round(h))))
    return float(amp[cents > FOREIGN_TOLERANCE_CENTS].sum() / amp.sum())


def chord_over_note(sums: ChromaSums, power: np.ndarray, sample_rate: int, n_fft: int,
                    hz: float) -> tuple[str | None, float | None]:
    """(chord, confidence) when a sound read as a note of ``hz`` is a chord with that note as
    its root (see above), else (None, None)."""
    chord, confidence = chord_on_note(power, sample_rate, n_fft, hz)
    if chord is not None:
        return chord, confidence
    if foreign_share(power, sample_rate, n_fft, hz) < NOTE_CHORD_MIN_FOREIGN:
        return None, None
    chord, confidence = estimate_chord(sums)
    if chord is None:
        return None, None
    parsed = parse_chord(chord)
    if parsed is None or parsed[0] != round(69.0 + 12.0 * math.log2(hz / 440.0)) % 12:
        return None, None
    if weakest_tone(sums, chord) < NOTE_CHORD_MIN_TONE:
        return None, None
    return chord, confidence


def estimate_chord(sums: ChromaSums) -> tuple[str | None, float | None]:
    """(chord symbol, confidence) of a held chord's chroma, or (None, None)."""
    scores = chord_scores(sums)
    if not scores or scores[0][0] < CHORD_MIN_SCORE:
        return None, None
    best, root, quality = scores[0]
    second = scores[1][0] if len(scores) > 1 else 0.0
    confidence = min(1.0, 0.5 + (best - second))
    return chord_name(root, quality), confidence


# -- is there any harmony to name? ------------------------------------------------------------
#
# Key and chord abstain on material with nothing tonal to find: drums, noise, effects. The
# judgement comes from the sound alone, never from a category:
#
# - tonal_ratio: how much of the 100 Hz-5 kHz energy sits in prominent spectral peaks (noise,
#   claps, hats and kicks have little there);
# - sustain: how much of that persists from one ~186 ms frame to the next (strings, pads, held
#   chords, bass lines persist; the ring of a snare or a tom dies). Material whose harmony
#   moves (loops, progressions, long material) needs HARMONY_MIN_SUSTAIN to get a key, or at
#   least HARMONY_LOW_SUSTAIN and a key profile that fits (Key strength x tonal ratio of
#   WEAK_KEY_MIN_STRENGTH: staccato bass lines): the rendered loops of the Hydrogen kits reach
#   sustain 0.18 with strength 0.48 (tuned electronic drums: a thin margin), the held-out LMMS
#   and Sonic Pi drum loops 0.24 with 0.37; progressions and legato bass lines sit above;
# - a chord also needs CHORD_MIN_SUSTAIN, a pitch-class entropy of at least CHORD_MIN_ENTROPY
#   (three or more notes: a single-pitched tom, agogo or water glass sits lower) and at most
#   CHORD_MAX_ENTROPY (the partials of cymbals scatter over all twelve classes), and a YIN
#   clarity of at least CHORD_MIN_CLARITY (cymbals are not periodic). Chosen on the FluidR3
#   chords and the Hydrogen kits' one-shots; checked on MuseScore, LMMS and Sonic Pi.

HARMONY_MIN_TONAL = 0.45
HARMONY_MIN_SUSTAIN = 0.25
HARMONY_LOW_SUSTAIN = 0.03
WEAK_KEY_MIN_STRENGTH = 0.49
CHORD_MIN_SUSTAIN = 0.4
CHORD_MIN_ENTROPY = 0.55
CHORD_MAX_ENTROPY = 0.93
CHORD_MIN_CLARITY = 0.3


def harmony_evidence(sums: ChromaSums) -> tuple[float, float, float]:
    """(tonal_ratio, sustain, pitch-class entropy 0..1) of a sound's chroma sums."""
    pcs = pitch_classes(sums)
    total = pcs.sum()
    if total <= 0:
        return sums.tonal_ratio, sums.sustain, 1.0
    p = pcs / total
    entropy = float(-(p * np.log(p + 1e-12)).sum() / math.log(12))
    return sums.tonal_ratio, sums.sustain, entropy


def has_harmony(sums: ChromaSums) -> bool:
    """Whether a sound may have harmony to name (a key or a chord): see above."""
    tonal_ratio, sustain, _entropy = harmony_evidence(sums)
    return tonal_ratio >= HARMONY_MIN_TONAL and sustain >= HARMONY_LOW_SUSTAIN


def phrase_like(sums: ChromaSums, clarity: float) -> bool:
    """Whether a one-shot whose pitch content moves is a tonal phrase (a progression that
    rings out) rather than a drum: several pitch classes, not the scatter of a cymbal, and
    periodic. A tom's glide moves too, but over one pitch class."""
    _tonal_ratio, _sustain, entropy = harmony_evidence(sums)
    return CHORD_MIN_ENTROPY <= entropy <= CHORD_MAX_ENTROPY and clarity >= CHORD_MIN_CLARITY


def chord_like(sums: ChromaSums, clarity: float) -> bool:
    """Whether a held sound is a chord: several pitch classes, held, periodic (see above)."""
    tonal_ratio, sustain, entropy = harmony_evidence(sums)
    return (tonal_ratio >= HARMONY_MIN_TONAL and sustain >= CHORD_MIN_SUSTAIN
            and CHORD_MIN_ENTROPY <= entropy <= CHORD_MAX_ENTROPY
            and clarity >= CHORD_MIN_CLARITY)


HARMONY_MIN_SECONDS = 0.25  # shorter sounds get no key or chord
MOVING_MIN_SECONDS = 2.0  # a note is withdrawn when the harmony moves over at least this long
HELD_MIN_SIMILARITY = 0.8  # cosine of each stretch's pitch classes with the whole's: held
HELD_SEGMENT_FRAMES = 4
HELD_MAX_SEGMENTS = 48


def segments(power: np.ndarray, sample_rate: int, n_fft: int) -> list[ChromaSums] | None:
    """Chroma sums of stretches of HELD_SEGMENT_FRAMES frames (~0.75 s: shorter than a chord of
    a progression) of the sounding frames (None: too short).

    Quiet stretches (under 1 % of the loudest one's energy: a fading tail) are left out."""
    energy = power.sum(axis=1, dtype=np.float64)
    if energy.size == 0 or energy.max() <= 0:
        return None
    active = np.nonzero(energy > energy.max() * 1e-4)[0]
    first, stop = int(active[0]), int(active[-1]) + 1
    count = min(HELD_MAX_SEGMENTS, (stop - first) // HELD_SEGMENT_FRAMES)
    if count < 2:
        return None
    edges = np.linspace(first, stop, count + 1).astype(int)
    loud = [energy[a:b].sum() for a, b in zip(edges[:-1], edges[1:])]
    return [chroma_sums(power[a:b], sample_rate, n_fft)
            for (a, b), level in zip(zip(edges[:-1], edges[1:]), loud) if level >= 0.01 * max(loud)]


def held_harmony(parts: list[ChromaSums]) -> bool:
    """Whether every stretch sounds the same pitch classes as the whole (a held chord or note,
    not a progression, which even repeated moves from stretch to stretch)."""
    whole = sum(pitch_classes(part) for part in parts)
    norm = np.linalg.norm(whole)
    if norm <= 0:
        return True
    for part in parts:
        pcs = pitch_classes(part)
        n = np.linalg.norm(pcs)
        if n > 0 and float(pcs @ whole) / (n * norm) < HELD_MIN_SIMILARITY:
            return False
    return True


def bass_hz(power: np.ndarray, sample_rate: int, n_fft: int) -> float | None:
    """The note a held chord stands on: each frame's lowest peak at least BASS_FLOOR of its
    loudest (40 Hz-5 kHz), the median over frames weighted by their loudest peak."""
    frame, _k, kf, energy = prominent_peaks(power)
    f = kf * sample_rate / n_fft
    sel = (f >= KEY_RANGE[0]) & (f <= KEY_RANGE[1])
    frame, f, amp = frame[sel], f[sel], np.sqrt(energy[sel])
    if frame.size == 0:
        return None
    lows, weights = [], []
    for i in np.unique(frame):
        mine = frame == i
        top = amp[mine].max()
        lows.append(f[mine][amp[mine] >= BASS_FLOOR * top].min())
        weights.append(top)
    order = np.argsort(lows)
    cum = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(lows)[order][np.searchsorted(cum, cum[-1] / 2)])


def one_note_under_the_bass(power: np.ndarray, sample_rate: int, n_fft: int) -> bool:
    """Whether a held sound that YIN gave no note is one note whose fundamental is weaker than
    BASS_FLOOR of its loudest partial (a low piano string, a bass patch): a partial sits an
    octave below its bass note (bass_hz took the 2nd partial for the bass), and the partials
    of that lower note leave no pitch class NOTE_CHORD_MIN_OTHER of the peak amplitude (the
    single-note test of chord_on_note). Such a note's 2nd, 3rd and 5th partials read as a
    major triad on its pitch class (Salamander's C2 was named a C chord at confidence 1.0).

    Only with the partial an octave below: without it, a chord voiced as a harmonic series
    (open guitar E: E2 B2 E3 G#3 B3 E4 are partials 2-8 of E1) would read as one note.
    Measured on the evaluation set: the chord one-shots that get here leave 0.059-0.32 off
    that lower note's partials, the single notes 0.001-0.006.
    """
    low = bass_hz(power, sample_rate, n_fft)
    if not low:
        return False
    _pcs, _concentration, _f0, octave_below = other_notes(power, sample_rate, n_fft, low)
    if not octave_below:
        return False
    pcs, _concentration, _f0, _below = other_notes(power, sample_rate, n_fft, low / 2.0)
    return float(pcs.max()) < NOTE_CHORD_MIN_OTHER


def several_notes(power: np.ndarray, sample_rate: int, n_fft: int,
                  hz: float | None = None) -> bool:
    """Whether a held sound holds other notes beside its bass note, by chord_on_note's tests:
    once the bass note's partials are fitted and taken out, one pitch class keeps at least
    NOTE_CHORD_MIN_OTHER of the peak amplitude (single notes leave less) and the three
    strongest keep NOTE_CHORD_MIN_CONCENTRATION of what is left (a cymbal's ring scatters).
    For a held chord no template fits (a maj7 whose third is faint): it gets the key of the
    whole, as a harmony that moves does, rather than nothing."""
    low = hz or bass_hz(power, sample_rate, n_fft)
    if not low:
        return False
    pcs, concentration, _f0, below = other_notes(power, sample_rate, n_fft, low)
    return (float(pcs.max()) >= NOTE_CHORD_MIN_OTHER and not (hz and below)
            and concentration >= NOTE_CHORD_MIN_CONCENTRATION)


def chord_over_bass(power: np.ndarray, sample_rate: int,
                    n_fft: int) -> tuple[str | None, float | None]:
    """(chord, confidence) of a held chord no template fits as a whole: the notes heard
    beside its bass note (chord_on_note), else (None, None)."""
    low = bass_hz(power, sample_rate, n_fft)
    return chord_on_note(power, sample_rate, n_fft, low) if low else (None, None)


# -- a common period is not a note ------------------------------------------------------------
#
# YIN finds the period a sound repeats with. For one note that is the note, even when its
# fundamental is weak (a low piano string: then its 2nd partial is the lowest strong one). For
# a chord it is the common period of its notes: a triad over a doubled bass reads two octaves
# under the bass (C E G = partials 4, 5, 6 of C two octaves down), a sus2 three. Two things
# tell that period from a note:
# - neither its fundamental nor its octave is among the strong peaks: the lowest peak at least
#   BASS_FLOOR of each frame's loudest (bass_hz) sits COMMON_PERIOD_MIN_RATIO or more times
#   above it (its 3rd partial or higher);
# - its partial series has gaps: a note sounds every partial from its lowest strong one up
#   (a hammer's or a pluck's position silences at most every 7th-9th: one in the span below),
#   while the notes of a chord sound only the partials that are theirs (C E G over C: 4, 5, 6,
#   8, 10, 12, never 7, 9, 11). More than SERIES_MAX_MISSING of the partials from the lowest
#   strong one to three times its number are missing.
# Such a sound is no note: it goes to the chord templates as a held sound YIN gives no note.
COMMON_PERIOD_MIN_RATIO = 2.5
SERIES_MAX_MISSING = 1


def common_period(power: np.ndarray, sample_rate: int, n_fft: int, hz: float) -> bool:
    """Whether the pitch ``hz`` YIN read in a held sound is the common period of several
    notes, not a note (see above)."""
    low = bass_hz(power, sample_rate, n_fft)
    if not low or low < COMMON_PERIOD_MIN_RATIO * hz:
        return False
    _frame, _k, kf, energy = prominent_peaks(power)
    f = kf * sample_rate / n_fft
    sel = (f >= hz * 0.95) & (f <= KEY_RANGE[1])
    on, f0, numbers = fit_partials(f[sel], np.sqrt(energy[sel]), hz)
    present = set(numbers[on].tolist())
    lowest = max(1, round(low / f0))
    missing = sum(n not in present for n in range(lowest, 3 * lowest + 1))
    return missing > SERIES_MAX_MISSING
