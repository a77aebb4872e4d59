"""The 2D sound map: every sample's standardised vector projected onto a plane.

PCA (the two directions of largest variance) is deterministic, fast on a million
vectors (a 64x64 eigenproblem) and keeps the map stable as a library grows, which a
neighbourhood-preserving embedding (t-SNE, UMAP) would not, at the cost of a
dependency and minutes of compute. Coordinates are scaled into -1..1.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAP_FORMAT = 1


CHUNK = 131_072  # rows at a time: a million 99-number vectors in float64 would be 800 MB


@dataclass(frozen=True)
class Projection:
    """A fitted map: centre, the two axes, and the scale that puts the fit's samples in -1..1.
    Samples added later are placed with it (clipped to -1..1), so the map keeps its shape."""
    mean: np.ndarray
    axes: np.ndarray
    extent: np.ndarray

    def place(self, vectors: np.ndarray) -> np.ndarray:
        coords = (np.asarray(vectors, np.float64) - self.mean) @ self.axes / self.extent
        return np.clip(coords, -1, 1).astype(np.float32)


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates in -1..1 along the two main axes; signs fixed for stability."""
    data = np.asarray(vectors)
    return fit_streamed(len(data), lambda start, stop: data[start:stop])[0]


def fit_streamed(count: int, rows: Callable[[int, int], np.ndarray],
                 ) -> tuple[np.ndarray, Projection | None]:
    """pca_2d of `count` vectors read as rows(start, stop), a chunk at a time (memory stays a
    chunk's worth whatever the library's size): the coordinates and the fitted projection.
    Two passes: the sums and products, then the coordinates."""
    if count < 2:
        return np.zeros((count, 2), np.float32), None
    total = None
    products = None
    for start in range(0, count, CHUNK):
        part = np.asarray(rows(start, min(count, start + CHUNK)), np.float64)
        total = part.sum(axis=0) if total is None else total + part.sum(axis=0)
        products = part.T @ part if products is None else products + part.T @ part
    mean = total / count
    covariance = (products - count * np.outer(mean, mean)) / max(count - 1, 1)
    values, axes = np.linalg.eigh(covariance)
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
    extent = np.where(extent > 0, extent, 1.0)
    return (coords / extent).astype(np.float32), Projection(mean, axes, extent)


def load_cached(folder: Path, generation: int | None = None,
                ) -> tuple[int, np.ndarray, np.ndarray, Projection | None] | None:
    """(generation saved at, ids, coords, projection) of the saved map (of that generation,
    if given)."""
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
            projection = (Projection(data["mean"], data["axes"], data["extent"])
                          if "mean" in data.files else None)
            return at, data["ids"], data["coords"], projection
    except (OSError, ValueError, KeyError, IndexError):
        return None


def save_cached(folder: Path, generation: int, ids: np.ndarray, coords: np.ndarray,
                projection: Projection | None = None) -> None:
    """Save atomically; maps of older generations are removed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".map-{generation}-{os.getpid()}.npz"
        fitted = {} if projection is None else {"mean": projection.mean, "axes": projection.axes,
                                                "extent": projection.extent}
        with open(temp, "wb") as handle:
            np.savez(handle, format=MAP_FORMAT, ids=ids, coords=coords, **fitted)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, folder / f"map-{generation}.npz")
        for old in folder.glob("map-*.npz"):
            if old.name != f"map-{generation}.npz":
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache: a read-only home just computes the map each time
