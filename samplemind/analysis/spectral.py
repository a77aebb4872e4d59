"""Vectorised frame analysis: STFT, spectral shape, MFCC, chroma, envelope, waveform peaks.

No Python loop runs per frame: frames are a strided view, spectra one batched
``rfft``, and every descriptor is a reduction over the (frames, bins) matrix.
Per-frame values are pooled with energy weights so silent frames don't count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

N_MELS = 40
N_MFCC = 13  # coefficients 1..13 (c0 is level, which loudness already covers)
SILENCE_DB = 60.0  # frames this far below the loudest one are ignored
ROLLOFF = 0.85
BRIGHT_HZ = 1500.0  # "brightness": energy share above this
LOW_HZ = 150.0  # "low_energy_ratio": energy share below this
CHROMA_RANGE = (250.0, 5000.0)  # partials that resolve to a pitch class at the STFT size
MAX_DETAIL_FRAMES = 48  # frames used for the per-bin descriptors (roll-off, flatness)


def stft_sizes(sample_rate: int) -> tuple[int, int]:
    """(n_fft, hop): ~46 ms frames, ~11.6 ms hop, powers of two for any rate."""
    n_fft = 1 << max(8, round(math.log2(0.0464 * sample_rate)))
    return n_fft, n_fft // 4


@lru_cache(maxsize=64)
def hann(n: int) -> np.ndarray:
    """Cached float32 Hann window."""
    return np.hanning(n).astype(np.float32)


_FFT_BATCH = 512  # frames per rfft call: bounds temporaries on long signals


def power_frames(x: np.ndarray, n_fft: int, hop: int, max_frames: int | None = None,
                 center: bool = True) -> np.ndarray:
    """Power spectra (frames, n_fft//2+1) of Hann-windowed frames; frame i is centred at i*hop.

    ``max_frames`` keeps that many frames, evenly spread, when there are more.
    """
    half = n_fft // 2 if center else 0
    size = x.size
    n = 1 + max(0, size + 2 * half - n_fft) // hop
    index = np.arange(n)
    if max_frames is not None and n > max_frames:
        index = np.linspace(0, n - 1, max_frames).astype(int)
    starts = index * hop - half
    # Interior frames are views into x; only frames hanging over an edge get a padded copy
    # (padding the whole signal would copy all of it).
    inside = (starts >= 0) & (starts + n_fft <= size)
    view = np.lib.stride_tricks.sliding_window_view(x, n_fft) if size >= n_fft else None
    window = hann(n_fft)
    out = np.empty((index.size, n_fft // 2 + 1), dtype=np.float32)
    for lo in range(0, index.size, _FFT_BATCH):
        sel = slice(lo, lo + _FFT_BATCH)
        frames = np.empty((len(index[sel]), n_fft), dtype=np.float32)
        ok = inside[sel]
        if ok.any():
            frames[ok] = view[starts[sel][ok]]
        for row in np.nonzero(~ok)[0]:
            begin = starts[sel][row]
            frame = np.zeros(n_fft, dtype=np.float32)
            a, b = max(0, begin), min(size, begin + n_fft)
            if b > a:
                frame[a - begin: b - begin] = x[a:b]
            frames[row] = frame
        frames *= window
        spec = np.fft.rfft(frames, axis=1)
        out[sel] = spec.real ** 2 + spec.imag ** 2
    return out


def mono_mix(audio: np.ndarray) -> np.ndarray:
    """Average of the channels as float32 (column adds: much faster than a strided mean)."""
    channels = audio.shape[1]
    if channels == 1:
        return np.ascontiguousarray(audio[:, 0])
    total = audio[:, 0] + audio[:, 1]
    for ch in range(2, channels):
        total += audio[:, ch]
    total *= np.float32(1.0 / channels)
    return total


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_matrix(sample_rate: int, n_fft: int) -> np.ndarray:
    """Triangular mel filterbank (bins, N_MELS), 20 Hz .. min(16 kHz, Nyquist)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    top = min(16000.0, sample_rate / 2.0)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(20.0)), _hz_to_mel(np.array(top)),
                                   N_MELS + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    down = (upper - freqs[None, :]) / np.maximum(upper - centre, 1e-9)
    weights = np.maximum(0.0, np.minimum(up, down))
    # Narrow low bands may fall between bins: give each band at least its nearest bin.
    empty = weights.sum(axis=1) == 0
    weights[empty, np.abs(freqs[None, :] - centre[empty]).argmin(axis=1)] = 1.0
    return np.ascontiguousarray(weights.T.astype(np.float32))


