"""Onsets, periodicity and tempo from the STFT already computed for the spectral descriptors.

Tempo of a loop, in three steps:

1. *Periodicity*: the autocorrelation (circular for a loop, which repeats) of a
   band-normalised spectral-flux envelope, scored with its 2x and 4x lags so
   the beat period wins over a lag that happens to fit one pattern (1.5 beats).
2. *Metrical level*: of the two octave-related tempi inside 60-180 BPM, the
   faster one is the beat when its extra grid positions carry real hits in the
   kick/snare range (< 5 kHz) - snare backbeats do, off-beat hi-hats don't
   (their energy sits above 5 kHz), nor do the level wobbles of held chords.
3. *Half-time*: a half-time groove at T (snare on 3) is a backbeat at T/2 but for its
   hats: even eighths at T rather than accented or swung sixteenths at T/2. A hi-hat
   band ticking alike on every eighth of the faster reading makes it the tempo
   (:func:`even_eighths`).
4. *Whole bars*: a loop lasts whole 4/4 bars, so of two octave-related tempi the
   one giving whole bars wins (a half-time groove of one bar at T would be half a
   bar at T/2); then the tempo is snapped to ``beats * 60 / duration`` when that
   is within 2 % (bars of four beats preferred); otherwise the DSP value is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BPM_MIN = 60.0
BPM_MAX = 180.0
SLOW_BPM = 70.0  # below this the slower octave needs a snare backbeat to be chosen
KICK_BAND_HZ = 150.0
BACKBEAT_KICK_CONTRAST = 0.15  # the downbeat's kick share over the backbeat's, at least
METRICAL_RATIO = 0.17  # the faster level's extra beats must carry this share of its strong beats
METRICAL_MAX_HZ = 5000.0
SNARE_BAND_HZ = (200.0, 4000.0)  # snare/clap bodies and crack; kicks mostly below, hats above
BACKBEAT_RATIO = 0.5  # slow level: off-beat snare energy below this share of the backbeat's
FAST_BACKBEAT_RATIO = 1.5  # fast level: its beats 2 and 4 carry this much more than its beat 3
SNAP_TOLERANCE = 0.02
HAT_BAND_HZ = 5000.0  # hi-hats and shakers: above the kick and snare bodies
HAT_EVEN_RATIO = 0.75  # on- and off-beat eighths of the faster level at least this alike
HAT_PRESENT = 0.2  # ... and the off-beat ones at least this share of the loudest hat hit
ONSET_MIN_GAP = 0.05  # s: hits closer than this are one onset (flams, claps)
ONSET_GATE_DB = 1.0  # mean dB rise across bands at which an energy jump fully counts as a hit


def onset_strength(mel_db: np.ndarray, frame_rate: float, floor_db: float = 60.0) -> np.ndarray:
    """Mean dB rise across mel bands over the loudest of the previous ~35 ms of frames.

    Comparing with the recent maximum (not just the previous frame) ignores the
    level ripple a low note's period leaves in short frames.
    """
    if mel_db.shape[0] == 0:
        return np.zeros(0)
    lag = max(1, round(0.035 * frame_rate))
    floor = mel_db.max() - floor_db
    level = np.maximum(mel_db, floor)
    padded = np.vstack([np.full((lag, level.shape[1]), floor, dtype=level.dtype), level])
    n = level.shape[0]
    reference = padded[lag - 1: lag - 1 + n]
    for k in range(2, lag + 1):
        reference = np.maximum(reference, padded[lag - k: lag - k + n])
    return np.maximum(0.0, level - reference).mean(axis=1)


def pick_onsets(strength: np.ndarray, frame_rate: float, energy_db: np.ndarray) -> np.ndarray:
    """Frame indices of onsets: local maxima above an adaptive threshold, >= 50 ms apart."""
    n = strength.size
    if n == 0:
        return np.zeros(0, dtype=int)
    radius = max(1, round(ONSET_MIN_GAP * frame_rate))
    padded = np.pad(strength, radius, mode="constant")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1)
    local_max = strength >= windows.max(axis=1)
    wide = max(radius * 4, 4)
    pad_w = np.pad(strength, wide, mode="edge")
    local_mean = np.lib.stride_tricks.sliding_window_view(pad_w, 2 * wide + 1).mean(axis=1)
    threshold = np.maximum(local_mean * 1.5, max(2.0, 0.12 * strength.max()))
    audible = energy_db > energy_db.max() - 50.0  # ignore wiggles in a fading tail
    idx = np.nonzero(local_max & (strength > threshold) & audible)[0]
    if idx.size < 2:
        return idx
    keep = [idx[0]]
    for i in idx[1:]:  # few onsets: a plain loop is fine here
        if i - keep[-1] >= radius:
            keep.append(i)
        elif strength[i] > strength[keep[-1]]:
            keep[-1] = i
    return np.asarray(keep)


def band_flux(power: np.ndarray, freqs: np.ndarray, n_bands: int = 8) -> np.ndarray:
    """Spectral flux in log-spaced bands, each band scaled to its own maximum, then averaged."""
    edges = np.geomspace(40.0, freqs[-1], n_bands + 1)
    edges[0] = 0.0
    idx = np.searchsorted(freqs, edges[:-1])
    bands = np.sqrt(np.add.reduceat(power, idx, axis=1).astype(np.float64))
    prev = np.vstack([np.zeros((1, bands.shape[1])), bands[:-1]])
    flux = np.maximum(0.0, bands - prev)
    flux /= flux.max(axis=0, keepdims=True) + 1e-12
    return flux.mean(axis=1)


def low_flux(power: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Energy flux below METRICAL_MAX_HZ (kicks, snares; hi-hats mostly above)."""
    low = power[:, freqs <= METRICAL_MAX_HZ].astype(np.float64)
    prev = np.vstack([np.zeros((1, low.shape[1])), low[:-1]])
    return np.sqrt(np.maximum(0.0, low - prev).sum(axis=1))


