"""Levels of detail for the sound map: a million points without a million points on the wire.

Level L cuts the map's square (-1..1 on both axes) into 2^L x 2^L cells; cell (cx, cy) of a
point is floor((v + 1) / 2 * 2^L) on each axis (the last cell takes v = 1). Every sample falls
in exactly one cell at every level, so a view made of whole cells counts every sample of the
query in it exactly once: as a bin (count, centroid, main category, one sample to play) or, when
few samples are in view or a cell holds one, as points.

`MapLayout` keeps the samples sorted by their cell of the finest level in Z order (bits of cx
and cy interleaved): the samples of a cell at any coarser level are then one contiguous run, so
binning at any level is a single pass over the query's samples, not a sort.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_LEVEL = 12  # 4096 x 4096 cells: finer than any screen shows
DEFAULT_POINTS = 20_000  # up to this many samples in view, the answer is the points themselves
MAX_POINTS = 100_000
MAX_CELLS = 100_000  # a view never sends more bins than this (the level is lowered)
BIN_FIELDS = ("cx", "cy", "count", "x", "y", "category", "share", "id")
ANSWERS_KEPT = 64
NONE = "none"  # the category name of samples without one


def _spread(values: np.ndarray) -> np.ndarray:
    """Bits 0..15 of each value moved to the even bits 0..30 (Morton interleaving)."""
    v = values.astype(np.uint32) & 0xFFFF
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    v = (v | (v << 1)) & 0x55555555
    return v


def grid(values: np.ndarray, level: int) -> np.ndarray:
    """The cell index along one axis at a level (documented in the module docstring)."""
    size = 1 << level
    cells = np.floor((np.asarray(values, np.float64) + 1.0) / 2.0 * size)
    return np.clip(cells, 0, size - 1).astype(np.int64)


@dataclass(frozen=True)
class Rect:
    """A region of the map, in map coordinates (y up)."""
    x0: float = -1.0
    y0: float = -1.0
    x1: float = 1.0
    y1: float = 1.0


class MapLayout:
    """Every mapped sample of one catalog generation, ordered for binning."""

    def __init__(self, ids: np.ndarray, coords: np.ndarray, category_of: np.ndarray,
                 categories: Sequence[str]) -> None:
        """ids (n,), coords (n, 2) in -1..1, category_of (n,) indexes into categories."""
        gx = grid(coords[:, 0], MAX_LEVEL)
        gy = grid(coords[:, 1], MAX_LEVEL)
        code = _spread(gx) | (_spread(gy) << 1)
        order = np.argsort(code, kind="stable")
        self.ids = np.ascontiguousarray(ids[order], np.int64)
        self.x = np.ascontiguousarray(coords[order, 0], np.float32)
        self.y = np.ascontiguousarray(coords[order, 1], np.float32)
        self.gx = gx[order].astype(np.uint16)
        self.gy = gy[order].astype(np.uint16)
        self.code = code[order]
        self.category = np.ascontiguousarray(category_of[order], np.uint16)
        self.categories = list(categories)
        self._by_id = np.argsort(self.ids, kind="stable")  # positions in id order
        self._answers: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()
        self._answers_lock = threading.Lock()

    def with_categories(self, ids: np.ndarray, names: Sequence[str]) -> MapLayout:
        """A copy where the given ids (on the map) now have these category names: what a
        correction or a re-analysis changed, without sorting the map again."""
        copy = object.__new__(MapLayout)
        copy.__dict__.update(self.__dict__)
        copy.categories = list(self.categories)
        codes = {name: at for at, name in enumerate(copy.categories)}
        copy.category = self.category.copy()
        at = self.positions(np.asarray(ids, np.int64))
        found = set(self.ids[at].tolist())
        for position, name in zip(at.tolist(), (n for i, n in zip(ids, names) if i in found)):
            if name not in codes:
                codes[name] = len(copy.categories)
                copy.categories.append(name)
            copy.category[position] = codes[name]
        copy._answers = OrderedDict()
        copy._answers_lock = threading.Lock()
        return copy

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, ids: np.ndarray | None) -> np.ndarray | None:
        """Layout positions of the given ids (ids not on the map are left out); None = all."""
        if ids is None:
            return None
        ids = np.asarray(ids, np.int64)
        sorted_ids = self.ids[self._by_id]
        at = np.searchsorted(sorted_ids, ids)
        at = np.minimum(at, max(len(sorted_ids) - 1, 0))
        if len(sorted_ids) == 0:
            return np.zeros(0, np.int64)
        found = sorted_ids[at] == ids
        return self._by_id[at[found]]

    def _mask(self, allowed: np.ndarray | None) -> np.ndarray:
        if allowed is None:
            return np.ones(len(self.ids), bool)
        mask = np.zeros(len(self.ids), bool)
        mask[self.positions(allowed)] = True
        return mask

    def view(self, allowed: np.ndarray | None = None, *, level: int | None = None,
             rect: Rect | None = None, points: int = DEFAULT_POINTS) -> dict[str, Any]:
        """The map of the allowed ids (None: every sample) in whole cells of the level that
        touch rect: points when at most `points` samples are in view, else bins (a bin of one
        sample is a point). Also the legend and the extent of the whole query."""
        mask = self._mask(allowed)
        total = int(mask.sum())
        counts = np.bincount(self.category[mask], minlength=len(self.categories))
        legend = [{"category": name, "count": int(count)}
                  for name, count in zip(self.categories, counts) if count]
        legend.sort(key=lambda item: (-item["count"], item["category"]))
        answer: dict[str, Any] = {"total": total, "categories": self.categories,
                                  "legend": legend, "extent": self._extent(mask)}
        rect = rect or Rect()
        # No level asked for: the finest whose occupied cells fit the points budget.
        most_cells = MAX_CELLS if level is not None else max(points, 1)
        level = MAX_LEVEL if level is None else max(0, min(MAX_LEVEL, level))
        while True:
            shift = MAX_LEVEL - level
            chosen = self._in_cells(mask, rect, level)
            if len(chosen) <= points:
                answer.update(level=level, in_view=len(chosen), points=self._points(chosen),
                              bins={name: [] for name in BIN_FIELDS})
                return answer
            keys = self.code[chosen] >> np.uint32(2 * shift)
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            if len(starts) <= most_cells or level == 0:
                break
            level -= 1  # more occupied cells than a view should carry: coarser
        answer.update(level=level, in_view=len(chosen))
        sizes = np.diff(np.r_[starts, len(chosen)])
        bins = self._bins(chosen, starts, sizes, shift)
        single = sizes == 1
        answer["points"] = self._points(chosen[starts[single]])
        answer["bins"] = {name: np.asarray(values)[~single].tolist() for name, values in bins.items()}
        return answer

    def cached_view(self, key: Hashable, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A view remembered by key (query, level, region, points) for this generation: a
        team looking at the same map, or panning back, costs one binning."""
        with self._answers_lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        answer = make()
        with self._answers_lock:
            self._answers[key] = answer
            while len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
        return answer

    def _in_cells(self, mask: np.ndarray, rect: Rect, level: int) -> np.ndarray:
        """Positions of masked samples whose cell of the level touches rect."""
        cx0, cx1, cy0, cy1 = self._cells(rect, level)
        if cx0 == 0 and cy0 == 0 and cx1 == cy1 == (1 << level) - 1:
            return np.flatnonzero(mask)
        shift = MAX_LEVEL - level
        cx = self.gx >> shift
        cy = self.gy >> shift
        return np.flatnonzero(mask & (cx >= cx0) & (cx <= cx1) & (cy >= cy0) & (cy <= cy1))

    def members(self, allowed: np.ndarray | None, level: int, cx: int, cy: int) -> np.ndarray:
        """Ids of the allowed samples in one cell of a level, in id order."""
        shift = MAX_LEVEL - level
        mask = self._mask(allowed) & ((self.gx >> shift) == cx) & ((self.gy >> shift) == cy)
        return np.sort(self.ids[mask])

    def inside(self, allowed: np.ndarray | None, rect: Rect) -> np.ndarray:
        """Ids of the allowed samples inside a rectangle (a region selected on the map)."""
        mask = self._mask(allowed)
        mask &= (self.x >= rect.x0) & (self.x <= rect.x1) & (self.y >= rect.y0) & (self.y <= rect.y1)
        return np.sort(self.ids[mask])

    # -- parts of a view ----------------------------------------------------------------------

    @staticmethod
    def _cells(rect: Rect, level: int) -> tuple[int, int, int, int]:
        xs = grid(np.array([min(rect.x0, rect.x1), max(rect.x0, rect.x1)]), level)
        ys = grid(np.array([min(rect.y0, rect.y1), max(rect.y0, rect.y1)]), level)
        return int(xs[0]), int(xs[1]), int(ys[0]), int(ys[1])

    def _extent(self, mask: np.ndarray) -> dict[str, Any] | None:
        """The query's bounding box, and a fit that leaves out the outermost 0.5% each side
        (one stray sound must not shrink the rest to a dot)."""
        if not mask.any():
            return None
        x = self.x[mask]
        y = self.y[mask]
        low_x, high_x = np.percentile(x, [0.5, 99.5]) if len(x) > 200 else (x.min(), x.max())
        low_y, high_y = np.percentile(y, [0.5, 99.5]) if len(y) > 200 else (y.min(), y.max())
        return {"bounds": [float(x.min()), float(y.min()), float(x.max()), float(y.max())],
                "fit": [float(low_x), float(low_y), float(high_x), float(high_y)]}

    def _points(self, at: np.ndarray) -> dict[str, list[Any]]:
        return {"id": self.ids[at].tolist(), "x": np.round(self.x[at], 5).tolist(),
                "y": np.round(self.y[at], 5).tolist(), "category": self.category[at].tolist()}

    def _bins(self, chosen: np.ndarray, starts: np.ndarray, sizes: np.ndarray,
              shift: int) -> dict[str, np.ndarray]:
        """Per run of chosen samples (one cell each): the cell (cx, cy), count, centroid, main
        category and its share, and the sample nearest the centroid (what hovering it plays)."""
        if len(starts) == 0:
            return {name: np.zeros(0) for name in BIN_FIELDS}
        x = self.x[chosen].astype(np.float64)
        y = self.y[chosen].astype(np.float64)
        mean_x = np.add.reduceat(x, starts) / sizes
        mean_y = np.add.reduceat(y, starts) / sizes
        run = np.repeat(np.arange(len(starts)), sizes)
        ncat = len(self.categories)
        tally = np.bincount(run * ncat + self.category[chosen],
                            minlength=len(starts) * ncat).reshape(len(starts), ncat)
        main = tally.argmax(axis=1)
        share = tally[np.arange(len(starts)), main] / sizes
        distance = (x - mean_x[run]) ** 2 + (y - mean_y[run]) ** 2
        nearest = np.minimum.reduceat(distance, starts)
        hits = np.flatnonzero(distance == nearest[run])
        first = np.unique(run[hits], return_index=True)[1]  # one per run, in run order
        first_of_run = chosen[starts]
        return {"cx": self.gx[first_of_run] >> shift, "cy": self.gy[first_of_run] >> shift,
                "count": sizes, "x": np.round(mean_x, 5), "y": np.round(mean_y, 5),
                "category": main, "share": np.round(share, 3), "id": self.ids[chosen[hits[first]]]}


# -- one layout per catalog generation, shared by every Library of a process ----------------

_layouts: dict[str, tuple[int, MapLayout]] = {}
_lock = threading.Lock()


def layout_for(key: str, generation: int, build: Callable[[], MapLayout],
               refresh: Callable[[MapLayout, int], MapLayout | None] | None = None) -> MapLayout:
    """The cached layout of this catalog (key) at this generation, built at most once;
    refresh(old layout, its generation) may bring an older one up to date more cheaply (None:
    build afresh)."""
    with _lock:
        cached = _layouts.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        layout = refresh(cached[1], cached[0]) if cached is not None and refresh else None
        if layout is None:
            layout = build()
        _layouts[key] = (generation, layout)  # one per catalog: the older generation goes
        return layout
