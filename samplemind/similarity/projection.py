"""The 2D sound map: every sample's standardised vector projected onto a plane.

PCA (the two directions of largest variance) is deterministic, fast on a million
vectors (a 64x64 eigenproblem) and keeps the map stable as a library grows, which a
neighbourhood-preserving embedding (t-SNE, UMAP) would not, at the cost of a
dependency and minutes of compute. Coordinates are scaled into -1..1.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MAP_FORMAT = 1


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates in -1..1 along the two main axes; signs fixed for stability."""
    if len(vectors) == 0:
        return np.zeros((0, 2), np.float32)
    data = np.asarray(vectors, dtype=np.float64)
    centred = data - data.mean(axis=0)
    if len(data) < 2:
        return np.zeros((len(data), 2), np.float32)
    covariance = centred.T @ centred / max(len(data) - 1, 1)
    values, axes = np.linalg.eigh(covariance)
    axes = axes[:, np.argsort(values)[::-1][:2]]
    # An eigenvector's sign is arbitrary: point each axis at its largest loading.
    for column in range(axes.shape[1]):
        if axes[np.argmax(np.abs(axes[:, column])), column] < 0:
            axes[:, column] *= -1
    coords = centred @ axes
    extent = np.abs(coords).max(axis=0)
    coords = coords / np.where(extent > 0, extent, 1.0)
    return coords.astype(np.float32)


def load_cached(folder: Path, generation: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(ids, coords) saved for this catalog generation, if any."""
    path = folder / f"map-{generation}.npz"
    try:
        with np.load(path) as data:
            if int(data["format"]) != MAP_FORMAT:
                return None
            return data["ids"], data["coords"]
    except (OSError, ValueError, KeyError):
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
