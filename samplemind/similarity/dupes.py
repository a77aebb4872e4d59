"""Duplicate groups: which samples are the same sound, and which copy to keep.

Exact duplicates share the hash of their decoded audio (so a WAV and a FLAC of the
same sound are one group). Near duplicates are close in every aspect (combined
distance under a threshold) and of similar length: velocity layers, re-exports,
lossy copies. Groups are formed by joining close pairs (union-find).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import BadValue

DEFAULT_THRESHOLD = 0.20  # combined distance; chosen with benchmarks/similarity_quality.py (README)
MAX_THRESHOLD = 10  # the largest threshold asked for (the CLI's, the API's and Library's rule)
# check_threshold as JSON schema, for the query parameter that carries it.
THRESHOLD_SCHEMA = {"type": "number", "minimum": 0, "maximum": MAX_THRESHOLD,
                    "default": DEFAULT_THRESHOLD}
DURATION_RATIO = 0.85  # shorter / longer: a one-shot and a loop built from it are not dupes
NEIGHBOURS = 10  # candidates looked at per sample
LOSSLESS = {"wav", "flac", "aiff", "aif", "w64", "rf64", "bw64", "caf", "wv", "ape", "alac"}


class UnionFind:
    """Disjoint sets over arbitrary hashable items."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, item: Any) -> Any:
        parent = self.parent.setdefault(item, item)
        while parent != self.parent[parent]:
            self.parent[parent] = self.parent[self.parent[parent]]
            parent = self.parent[parent]
        self.parent[item] = parent
        return parent

    def union(self, a: Any, b: Any) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)

    def groups(self) -> list[list[Any]]:
        out: dict[Any, list[Any]] = {}
        for item in self.parent:
            out.setdefault(self.find(item), []).append(item)
        return [sorted(members) for members in out.values() if len(members) > 1]


def check_threshold(threshold: float) -> None:
    """The one rule for a near-duplicate threshold (THRESHOLD_SCHEMA says the same)."""
    if not 0 <= threshold <= MAX_THRESHOLD:  # NaN too
        raise BadValue("threshold", f"must be between 0 and {MAX_THRESHOLD:g} "
                                    f"(default {DEFAULT_THRESHOLD})")


def is_lossless(record: dict[str, Any]) -> bool:
    """Lossless container/codec (WAV, FLAC, AIFF, ...)."""
    codec = str(record.get("codec") or "").lower()
    if codec in ("mp3", "vorbis", "aac", "opus"):
        return False
    return str(record.get("format") or "").lower() in LOSSLESS


def keeper_rank(record: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key: the best copy sorts first (lossless, rate, depth, then short paths)."""
    path = str(record.get("path") or "")
    return (not is_lossless(record), -(record.get("sample_rate") or 0),
            -(record.get("bit_depth") or 0), len(path), path)


def choose_keeper(records: Sequence[dict[str, Any]]) -> tuple[int, str]:
    """Index of the record to keep and the reason, in words."""
    order = sorted(range(len(records)), key=lambda i: keeper_rank(records[i]))
    best, runner = records[order[0]], records[order[1]]
    if is_lossless(best) and not is_lossless(runner):
        reason = f"lossless ({best.get('format')}) over lossy ({runner.get('format')})"
    elif (best.get("sample_rate") or 0) != (runner.get("sample_rate") or 0):
        reason = f"higher sample rate ({best.get('sample_rate')} Hz)"
    elif (best.get("bit_depth") or 0) != (runner.get("bit_depth") or 0):
        reason = f"higher bit depth ({best.get('bit_depth')}-bit)"
    elif len(str(best.get("path"))) != len(str(runner.get("path"))):
        reason = "same quality; shortest path"
    else:
        reason = "same quality and path length; first by name"
    return order[0], reason


def near_pairs(ids: np.ndarray, neighbours: np.ndarray, distances: np.ndarray,
               durations: dict[int, float], threshold: float,
               ratio: float = DURATION_RATIO) -> Iterable[tuple[int, int, float]]:
    """Pairs (a, b, distance) of neighbours closer than threshold with similar lengths.

    neighbours/distances: (n, k) FAISS results for each id (combined distances).
    """
    for row, sample_id in enumerate(ids.tolist()):
        for other, distance in zip(neighbours[row].tolist(), distances[row].tolist()):
            if other < 0 or other == sample_id or distance > threshold:
                continue
            a, b = durations.get(sample_id) or 0.0, durations.get(other) or 0.0
            if a <= 0 or b <= 0 or min(a, b) / max(a, b) < ratio:
                continue
            yield sample_id, other, float(distance)


def relative_target(path: str, root: str | None, folder: str) -> str:
    """Where a moved duplicate goes: its path below its scan root, under folder."""
    if root and os.path.isdir(root):
        base = os.path.dirname(root.rstrip("/"))
        relative = os.path.relpath(path, base)
    else:
        relative = os.path.basename(path)
    if relative.startswith(".."):
        relative = os.path.basename(path)
    return os.path.join(folder, relative)