@lru_cache(maxsize=4)
def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II rows 1..n_out (skipping c0), shape (n_in, n_out)."""
    k = np.arange(1, n_out + 1)[None, :]
    n = np.arange(n_in)[:, None]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    return basis.astype(np.float32)


@lru_cache(maxsize=16)
def chroma_matrix(sample_rate: int, n_fft: int) -> np.ndarray:
    """Bins -> 12 pitch classes (C=0), triangular over one semitone, within CHROMA_RANGE."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    out = np.zeros((freqs.size, 12), dtype=np.float32)
    ok = (freqs >= CHROMA_RANGE[0]) & (freqs <= CHROMA_RANGE[1])
    midi = 69.0 + 12.0 * np.log2(freqs[ok] / 440.0)
    idx = np.nonzero(ok)[0]
    for offset in (0, 1):  # spread each bin over the two nearest pitch classes
        pc = np.floor(midi).astype(int) + offset
        out[idx, pc % 12] += np.maximum(0.0, 1.0 - np.abs(midi - pc)).astype(np.float32)
    return out


# The scalar descriptors FrameStats sums, each weighted by its frames' energy. log_centroid
# is in log2 Hz: with its square, how much the colour moves over time.
SCALAR_SUMS = ("centroid", "log_centroid", "log_centroid_sq", "bandwidth", "rolloff",
               "flatness", "brightness", "low_ratio", "contrast")
ARRAY_SUMS = ("mfcc", "mfcc_sq", "chroma")


@dataclass
class FrameStats:
    """Energy-weighted pooled frame descriptors (sums, so blocks can be merged): the total
    weight, the scalar sums by name (SCALAR_SUMS) and the MFCCs, their squares and chroma."""

    weight: float = 0.0
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SCALAR_SUMS, 0.0))
    mfcc: np.ndarray | None = None
    mfcc_sq: np.ndarray | None = None
    chroma: np.ndarray | None = None

    def add(self, other: FrameStats) -> None:
        """Merge another block's sums into this one."""
        self.weight += other.weight
        for name in SCALAR_SUMS:
            self.sums[name] += other.sums[name]
        for name in ARRAY_SUMS:
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs.copy() if mine is None else mine + theirs)

    def mean(self, name: str) -> float:
        """Weighted mean of a scalar descriptor."""
        return self.sums[name] / self.weight if self.weight > 0 else 0.0


def mel_db(power: np.ndarray, sample_rate: int, n_fft: int) -> np.ndarray:
    """Log-mel energies (frames, N_MELS) in dB."""
    return 10.0 * np.log10(power @ mel_matrix(sample_rate, n_fft) + np.float32(1e-10))


