"""The 2D sound map: every sample's standardised vector projected onto a plane.

PCA (the two directions of largest variance) is deterministic, fast on a million
vectors (a 64x64 eigenproblem) and keeps the map stable as a library grows, which a
neighbourhood-preserving embedding (t-SNE, UMAP) would not, at the cost of a
dependency and minutes of compute. Coordinates are scaled into -1..1.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

MAP_FORMAT = 1


CHUNK = 65_536  # rows at a time: a million 99-number vectors in float64 would be 800 MB


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates in -1..1 along the two main axes; signs fixed for stability."""
    data = np.asarray(vectors)
    return pca_2d_streamed(len(data), lambda start, stop: data[start:stop])


def pca_2d_streamed(count: int, rows: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """pca_2d of `count` vectors read as rows(start, stop), a chunk at a time, so memory
    stays a chunk's worth whatever the library's size."""
    if count < 2:
        return np.zeros((count, 2), np.float32)
    total = None
    for start in range(0, count, CHUNK):
        part = np.asarray(rows(start, min(count, start + CHUNK)), np.float64).sum(axis=0)
        total = part if total is None else total + part
    mean = total / count
    covariance = None
    for start in range(0, count, CHUNK):
        centred = np.asarray(rows(start, min(count, start + CHUNK)), np.float64) - mean
        part = centred.T @ centred
        covariance = part if covariance is None else covariance + part
    values, axes = np.linalg.eigh(covariance / max(count - 1, 1))
    axes = axes[:, np.argsort(values)[::-1][:2]]
    # An eigenvector's sign is arbitrary: point each axis at its largest loading.
    for column in range(axes.shape[1]):
        if axes[np.argmax(np.abs(axes[:, column])), column] < 0:
            axes[:, column] *= -1
    coords = np.empty((count, 2), np.float64)
    for start in range(0, count, CHUNK):
        stop = min(count, start + CHUNK)
        coords[start:stop] = (np.asarray(rows(start, stop), np.float64) - mean) @ axes
    extent = np.abs(coords).max(axis=0)
    coords = coords / np.where(extent > 0, extent, 1.0)
    return coords.astype(np.float32)


def load_cached(folder: Path, generation: int | None = None,
                ) -> tuple[int, np.ndarray, np.ndarray] | None:
    """(generation saved at, ids, coords) of the saved map (of that generation, if given)."""
    if generation is None:
        saved = sorted(folder.glob("map-*.npz"), key=lambda p: p.stat().st_mtime)
        if not saved:
            return None
        path = saved[-1]
    else:
        path = folder / f"map-{generation}.npz"
    try:
        at = int(path.stem.split("-", 1)[1])
        with np.load(path) as data:
            if int(data["format"]) != MAP_FORMAT:
                return None
            return at, data["ids"], data["coords"]
    except (OSError, ValueError, KeyError, IndexError):
        return None


def save_cached(folder: Path, generation: int, ids: np.ndarray, coords: np.ndarray) -> None:
    """Save atomically; maps of older generations are removed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".map-{generation}-{os.getpid()}.npz"
        with open(temp, "wb") as handle:
            np.savez(handle, format=MAP_FORMAT, ids=ids, coords=coords)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, folder / f"map-{generation}.npz")
        for old in folder.glob("map-*.npz"):
            if old.name != f"map-{generation}.npz":
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache: a read-only home just computes the map each time