def band_hits(power: np.ndarray, freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Energy flux in ``lo``..``hi`` Hz."""
    band = power[:, (freqs >= lo) & (freqs < hi)].astype(np.float64)
    prev = np.vstack([np.zeros((1, band.shape[1])), band[:-1]])
    return np.sqrt(np.maximum(0.0, band - prev).sum(axis=1))


def backbeat_level(snare: np.ndarray, period: float, phase: float) -> str | None:
    """"slow", "fast" or None: where the snare band's backbeat puts the beat.

    ``period`` is the faster level's beat (the slower level's eighth note). With the grid
    counted 0, 1, 2, 3 per slower-level half bar, a backbeat at the slower tempo hits
    position 2 (its beats 2 and 4) and leaves the off-beats 1 and 3 quiet; at the faster
    tempo the snare sits on 1 and 3 (its own beats 2 and 4) rather than on 2.
    Syncopated kicks (the "and" of 3 in boom-bap and breaks) land on the off-beats too,
    which is why only the snare band is looked at.
    """
    g = _grid_strength(np.maximum(snare - np.median(snare), 0.0), period, phase)
    if g.size < 8:
        return None
    k = np.arange(g.size) % 4
    m1, m2, m3 = (float(g[k == j].mean()) for j in (1, 2, 3))
    if m2 > 0 and min(m1, m3) < BACKBEAT_RATIO * m2:
        return "slow"
    if min(m1, m3) > FAST_BACKBEAT_RATIO * m2 and min(m1, m3) > 0:
        return "fast"
    return None


def backbeat_is_a_drum(snare: np.ndarray, kick: np.ndarray, period: float,
                       phase: float) -> bool:
    """Whether the slower level's beats 2 and 4 (grid position 2) sound another instrument than
    its beats 1 and 3 (position 0): a kick on the downbeat, a snare on the backbeat. Chords
    struck on every beat sound the same there, and are no backbeat."""
    s = _grid_strength(np.maximum(snare - np.median(snare), 0.0), period, phase)
    k = _grid_strength(np.maximum(kick - np.median(kick), 0.0), period, phase)
    if s.size < 8 or k.size != s.size:
        return False
    pos = np.arange(s.size) % 4
    share = [float(k[pos == j].mean()) / (float(k[pos == j].mean() + s[pos == j].mean()) + 1e-12)
             for j in (0, 2)]
    return share[0] - share[1] >= BACKBEAT_KICK_CONTRAST


def even_eighths(hats: np.ndarray, period: float) -> bool:
    """Whether the hi-hat band ticks evenly on every eighth note of the beat ``period`` (in
    frames, the faster level's beat; the grid starts at frame 0, a trimmed loop's downbeat).

    A half-time groove at T (snare on 3) is, hit for hit, a backbeat at T/2, except for the
    hats: eighths at T are played alike, while sixteenths at T/2 fall into strong and weak
    (on- and off-beat) or are swung off the grid. Even eighths make T the beat.
    """
    g = _grid_strength(np.maximum(hats - np.median(hats), 0.0), period / 2.0, 0.0)
    if g.size < 16 or g.max() <= 0:
        return False
    # The eighths after the slower level's beat, each alike across the loop (its median):
    # sixteenths at T/2 differ between on- and off-beat ones, or are swung off the grid. The
    # eighth on that beat is left out: kicks and snares ring into the hats' band there.
    levels = [float(np.median(g[j::4])) for j in (1, 2, 3)]
    return min(levels) >= HAT_EVEN_RATIO * max(levels) and min(levels) >= HAT_PRESENT * float(g.max())


def autocorrelation(env: np.ndarray, circular: bool) -> np.ndarray:
    """Normalised autocorrelation (r[0] = 1); linear version is unbiased."""
    x = env - env.mean()
    n = x.size
    if circular:
        spec = np.fft.rfft(x)
        r = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, n)
    else:
        spec = np.fft.rfft(x, 2 * n)
        r = np.fft.irfft(spec.real ** 2 + spec.imag ** 2)[:n] / (n - np.arange(n))
    return r / r[0] if r[0] > 0 else np.zeros(n)


def _interp(r: np.ndarray, lags: np.ndarray, circular: bool) -> np.ndarray:
    """r at fractional lags (wrapping when circular, NaN past the end otherwise)."""
    n = r.size
    i = np.floor(lags).astype(int)
    f = lags - i
    if circular:
        return (1 - f) * r[i % n] + f * r[(i + 1) % n]
    ok = i + 1 < n
    out = np.full(lags.shape, np.nan)
    out[ok] = (1 - f[ok]) * r[i[ok]] + f[ok] * r[i[ok] + 1]
    return out


def periodicity_tempi(r: np.ndarray, frame_rate: float,
                      circular: bool) -> list[tuple[float, float, float]]:
    """Tempo candidates in range, best first: (bpm, score, correlation at the lag).

    A lag scores the mean autocorrelation at 1x, 2x and 4x itself; candidates are the
    local maxima of that score within 85 % of the best one.
    """
    lag_lo = frame_rate * 60.0 / BPM_MAX
    lag_hi = frame_rate * 60.0 / BPM_MIN
    if not circular and lag_hi * 2 >= r.size:
        return []
    lags = np.arange(lag_lo, lag_hi, 0.25)
    parts = np.stack([_interp(r, k * lags, circular) for k in (1, 2, 4)])
    # Mean over the multiples that fit in the window (1x always does).
    valid = np.isfinite(parts)
    score = np.where(valid, parts, 0.0).sum(axis=0) / np.maximum(valid.sum(axis=0), 1)
    score = np.where(valid[0], score, -np.inf)
    if not np.isfinite(score).any():
        return []
    best = float(score.max())
    is_peak = np.r_[True, score[1:] >= score[:-1]] & np.r_[score[:-1] >= score[1:], True]
    picks = [i for i in np.nonzero(is_peak)[0] if score[i] >= 0.85 * best] \
        if best > 0 else [int(np.argmax(score))]
    picks.sort(key=lambda i: -score[i])
    return [(60.0 * frame_rate / lags[i], float(score[i]), float(max(0.0, parts[0, i])))
            for i in picks]


def _grid_strength(env: np.ndarray, period: float, phase: float) -> np.ndarray:
    """Max of ``env`` within +-1 frame of each grid point phase + k*period."""
    n = env.size
    pos = phase + np.arange(int(n / period) + 1) * period
    # The last frame sits at the very end of the audio: a grid point there belongs to the
    # next repetition of a loop, not to this one.
    idx = np.rint(pos[pos < n - 1.5]).astype(int)
    return np.stack([env[np.clip(idx + d, 0, n - 1)] for d in (-1, 0, 1)]).max(axis=0)


def metrical_level(env: np.ndarray, frame_rate: float, tempo: float,
                   anchored: bool = False,
                   snare: np.ndarray | None = None,
                   kick: np.ndarray | None = None) -> tuple[float, float | None]:
    """Choose between the octave-related tempi in range; returns (tempo, evidence ratio).

    ``anchored``: the audio starts on a beat (a trimmed loop), so the grid starts at
    frame 0 (give or take two frames) instead of wherever the hits line up best -
    syncopated kicks can otherwise pull the grid off the beat.
    """
    family = [tempo * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)
              if BPM_MIN * 0.98 <= tempo * f <= BPM_MAX * 1.02]
    if not family:
        return tempo, None
    slow = min(family)
    fast = slow * 2.0
    if fast > BPM_MAX * 1.02:
        return slow, None
    period = frame_rate * 60.0 / fast
    if env.size < 4 * period:
        return slow, None
    # Sustained tones leave a floor of small level wiggles in every frame; only what rises
    # above the typical frame counts as a hit.
    env = np.maximum(env - np.median(env), 0.0)
    # Phase of the grid: the one whose points carry the most onset energy (all phases at once).
    phases = np.arange(0.0, period, 1.0)
    if anchored:
        phases = np.concatenate([phases[:3], phases[-2:]]) if phases.size > 5 else phases
    count = max(1, int((env.size - 1.5 - period) // period) + 1)
    idx = np.rint(phases[:, None] + np.arange(count)[None, :] * period).astype(int)
    n = env.size
    near = np.maximum(np.maximum(env[np.clip(idx - 1, 0, n - 1)], env[np.clip(idx, 0, n - 1)]),
                      env[np.clip(idx + 1, 0, n - 1)])
    phase = float(phases[int(np.argmax(near.mean(axis=1)))])
    if anchored and snare is not None:
        # A loop starts on beat 1, so the grid counts beats: a snare backbeat decides.
        grid_phase = phase - period if phase > period / 2 else phase
        level = backbeat_level(snare, period, grid_phase)
        if level == "slow" and slow < SLOW_BPM * 0.98 and (
                kick is None or not backbeat_is_a_drum(snare, kick, period, grid_phase)):
            level = None  # chords struck on 1 and 3 are no backbeat
        if level is not None:
            return (fast if level == "fast" else slow), None
    g = _grid_strength(env, period, phase)
    a, b = float(np.median(g[0::2])), float(np.median(g[1::2]))
    ratio = min(a, b) / max(a, b) if max(a, b) > 0 else 0.0
    if slow < SLOW_BPM * 0.98 and fast <= BPM_MAX:
        # Under 70 BPM only a snare backbeat (above) puts the beat: a chord loop or a pattern
        # without one at 60-70 reads as its double, as the octave range 70-180 always had it.
        return fast, ratio
    return (fast if ratio >= METRICAL_RATIO else slow), ratio


def snap_to_duration(tempo: float, duration: float) -> float | None:
    """``beats * 60 / duration`` nearest to ``tempo`` (within 2 %), favouring whole bars."""
    best: tuple[tuple[int, float], float] | None = None
    for beats in range(1, int(BPM_MAX * 1.03 * duration / 60.0) + 1):
        candidate = 60.0 * beats / duration
        error = abs(candidate - tempo) / tempo
        rank = 0 if beats % 4 == 0 else (1 if beats % 2 == 0 else 2)
        if error <= (SNAP_TOLERANCE if rank < 2 else SNAP_TOLERANCE / 2):
            key = (rank, error)
            if best is None or key < best[0]:
                best = (key, candidate)
    return best[1] if best else None


def _bars(bpm: float, duration: float) -> float:
    return bpm * duration / 240.0


def _whole(bars: float) -> bool:
    return bars >= 0.98 and abs(bars - round(bars)) <= SNAP_TOLERANCE * bars


def whole_bars(tempo: float, duration: float) -> float:
    """The octave of ``tempo`` at which a loop lasts whole 4/4 bars: a loop of one or three
    bars at T would be half a bar, or one and a half, at T/2 (half-time grooves at 120-180
    BPM are a backbeat at T/2 hit for hit; only their length can tell). Unchanged when both
    octaves, or neither, fit."""
    slower, faster = tempo / 2.0, tempo * 2.0
    if _whole(_bars(tempo, duration)):
        return tempo
    if faster <= BPM_MAX * 1.02 and _whole(_bars(faster, duration)):
        return faster
    if slower >= BPM_MIN * 0.98 and _whole(_bars(slower, duration)):
        return slower
    return tempo


@dataclass
class TempoResult:
    """A tempo estimate."""

    bpm: float
    confidence: float
    snapped: bool


def estimate_tempo(power: np.ndarray, freqs: np.ndarray, frame_rate: float, duration: float,
                   loop: bool, strength: np.ndarray) -> TempoResult | None:
    """Tempo of rhythmic material; ``loop=True`` assumes it repeats and may be snapped.

    ``strength`` is the onset strength of the same frames (:func:`onset_strength`).
    """
    if power.shape[0] < 8:
        return None
    r = autocorrelation(band_flux(power, freqs), circular=loop)
    candidates = periodicity_tempi(r, frame_rate, circular=loop)
    if not candidates:
        return None
    # Energy rises count as hits only where the level really jumps (>= ~1 dB across bands):
    # sustained chords wobble in energy without any new attack.
    gate = np.clip(strength / ONSET_GATE_DB, 0.0, 1.0)
    hits = low_flux(power, freqs) * gate
    snare = band_hits(power, freqs, *SNARE_BAND_HZ) * gate if loop else None
    kick = band_hits(power, freqs, 0.0, KICK_BAND_HZ) * gate if loop else None
    hats = band_hits(power, freqs, HAT_BAND_HZ, float(freqs[-1]) + 1.0) * gate if loop else None
    choice = None
    for tempo, _score, corr in candidates:
        tempo, _ratio = metrical_level(hits, frame_rate, tempo, anchored=loop, snare=snare,
                                       kick=kick)
        if (hats is not None and tempo * 2.0 <= BPM_MAX * 1.02
                and even_eighths(hats, frame_rate * 60.0 / (tempo * 2.0))):
            tempo *= 2.0  # a half-time groove: see even_eighths
        if loop:
            tempo = whole_bars(tempo, duration)
        snapped = snap_to_duration(tempo, duration) if loop else None
        if choice is None or (snapped is not None and not choice[2]):
            choice = (snapped if snapped is not None else tempo, corr, snapped is not None)
        if not loop or snapped is not None:
            break  # near-equal periodicities (even eighths): the one fitting the loop wins
    bpm, corr, is_snapped = choice
    confidence = max(0.0, min(1.0, corr)) * (1.0 if is_snapped else 0.7)
    return TempoResult(bpm=float(bpm), confidence=float(confidence), snapped=is_snapped)


PERIODICITY_MAX_BEATS = 4  # a pattern may repeat once a bar (chords struck on the one)


def periodicity(strength: np.ndarray, frame_rate: float) -> float:
    """How periodic the onset envelope is: linear autocorrelation peak (0..1) at lags from a
    beat at 180 BPM to a bar of four beats at 70 BPM (within half the sound)."""
    if strength.size < 8:
        return 0.0
    r = autocorrelation(strength, circular=False)
    lo = int(frame_rate * 60.0 / BPM_MAX)
    hi = min(r.size // 2, int(PERIODICITY_MAX_BEATS * frame_rate * 60.0 / BPM_MIN) + 1)
    if hi <= lo:
        return 0.0
    return float(max(0.0, r[lo:hi].max()))


def bpm_alternatives(bpm: float) -> list[float]:
    """Half and double tempo."""
    return [round(float(bpm) / 2.0, 2), round(float(bpm) * 2.0, 2)]


def inter_onset_regularity(onset_times: np.ndarray) -> float:
    """Coefficient of variation of inter-onset intervals (0 = perfectly regular; 0 if < 3 onsets)."""
    if onset_times.size < 3:
        return 0.0
    ioi = np.diff(onset_times)
    return float(np.std(ioi) / (np.mean(ioi) + 1e-9))


def to_bpm_confidence(value: float) -> float:
    """Clamp to 0..1 and round."""
    return round(max(0.0, min(1.0, value)), 3) if math.isfinite(value) else 0.0
