"""Aspect vectors: the raw feature vector standardised across the library, block by block.

The extractor writes VECTOR_DIM raw numbers in five aspect blocks (timbre, spectral,
envelope, tonal, rhythm; see analysis/extract.py). Raw numbers have wildly different
scales (log Hz next to 0..1 shares), so each dimension is standardised with
library-wide statistics (mean, standard deviation) and clipped at CLIP deviations, so
one freak value cannot own a distance; each block is then divided by
the square root of its width. The squared L2 distance between two standardised vectors
is then the sum of the five per-aspect mean squared differences: every aspect counts
the same however many numbers it has, and aspect weights multiply those terms.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.layout import VECTOR_BLOCKS, VECTOR_DIM
from ..errors import UsageError

ASPECTS: tuple[str, ...] = tuple(VECTOR_BLOCKS)
# Names people type for an aspect.
ASPECT_ALIASES = {"pitch": "tonal", "key": "tonal", "harmony": "tonal", "spectrum": "spectral",
                  "shape": "envelope", "env": "envelope", "time": "rhythm", "groove": "rhythm",
                  "tone": "timbre", "colour": "timbre", "color": "timbre"}
# Standard deviations. Measured on 848 labelled drum samples (benchmarks/
# similarity_quality.py): std + clip 3 gave precision@5 0.81 where median/MAD gave 0.78
# (MAD blows up dimensions that are nearly constant, such as chroma of noisy hits).
CLIP = 3.0
STATS_SAMPLE = 200_000  # rows used to fit the statistics of a big library
# A small library says little about the spread of each number (two samples would make
# every difference one standard deviation), so its statistics are pooled with those of a
# reference set worth PRIOR_WEIGHT samples: the built-in demo pack's, shipped in
# reference_stats.json (made by scripts/reference_stats.py). Large libraries outweigh it.
PRIOR_WEIGHT = 64
REFERENCE_FILE = Path(__file__).with_name("reference_stats.json")


def reference_stats() -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, std) of the reference set, or None if missing or of another vector layout."""
    try:
        data = json.loads(REFERENCE_FILE.read_text())
        mean = np.asarray(data["mean"], np.float64)
        std = np.asarray(data["std"], np.float64)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if data.get("vector_dim") != VECTOR_DIM or mean.shape != (VECTOR_DIM,) or \
            std.shape != (VECTOR_DIM,):
        return None
    return mean, std


