"""Bounded-memory analysis of long files: decode in blocks, accumulate, never hold the whole file.

Per ~10 s block (libsndfile ``blocks``; formats it cannot read are decoded by
Essentia straight to 11 025 Hz mono, which is small enough to hold):

- exact: audio hash (incremental), sample peak, EBU R128 loudness (K-filter
  state carried across blocks), waveform peak buckets, zero-crossing rate;
- sampled: spectral descriptors, MFCC and key chroma from the first
  ``EXCERPT_SECONDS`` of every block; a 100 ms RMS envelope;
- windowed: onsets, tempo and tonalness from ``RHYTHM_WINDOW_SECONDS`` taken
  from the middle of the file; the vector's "hit" features from that window's
  loudest moment.

Long material is never a loop (``type`` is "oneshot", i.e. "not a loop"); its
``bpm`` is reported when the middle window has a clear pulse, ``key`` when it
is tonal, ``note`` never.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from samplemind.analysis import spectral, tonal
from samplemind.analysis.decode import (
    AudioInfo,
    iter_blocks,
    new_audio_hash,
    update_audio_hash,
)
from samplemind.analysis.loudness import LoudnessMeter
from samplemind.errors import DecodeError

if TYPE_CHECKING:
    from samplemind.analysis.extract import Extractor

BLOCK_SECONDS = 10.0
EXCERPT_SECONDS = 2.0
FALLBACK_RATE = 11025  # containers libsndfile can't stream are decoded to mono at this rate
ENVELOPE_STEP = 0.1  # s


class Accumulator:
    """Running statistics over consecutive (frames, channels) float32 blocks."""

    def __init__(self, ex: Extractor, sample_rate: int, channels: int, total_frames: int, *,
                 buckets: int, window_seconds: float, channel_weight: float = 1.0) -> None:
        self.ex = ex
        self.sr = sample_rate
        self.total = max(1, total_frames)
        self.meter = LoudnessMeter(sample_rate, channels, ex.kbank, channel_weight)
        self.hash = new_audio_hash(sample_rate, channels)
        self.pos = 0
        self.buckets = max(1, min(buckets, self.total))
        self.edges = np.linspace(0, self.total, self.buckets + 1).astype(np.int64)
        self.mins = np.full(self.buckets, np.inf)
        self.maxs = np.full(self.buckets, -np.inf)
        self.crossings = 0
        self.last_sign: bool | None = None
        self.sum_sq = 0.0
        self.env_step = max(1, round(ENVELOPE_STEP * sample_rate))
        self.env: list[np.ndarray] = []
        self.env_carry = np.zeros(0, dtype=np.float32)
        self.n_fft, self.hop = spectral.stft_sizes(sample_rate)
        self.k_fft, self.k_hop = tonal.key_frame_sizes(sample_rate)
        # Frames quieter than -70 dBFS (full-scale sine reference) are silence.
        self.floor = 0.094 * self.n_fft ** 2 * 1e-7
        self.stats = spectral.FrameStats(mfcc=np.zeros(spectral.N_MFCC),
                                         mfcc_sq=np.zeros(spectral.N_MFCC), chroma=np.zeros(12))
        self.chroma = tonal.ChromaSums.empty()
        half = int(window_seconds * sample_rate / 2)
        mid = self.total // 2
        self.win_lo, self.win_hi = max(0, mid - half), min(self.total, mid + half)
        self.window = np.zeros(self.win_hi - self.win_lo, dtype=np.float32)

    def feed(self, block: np.ndarray) -> None:
        """Add the next block."""
        n = block.shape[0]
        if n == 0:
            return
        self.meter.feed(block)
        update_audio_hash(self.hash, block)
        mono = spectral.mono_mix(block)
        self._peaks(mono)
        signs = np.signbit(mono)
        self.crossings += int(np.count_nonzero(signs[1:] != signs[:-1]))
        if self.last_sign is not None and signs[0] != self.last_sign:
            self.crossings += 1
        self.last_sign = bool(signs[-1])
        self.sum_sq += float(np.dot(mono, mono))
        self._envelope(mono)
        excerpt = mono[: int(EXCERPT_SECONDS * self.sr)]
        if excerpt.size >= self.n_fft // 2:
            power = spectral.power_frames(excerpt, self.n_fft, self.n_fft // 2)
            stats, _ = spectral.frame_stats(power, self.sr, self.n_fft, floor_energy=self.floor)
            self.stats.add(stats)
        if excerpt.size >= self.k_fft:
            kpower = spectral.power_frames(excerpt, self.k_fft, self.k_hop, center=False)
            self.chroma.add(tonal.chroma_sums(kpower, self.sr, self.k_fft))
        lo, hi = max(self.pos, self.win_lo), min(self.pos + n, self.win_hi)
        if hi > lo:
            self.window[lo - self.win_lo: hi - self.win_lo] = mono[lo - self.pos: hi - self.pos]
        self.pos += n

    def _peaks(self, mono: np.ndarray) -> None:
        n = mono.size
        start, stop = self.pos, self.pos + n
        first = int(np.searchsorted(self.edges, start, side="right")) - 1
        last = int(np.searchsorted(self.edges, stop - 1, side="right")) - 1
        first = min(max(first, 0), self.buckets - 1)
        last = min(max(last, first), self.buckets - 1)  # samples past the header's count: last bucket
        local = np.clip(self.edges[first:last + 1] - start, 0, n)
        local[0] = 0
        lo = np.minimum.reduceat(mono, local)
        hi = np.maximum.reduceat(mono, local)
        self.mins[first:last + 1] = np.minimum(self.mins[first:last + 1], lo)
        self.maxs[first:last + 1] = np.maximum(self.maxs[first:last + 1], hi)

    def _envelope(self, mono: np.ndarray) -> None:
        data = np.concatenate([self.env_carry, mono]) if self.env_carry.size else mono
        full = data.size // self.env_step
        if full:
            chunk = data[: full * self.env_step].reshape(full, self.env_step)
            self.env.append(np.sqrt(np.mean(np.square(chunk, dtype=np.float64), axis=1)))
        self.env_carry = data[full * self.env_step:].copy()

    def peaks(self) -> list[float]:
        """The waveform overview (buckets never reached are 0)."""
        mins = np.where(np.isfinite(self.mins), self.mins, 0.0)
        maxs = np.where(np.isfinite(self.maxs), self.maxs, 0.0)
        return np.round(np.stack([mins, maxs], axis=1).ravel(), 4).tolist()

    def envelope(self, duration: float) -> spectral.Envelope:
        """Envelope descriptors at 100 ms resolution."""
        parts = self.env + ([np.sqrt([np.mean(np.square(self.env_carry, dtype=np.float64))])]
                            if self.env_carry.size else [])
        env = np.concatenate(parts) if parts else np.zeros(1)
        top = float(env.max())
        if top <= 0:
            return spectral.Envelope(0.0, 0.0, 0.5, 0.0, -120.0, 0.0, 0.0)
        dt = ENVELOPE_STEP
        attack = max(dt, (int(np.argmax(env >= 0.9 * top)) - int(np.argmax(env >= 0.2 * top)) + 1) * dt)
        i_peak = int(np.argmax(env))
        below = np.nonzero(env[i_peak:] < 0.1 * top)[0]
        decay = (below[0] if below.size else env.size - i_peak) * dt
        power = env ** 2
        t = (np.arange(env.size) + 0.5) * dt
        centroid = float(power @ t / power.sum()) / max(duration, 1e-9)
        rms = math.sqrt(self.sum_sq / max(1, self.pos))
        peak = max(float(np.max(np.abs(self.maxs[np.isfinite(self.maxs)]), initial=0.0)),
                   float(np.max(np.abs(self.mins[np.isfinite(self.mins)]), initial=0.0)))
        crest = 20.0 * math.log10(peak / rms) if rms > 0 and peak > 0 else 0.0
        end = 20.0 * math.log10(max(float(env[-1]), 1e-6 * top) / top)
        alive = np.nonzero(env >= 1e-3 * top)[0]
        return spectral.Envelope(attack, decay, min(1.0, centroid), crest, min(0.0, end),
                                 float(np.count_nonzero(env >= 0.1 * top)) / env.size,
                                 min(duration, (alive[-1] + 1) * dt if alive.size else 0.0),
                                 i_peak * dt)


def _blocks_from_array(mono: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, mono.size, size):
        yield mono[start:start + size, None]


def analyse_long(ex: Extractor, path: str, info: AudioInfo,
                 fallback_mono: np.ndarray | None = None) -> dict:
    """Analyse a long file in bounded memory; same record keys as the in-memory path.
    ``fallback_mono``: the file already decoded at FALLBACK_RATE (mono), when the caller has it."""
    from samplemind.analysis.extract import PEAK_BUCKETS, RHYTHM_WINDOW_SECONDS, build_record

    if info.streamable:
        sr, channels = info.sample_rate, info.channels
        total = info.frames or 0
        codec = info.codec
        sub = round(sr * 0.1)
        blocks = iter_blocks(path, blocksize=sub * int(BLOCK_SECONDS * 10))
    else:  # m4a/aac/wma/...: Essentia decodes straight to low-rate mono
        sr, channels = FALLBACK_RATE, 1
        mono = fallback_mono if fallback_mono is not None \
            else ex.decoder.decode_mono_resampled(path, FALLBACK_RATE)
        total = mono.size
        codec = None
        blocks = _blocks_from_array(mono, int(BLOCK_SECONDS * sr))
    # The low-rate fallback hears a mono downmix: weight it as the file's (correlated) channels.
    weight = 1.0 if info.streamable else float(max(1, info.channels))
    acc = Accumulator(ex, sr, channels, total, buckets=PEAK_BUCKETS,
                      window_seconds=RHYTHM_WINDOW_SECONDS, channel_weight=weight)
    for block in blocks:
        if not math.isfinite(float(np.sum(block, dtype=np.float64))):
            raise DecodeError("corrupt audio data (NaN or infinite sample values)")
        acc.feed(block)
    if acc.pos == 0:
        raise DecodeError("no audio samples decoded (truncated or corrupt)")
    duration = acc.pos / sr
    window = acc.window[: max(0, min(acc.pos, acc.win_hi) - acc.win_lo)]
    if window.size == 0:
        window = np.zeros(1, dtype=np.float32)
    rpower = spectral.power_frames(window, acc.n_fft, acc.hop)
    rmel = spectral.mel_db(rpower, sr, acc.n_fft)
    zcr = acc.crossings / max(1, acc.pos - 1)
    # The hit: the loudest moment of the middle window (held in memory anyway).
    hit = spectral.hit_features(window, sr, spectral.envelope_features(window, sr).peak_time)
    parts = ex.finish(window, sr, acc.stats, acc.envelope(duration), zcr, rpower, rmel, acc.hop,
                      window.size / sr, duration, key_sums=acc.chroma, hit=hit)
    report_sr = info.sample_rate if not info.streamable and info.sample_rate else sr
    report_ch = info.channels if not info.streamable and info.channels else channels
    return build_record(info, codec, report_sr, report_ch, acc.hash.hexdigest(), acc.meter,
                        parts, acc.peaks())
