"""Similar-sound search and duplicate finding over the catalog and its vector index.

Library calls these with its catalog and index manager; they return model objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..catalog import Catalog
from ..errors import NotFound, UsageError
from ..instruments.layers import copies, layer_key, layer_sets
from ..models import DupeGroup, Hit, LayerSet, Sample
from .dupes import NEIGHBOURS, UnionFind, choose_keeper, near_pairs
from .index import VectorIndex, all_cores
from .vectors import (
    ASPECTS,
    aspect_distances,
    combined_distance,
    parse_aspects,
    score,
    weight_vector,
)

MAX_K = 10_000


def records_by_id(catalog: Catalog, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Records of these ids (in chunks, so any number works)."""
    out: dict[int, dict[str, Any]] = {}
    ids = list(ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        for record in catalog.records(f"s.id IN ({marks})", chunk, order_by="s.id"):
            out[record["id"]] = record
    return out


class Ranked(NamedTuple):
    """One neighbour before its record is read: id, score, distance, per-aspect distances.
    (A named tuple: the server makes one per hit of every similar answer.)"""

    id: int
    score: float
    distance: float
    aspects: dict[str, float]

    def fields(self) -> dict[str, Any]:
        """What a hit adds to the sample record (Hit.to_json's own fields)."""
        return {"score": self.score, "distance": self.distance,
                "aspect_distances": self.aspects}


def ranked(index: VectorIndex, queries: Sequence[int | np.ndarray], *, k: int, aspects: Any,
           allowed: np.ndarray | None) -> list[Ranked]:
    """The k samples nearest to the combined sound of the queries, nearest first, as ids
    with their distances (no records read).

    queries: catalog ids, or raw vectors of files outside the catalog.
    """
    if not queries:
        raise UsageError("give at least one sample (a catalog id or a file)")
    if k < 1 or k > MAX_K:
        raise UsageError(f"-k must be between 1 and {MAX_K}")
    weights = parse_aspects(aspects)
    stored: list[np.ndarray] = []
    exclude: list[int] = []
    for query in queries:
        if isinstance(query, (int, np.integer)):
            try:
                stored.append(index.vectors_of(np.array([query]))[0])
            except KeyError:
                raise NotFound(f"sample {query} has no sound vector (it failed analysis or "
                               "has not been scanned with this version)") from None
            exclude.append(int(query))
        else:
            stored.append(index.standardiser.transform(query)[0])
    # Several examples: their combined sound is the centre of their vectors.
    target = stored[0] if len(stored) == 1 else \
        np.mean(stored, axis=0, dtype=np.float64).astype(np.float32)
    ids, _ = index.search(target, k, allowed=allowed,
                          weights=weight_vector(weights) if weights else None,
                          exclude=np.array(exclude, np.int64))
    if len(ids) == 0:
        return []
    per_aspect = aspect_distances(target, index.vectors_of(ids))
    # Rounded in bulk: a Python round() per number cost a fifth of a query.
    # (float64 first: a rounded float32 prints as 0.7569000124931335 in JSON)
    combined = combined_distance(per_aspect, weights).astype(np.float64)
    distances = np.round(combined, 4).tolist()
    scores = np.round(score(combined), 4).tolist()
    aspect_rows = np.round(per_aspect.astype(np.float64), 4).tolist()
    out = [Ranked(sample_id, scores[position], distances[position],
                  dict(zip(ASPECTS, aspect_rows[position])))
           for position, sample_id in enumerate(ids.tolist())]
    # Sorted by the reported distance: equal-weight FAISS order and float rounding agree
    # almost always; the record must never contradict its own order.
    out.sort(key=lambda hit: (hit.distance, hit.id))
    return out


def similar(catalog: Catalog, index: VectorIndex, queries: Sequence[int | np.ndarray], *, k: int,
            aspects: Any, allowed: np.ndarray | None) -> list[Hit]:
    """ranked(), each with its sample record (a sample removed a moment ago is left out)."""
    found = ranked(index, queries, k=k, aspects=aspects, allowed=allowed)
    records = records_by_id(catalog, [hit.id for hit in found])
    return [Hit(Sample(records[hit.id]), hit.score, hit.distance, hit.aspects)
            for hit in found if hit.id in records]


def dupes(catalog: Catalog, index: VectorIndex, *, threshold: float, exact: bool, near: bool,
          allowed: set[int] | None = None) -> tuple[list[DupeGroup], list[LayerSet]]:
    """Exact groups (same decoded audio), then near groups among the rest; and the layer sets
    that near groups turned out to be (one sound's velocity layers: not duplicates)."""
    groups: list[DupeGroup] = []
    layers: list[LayerSet] = []
    grouped_exact: dict[int, int] = {}  # member id -> the exact group's keeper id
    exact_sets: list[list[int]] = []
    for (members,) in catalog.query(
            "SELECT group_concat(id) FROM samples WHERE audio_hash IS NOT NULL "
            "GROUP BY audio_hash HAVING count(*) > 1"):
        ids = sorted(int(x) for x in members.split(","))
        if allowed is not None:
            ids = [i for i in ids if i in allowed]
        if len(ids) > 1:
            exact_sets.append(ids)
    if exact_sets:
        records = records_by_id(catalog, [i for ids in exact_sets for i in ids])
        for ids in exact_sets:
            group = _group("exact", [records[i] for i in ids if i in records], 0.0)
            if group:
                for sample in group.samples:
                    grouped_exact[sample.id] = group.keeper.id
                if exact:
                    groups.append(group)
    if near and index.count:
        near_groups, layers = _near_groups(catalog, index, threshold, grouped_exact, allowed)
        groups.extend(near_groups)
    groups.sort(key=lambda g: (g.kind != "exact", g.keeper.path))
    layers.sort(key=lambda s: s.layers[0].path)
    return groups, layers


def _near_groups(catalog: Catalog, index: VectorIndex, threshold: float,
                 grouped_exact: dict[int, int],
                 allowed: set[int] | None) -> tuple[list[DupeGroup], list[LayerSet]]:
    durations = {sample_id: duration or 0.0 for sample_id, duration in catalog.query(
        "SELECT id, duration FROM samples WHERE length(vector) > 0")}
    # An exact group takes part through its keeper only; its copies are already handled.
    ids = np.array(sorted(i for i in durations
                          if grouped_exact.get(i, i) == i and (allowed is None or i in allowed)),
                   np.int64)
    if len(ids) < 2:
        return [], []
    union = UnionFind()
    for start in range(0, len(ids), 4096):
        chunk = ids[start:start + 4096]
        vectors = index.vectors_of(chunk)
        found = np.full((len(chunk), NEIGHBOURS + 1), -1, np.int64)
        dist = np.full((len(chunk), NEIGHBOURS + 1), np.inf, np.float32)
        with index.lock.reading(), all_cores():
            raw_dist, raw_found = index.index.search(vectors, min(NEIGHBOURS + 1, index.count))
        found[:, :raw_found.shape[1]] = raw_found
        # FAISS gives squared L2 over 5 equally weighted aspects: the combined distance.
        dist[:, :raw_dist.shape[1]] = np.sqrt(np.maximum(raw_dist, 0) / len(ASPECTS))
        for a, b, _ in near_pairs(chunk, found, dist, durations, threshold):
            if grouped_exact.get(b, b) != b or (allowed is not None and b not in allowed):
                continue
            union.union(a, b)
    member_sets = union.groups()
    if not member_sets:
        return [], []
    records = records_by_id(catalog, [i for ids in member_sets for i in ids])
    groups, layers = [], []
    for ids in member_sets:
        present = [records[i] for i in ids if i in records]
        # One sound's layers are alike by design: they leave the group, whatever is left of it
        # (a copy elsewhere) is still compared among itself. Never a layer to move aside.
        layered: set[int] = set()
        for members in layer_sets(present, numbered=True):
            folder, instrument = layer_key(members[0], numbered=True) or ("", "")
            found = LayerSet(folder, instrument, [Sample(r) for r in members])
            found.distance = _spread(index, [s.id for s in found.layers])
            layers.append(found)
            layered.update(s.id for s in found.layers)
        # The same layer twice (a converted copy beside it) is a duplicate to see.
        layered -= {int(r["id"]) for r in copies(present, numbered=True)}
        group = _group("near", [r for r in present if int(r["id"]) not in layered], 0.0)
        if group is None:
            continue
        group.distance = _spread(index, [s.id for s in group.samples])
        groups.append(group)
    return groups, layers


def _spread(index: VectorIndex, ids: list[int]) -> float:
    """The largest combined distance from the first sound to the others."""
    first = index.vectors_of(np.array(ids[:1]))[0]
    others = index.vectors_of(np.array(ids[1:]))
    return round(float(combined_distance(aspect_distances(first, others), None).max()), 4)


def _group(kind: str, records: list[dict[str, Any]], distance: float) -> DupeGroup | None:
    if len(records) < 2:
        return None
    keep, reason = choose_keeper(records)
    others = [Sample(r) for i, r in enumerate(records) if i != keep]
    others.sort(key=lambda s: s.path)
    return DupeGroup(kind, Sample(records[keep]), others, reason, distance)