@dataclass
class Standardiser:
    """Per-dimension centre and scale, fitted on the library's raw vectors."""

    center: np.ndarray
    scale: np.ndarray
    count: int  # how many vectors the statistics were fitted on

    @classmethod
    def fit(cls, raw: np.ndarray, seed: int = 0, use_prior: bool = True) -> Standardiser:
        """Statistics of a (n, VECTOR_DIM) matrix (a sample of it when huge)."""
        data = np.asarray(raw, dtype=np.float64)
        if len(data) > STATS_SAMPLE:
            rows = np.random.default_rng(seed).choice(len(data), STATS_SAMPLE, replace=False)
            data = data[np.sort(rows)]
        if len(data) == 0:
            prior = reference_stats() if use_prior else None
            if prior is None:
                return cls(np.zeros(VECTOR_DIM, np.float32), np.ones(VECTOR_DIM, np.float32), 0)
            return cls(prior[0].astype(np.float32),
                       np.where(prior[1] > 1e-6, prior[1], 1.0).astype(np.float32), 0)
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        center = data.mean(axis=0)
        variance = data.var(axis=0)
        prior = reference_stats() if use_prior else None
        if prior is not None:
            n, n0 = float(len(data)), float(PRIOR_WEIGHT)
            ref_mean, ref_std = prior
            pooled = (n * center + n0 * ref_mean) / (n + n0)
            variance = (n * (variance + (center - pooled) ** 2)
                        + n0 * (ref_std ** 2 + (ref_mean - pooled) ** 2)) / (n + n0)
            center = pooled
        std = np.sqrt(variance)
        scale = np.where(std > 1e-6, std, 1.0)  # a constant dimension says nothing: keep it 0
        return cls(center.astype(np.float32), scale.astype(np.float32), len(raw))

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Standardised, clipped, block-scaled float32 rows (what the index stores)."""
        data = np.atleast_2d(np.asarray(raw, dtype=np.float32))
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        z = np.clip((data - self.center) / self.scale, -CLIP, CLIP)
        return (z * BLOCK_FACTOR).astype(np.float32)


def _block_factor() -> np.ndarray:
    factor = np.ones(VECTOR_DIM, dtype=np.float32)
    for start, end in VECTOR_BLOCKS.values():
        factor[start:end] = 1.0 / math.sqrt(end - start)
    return factor


BLOCK_FACTOR = _block_factor()


MAX_ASPECT_WEIGHT = 100.0
MAX_ASPECT_TERMS = 32  # six aspects; repeats beyond this are a mistake or an attack


def parse_aspects(text: str | Mapping[str, float] | None) -> dict[str, float] | None:
    """'timbre=2,pitch=0' -> weights for every aspect (unnamed ones stay 1); None = equal."""
    if text is None or text == "" or (isinstance(text, Mapping) and not text):
        return None
    items = list(text.items() if isinstance(text, Mapping) else _pairs(str(text)))
    if len(items) > MAX_ASPECT_TERMS:
        raise UsageError(f"too many aspect weights: {len(items)} (at most {MAX_ASPECT_TERMS})")
    weights = dict.fromkeys(ASPECTS, 1.0)
    for name, value in items:
        aspect = ASPECT_ALIASES.get(name.strip().lower(), name.strip().lower())
        if aspect not in weights:
            raise UsageError(f"unknown aspect {name!r}: use {', '.join(ASPECTS)} "
                             "(pitch means tonal)")
        try:
            weight = float(value)
        except (TypeError, ValueError, OverflowError):
            weight = math.nan
        # Bounded: the distances are float32, where 1e308 overflows and every hit is lost.
        if not math.isfinite(weight) or not 0 <= weight <= MAX_ASPECT_WEIGHT:
            raise UsageError(f"bad weight for {name}: {value!r} (a number from 0 to "
                             f"{MAX_ASPECT_WEIGHT:g})")
        weights[aspect] = weight
    if max(weights.values()) < 0.001:  # float32 would make their sum 0, every distance NaN
        raise UsageError("every aspect weight is 0: give at least one a weight of 0.001 or more")
    return None if all(w == 1.0 for w in weights.values()) else weights


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise UsageError(f"bad aspect weight {part.strip()!r}: write ASPECT=WEIGHT, "
                             "e.g. timbre=2,pitch=0")
        pairs.append((name, value))
    return pairs


def weight_vector(weights: Mapping[str, float] | None) -> np.ndarray:
    """Per-dimension multipliers for squared differences (all ones for equal weights)."""
    out = np.ones(VECTOR_DIM, dtype=np.float32)
    if weights:
        for aspect, (start, end) in VECTOR_BLOCKS.items():
            out[start:end] = weights.get(aspect, 1.0)
    return out


def aspect_distances(query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(n, aspects) per-aspect distances: root mean squared difference of standardised
    values within each block (0 = the same; about 1.4 = two typical unrelated sounds).

    Batches work too: rows (b, n, dim) against queries (b, 1, dim) give (b, n, aspects),
    the same numbers as b separate calls (similarity/neighbours.py relies on that)."""
    diff = np.atleast_2d(rows) - query
    out = np.empty((*diff.shape[:-1], len(ASPECTS)), dtype=np.float32)
    for column, (start, end) in enumerate(VECTOR_BLOCKS.values()):
        out[..., column] = np.sqrt(np.sum(diff[..., start:end] ** 2, axis=-1))
    return out


def combined_distance(per_aspect: np.ndarray, weights: Mapping[str, float] | None) -> np.ndarray:
    """The weighted root mean square of the per-aspect distances."""
    w = np.array([1.0 if not weights else weights.get(a, 1.0) for a in ASPECTS], np.float32)
    # A product and a sum over the last axis, not a BLAS matrix product: BLAS rounds
    # differently by matrix size, and a batch must give the numbers one query gives.
    return np.sqrt((np.atleast_2d(per_aspect) ** 2 * w).sum(axis=-1) / w.sum())


def score(distance: np.ndarray | float) -> np.ndarray | float:
    """Similarity in 0..1 (1 = the same sound) from a combined distance."""
    return 1.0 / (1.0 + np.asarray(distance)) if isinstance(distance, np.ndarray) \
        else 1.0 / (1.0 + distance)