@lru_cache(maxsize=16)
def _projection(sample_rate: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """One matrix for all linear spectral sums: [1, f, f^2, f>BRIGHT, f<LOW, mel..., chroma...]."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    cols = [np.ones_like(freqs), freqs, freqs ** 2, (freqs > BRIGHT_HZ).astype(float),
            (freqs < LOW_HZ).astype(float)]
    matrix = np.column_stack(cols + [mel_matrix(sample_rate, n_fft),
                                     chroma_matrix(sample_rate, n_fft)])
    return np.ascontiguousarray(matrix.astype(np.float32)), freqs.astype(np.float32)


def frame_stats(power: np.ndarray, sample_rate: int, n_fft: int,
                floor_energy: float | None = None) -> tuple[FrameStats, np.ndarray]:
    """Pool spectral descriptors over frames; returns (sums, per-frame log-mel energies in dB)."""
    matrix, freqs = _projection(sample_rate, n_fft)
    sums = power @ matrix
    energy = sums[:, 0].astype(np.float64)
    levels = 10.0 * np.log10(sums[:, 5:5 + N_MELS] + np.float32(1e-10))  # log-mel, dB
    stats = FrameStats(mfcc=np.zeros(N_MFCC), mfcc_sq=np.zeros(N_MFCC), chroma=np.zeros(12))
    top = float(energy.max()) if energy.size else 0.0
    if top <= 0.0:
        return stats, levels
    floor = top * 10.0 ** (-SILENCE_DB / 10.0) if floor_energy is None else floor_energy
    active = energy > floor
    if not active.any():
        return stats, levels
    if not active.all():
        power, sums, energy = power[active], sums[active], energy[active]
        mdb = levels[active]
    else:
        mdb = levels
    e = np.maximum(energy, 1e-30)
    w = energy  # energy weights: the loud part of a sound defines its colour
    centroid = sums[:, 1] / e
    spread = np.sqrt(np.maximum(0.0, sums[:, 2] / e - centroid ** 2))
    # Roll-off and flatness need every bin of every frame: an even subset of frames is
    # plenty for a weighted mean (re-weighted so the pooled sum keeps its scale).
    sub = np.linspace(0, power.shape[0] - 1, min(power.shape[0], MAX_DETAIL_FRAMES)).astype(int)
    ps, es, ws = power[sub], e[sub], w[sub]
    scale = float(w.sum() / ws.sum()) if ws.sum() > 0 else 0.0
    cum = np.cumsum(ps, axis=1)
    rolloff = freqs[np.minimum((cum < ROLLOFF * es[:, None]).sum(axis=1), freqs.size - 1)]
    body = ps[:, 1:]
    flatness = np.exp(np.log(body + np.float32(1e-12)).mean(axis=1, dtype=np.float64)) \
        / (body.mean(axis=1, dtype=np.float64) + 1e-12)
    brightness = sums[:, 3] / e
    low_ratio = sums[:, 4] / e
    # Spectral contrast: loudest vs quietest mel bands, dB (high for tonal/sparse spectra).
    ranked = np.sort(mdb, axis=1)
    contrast = ranked[:, -4:].mean(axis=1) - ranked[:, :4].mean(axis=1)
    mfcc = (mdb @ dct_matrix(N_MELS, N_MFCC)).astype(np.float64)
    chroma = sums[:, 5 + N_MELS:].astype(np.float64)
    chroma /= chroma.sum(axis=1, keepdims=True) + 1e-12
    log_c = np.log2(np.maximum(centroid, 1.0))
    stats.weight = float(w.sum())
    stats.sums.update(
        centroid=float(w @ centroid), log_centroid=float(w @ log_c),
        log_centroid_sq=float(w @ log_c ** 2), bandwidth=float(w @ spread),
        rolloff=float(ws @ rolloff) * scale, flatness=float(ws @ flatness) * scale,
        brightness=float(w @ brightness), low_ratio=float(w @ low_ratio),
        contrast=float(w @ contrast))
    stats.mfcc = w @ mfcc
    stats.mfcc_sq = w @ mfcc ** 2
    stats.chroma = w @ chroma
    return stats, levels


def waveform_peaks(mono: np.ndarray, buckets: int = 256) -> list[float]:
    """(min, max) interleaved over ``buckets`` equal slices, rounded to 4 decimals."""
    n = mono.size
    buckets = max(1, min(buckets, n))
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)[:-1]
    lo = np.minimum.reduceat(mono, edges)
    hi = np.maximum.reduceat(mono, edges)
    return np.round(np.stack([lo, hi], axis=1).ravel().astype(np.float64), 4).tolist()


def zero_crossing_rate(mono: np.ndarray, chunk: int = 1 << 20) -> float:
    """Fraction of adjacent sample pairs whose sign differs (in chunks: bounded memory)."""
    if mono.size < 2:
        return 0.0
    crossings = 0
    for lo in range(0, mono.size - 1, chunk):
        s = np.signbit(mono[lo: lo + chunk + 1])
        crossings += int(np.count_nonzero(s[1:] != s[:-1]))
    return crossings / (mono.size - 1)


@dataclass
class Envelope:
    """Amplitude-envelope descriptors of a whole sound."""

    attack_time: float
    decay_time: float
    temporal_centroid: float  # 0..1, share of the duration
    crest_db: float
    end_level_db: float  # loudest ~3 ms of the last ~46 ms relative to the loudest 23 ms, dB
    sustain: float  # share of the duration within 20 dB of the peak
    active_duration: float  # seconds until the sound falls 60 dB below its peak for good
    peak_time: float = 0.0  # seconds, loudest ~23 ms


def envelope_features(mono: np.ndarray, sample_rate: int) -> Envelope:
    """Attack/decay/shape from a fine (~2.9 ms) and a coarse (~23 ms) RMS envelope."""
    fine_block = max(1, round(sample_rate * 0.0029))
    n = mono.size
    if n == 0:
        return Envelope(0.0, 0.0, 0.5, 0.0, -120.0, 0.0, 0.0)
    full = n // fine_block
    blocks = mono[: full * fine_block].reshape(full, fine_block)
    fine_ms = np.einsum("ij,ij->i", blocks, blocks, dtype=np.float64) / fine_block
    if n > full * fine_block:
        rest = mono[full * fine_block:].astype(np.float64)
        fine_ms = np.append(fine_ms, float(rest @ rest) / rest.size)
    # Coarse envelope from the fine one: groups of 8 fine blocks (the last may be short).
    groups = -(-fine_ms.size // 8)
    padded = np.zeros(groups * 8, dtype=np.float64)
    padded[: fine_ms.size] = fine_ms
    counts = np.full(groups, 8.0)
    counts[-1] = fine_ms.size - (groups - 1) * 8
    coarse = np.sqrt(padded.reshape(groups, 8).sum(axis=1) / counts)
    fine = np.sqrt(fine_ms)
    duration = n / sample_rate
    top = float(coarse.max())
    if top <= 0.0:
        return Envelope(0.0, 0.0, 0.5, 0.0, -120.0, 0.0, 0.0)
    dt_fine = fine_block / sample_rate
    dt_coarse = 8 * dt_fine
    fine_top = float(fine.max())
    i_lo = int(np.argmax(fine >= 0.2 * fine_top))
    i_hi = int(np.argmax(fine >= 0.9 * fine_top))
    attack = max(dt_fine, (i_hi - i_lo + 1) * dt_fine)
    i_peak = int(np.argmax(coarse))
    below = np.nonzero(coarse[i_peak:] < top * 0.1)[0]  # 20 dB under the peak
    decay = (below[0] if below.size else coarse.size - i_peak) * dt_coarse
    power = coarse ** 2
    t = (np.arange(coarse.size) + 0.5) * dt_coarse
    centroid = float((power @ t) / power.sum()) / max(duration, 1e-9)
    rms = math.sqrt(float(fine_ms[:full].sum() * fine_block
                          + (fine_ms[full] * (n - full * fine_block) if n > full * fine_block
                             else 0.0)) / n)
    peak = max(float(mono.max()), -float(mono.min()))
    crest = 20.0 * math.log10(peak / rms) if rms > 0 else 0.0
    tail = fine[-max(1, round(0.046 / dt_fine)):]
    end_level = 20.0 * math.log10(max(float(tail.max()), 1e-6 * top) / top)
    sustain = float(np.count_nonzero(coarse >= 0.1 * top)) / coarse.size
    alive = np.nonzero(coarse >= 1e-3 * top)[0]
    active = (alive[-1] + 1) * dt_coarse if alive.size else 0.0
    return Envelope(attack, decay, min(1.0, centroid), crest, min(0.0, end_level), sustain,
                    min(active, duration), i_peak * dt_coarse)


# -- the hit: how the loudest moment's spectrum evolves --------------------------------------

# Stages after the loudest frame, seconds: attack (transient), body, tail. What separates a
# kick from a tom or a clap from a snare is less the average spectrum than how it changes.
HIT_STAGES = ((-0.01, 0.03), (0.03, 0.12), (0.12, 0.5))
HIT_CEPSTRA = 8  # cepstral coefficients 1..8 of each stage's mel spectrum
HIT_LOW_HZ = (25.0, 600.0)  # where a drum's body resonance (its pitch) lies
HIT_BANDS_HZ = (150.0, 800.0, 4000.0)  # edges of the 4 bands whose decay is measured
HIT_DECAY_TIMES = (0.03, 0.1, 0.3)  # s after each band's own peak
HIT_FLOOR_DB = -90.0
HIT_PEAK_SPAN = 7  # bins either side: the local mean a spectral peak is measured against
HIT_MAX_SALIENCE_DB = 80.0  # bounds a partial's salience over digital silence
HIT_HOP_DIV = 4  # hop = n_fft / 4: ~11.6 ms
HIT_DIM = 3 * HIT_CEPSTRA + 3 + 4 * len(HIT_DECAY_TIMES) + 3 + 3 + 3


@dataclass
class Hit:
    """How the loudest moment of a sound evolves: per-stage colour, decay, resonance."""

    cepstra: np.ndarray  # (3 * HIT_CEPSTRA,) attack, body, tail: MFCC 1..8 of each stage
    low_centroid: np.ndarray  # (3,) log2 Hz, centroid of 25-600 Hz per stage
    band_decay: np.ndarray  # (4 * 3,) dB relative to the band's peak, 30/100/300 ms after it
    low_peak: np.ndarray  # (3,) log2 Hz of the strongest 25-600 Hz partial per stage
    low_salience: np.ndarray  # (3,) dB of that partial over the band's median
    salience: np.ndarray  # (3,) body: 99th pct peak excess (dB), mean excess (dB), energy share
    # of bins 6 dB over their neighbourhood (partials vs noise)

    @classmethod
    def empty(cls) -> Hit:
        return cls(np.zeros(3 * HIT_CEPSTRA), np.full(3, math.log2(HIT_LOW_HZ[0])),
                   np.full(4 * len(HIT_DECAY_TIMES), HIT_FLOOR_DB),
                   np.full(3, math.log2(HIT_LOW_HZ[0])), np.zeros(3), np.zeros(3))


@lru_cache(maxsize=16)
def _band_matrix(sample_rate: int, n_fft: int) -> np.ndarray:
    """Bins -> the 4 decay bands (split at HIT_BANDS_HZ)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    band = np.searchsorted(np.array(HIT_BANDS_HZ), freqs, side="right")
    return (band[:, None] == np.arange(len(HIT_BANDS_HZ) + 1)[None, :]).astype(np.float64)


def hit_features(mono: np.ndarray, sample_rate: int, peak_time: float) -> Hit:
    """Stage spectra of the ~0.55 s from just before ``peak_time``: ~46 ms frames, ~12 ms hop."""
    n_fft = stft_sizes(sample_rate)[0]
    hop = n_fft // HIT_HOP_DIV
    dt = hop / sample_rate
    lo = max(0, int((peak_time - 0.03) * sample_rate))
    hi = min(mono.size, int((peak_time + 0.03 + HIT_STAGES[-1][1]) * sample_rate) + n_fft // 2)
    if hi <= lo or not np.any(mono[lo:hi]):
        return Hit.empty()
    power = power_frames(mono[lo:hi], n_fft, hop).astype(np.float64)
    energy = power.sum(axis=1)
    peak = int(np.argmax(energy))
    t = (np.arange(energy.size) - peak) * dt
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    low = (freqs >= HIT_LOW_HZ[0]) & (freqs <= HIT_LOW_HZ[1])
    low_f = freqs[low]
    stage_power = np.empty((len(HIT_STAGES), freqs.size))
    for row, (a, b) in enumerate(HIT_STAGES):
        sel = (t >= a) & (t < b)
        if not sel.any() or energy[sel].sum() <= 0:  # past the end: the last frame stands in
            sel = np.zeros(energy.size, bool)
            sel[min(energy.size - 1, peak + max(0, round(a / dt)))] = True
        stage_power[row] = power[sel].sum(axis=0)
    mel = stage_power @ mel_matrix(sample_rate, n_fft).astype(np.float64) + 1e-12
    mel_norm = 10.0 * np.log10(mel / mel.sum(axis=1, keepdims=True))
    cepstra = mel_norm @ dct_matrix(N_MELS, HIT_CEPSTRA).astype(np.float64)
    lows = stage_power[:, low] + 1e-20
    low_centroid = np.log2((lows @ low_f) / lows.sum(axis=1))
    k = lows.argmax(axis=1)
    low_median = np.median(lows, axis=1)
    low_peak = np.empty(3)
    low_salience = np.empty(3)
    step = low_f[1] - low_f[0] if low_f.size > 1 else 0.0
    for row in range(3):
        i = int(k[row])
        shift = 0.0
        if 0 < i < lows.shape[1] - 1:  # parabolic interpolation on log power
            y0, y1, y2 = np.log(lows[row, i - 1: i + 2])
            curve = y0 - 2.0 * y1 + y2
            shift = 0.5 * (y0 - y2) / curve if curve < 0 else 0.0
        low_peak[row] = math.log2(max(HIT_LOW_HZ[0], low_f[i] + shift * step)) if low_f.size \
            else math.log2(HIT_LOW_HZ[0])
        low_salience[row] = min(HIT_MAX_SALIENCE_DB,
                                10.0 * math.log10(lows[row, i] / float(low_median[row])))
    # Band decay: each band's level at fixed times after its own peak.
    bands = power @ _band_matrix(sample_rate, n_fft) + 1e-20
    band_db = 10.0 * np.log10(bands / bands.max(axis=0))
    band_peak = bands.argmax(axis=0)
    decay = []
    for band in range(bands.shape[1]):
        for seconds in HIT_DECAY_TIMES:
            i = int(band_peak[band]) + round(seconds / dt)
            decay.append(max(HIT_FLOOR_DB, float(band_db[i, band]))
                         if i < energy.size and bands[band_peak[band], band] > 1e-20
                         else HIT_FLOOR_DB)  # past the end, or a band above Nyquist
    # Salience of partials in the body: each bin's level over the mean level around it.
    sel = (t >= 0.02) & (t < 0.2)
    body = (power[sel].mean(axis=0) if sel.any() else power.mean(axis=0)) + 1e-20
    level = 10.0 * np.log10(body)
    span = HIT_PEAK_SPAN
    padded = np.concatenate([np.full(span, level[0]), level, np.full(span, level[-1])])
    cum = np.concatenate([[0.0], np.cumsum(padded)])
    local = (cum[2 * span + 1:] - cum[: -2 * span - 1]) / (2 * span + 1)
    band = (freqs > 50.0) & (freqs < 8000.0)
    excess = (level - local)[band]
    top = min(excess.size - 1, round(0.99 * (excess.size - 1))) if excess.size else 0
    salience = np.array([float(np.partition(excess, top)[top]), float(np.maximum(excess, 0).mean()),
                         float(body[band][excess > 6.0].sum() / body[band].sum())]) \
        if excess.size else np.zeros(3)
    return Hit(cepstra.ravel(), low_centroid, np.array(decay), low_peak, low_salience, salience)
