"""Sound consensus: a one-shot's category from its own sound and the sounds nearest to it.

The sound classifier hears one file at a time, and a hit it was never trained on (a kit
recorded in another room, a pedal hi-hat) can fall between two classes. Its nearest sounds
in the same library are mostly the same instrument (velocity layers, round robins, the
rest of a kit) heard through the same microphones, so their probabilities are more
evidence about it. After each scan, every one-shot whose category comes from the sound
(`category_source` "dsp") takes the class that wins

    (1 - SHARE) * its own probabilities + SHARE * the mean of its NEIGHBOURS' probabilities

and that mixture's probability as the confidence. Only sounds are used (no names), so it
works on a library of `sample_0001.wav`s; names still win over it, and the library's
named samples then teach (teach.py) on top of it.

The probabilities are recomputed from the stored vector and signal pitch by the shipped
model, so the result is a pure function of the library's sounds: a rescan that changed
nothing changes nothing, and an incremental run gives what a run from scratch gives.
Measured by benchmarks/accuracy.py (category from sound alone): SHARE 0.5 with 5
neighbours took top-1 from 75.7 % to about 78 %; more neighbours or a larger share let
basses drift to the toms and tonal sounds they sit next to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..analysis import classify
from ..catalog import Catalog
from . import teach  # (teach imports this module too: names are looked up at call time)
from .index import VectorIndex

NEIGHBOURS = 5
SHARE = 0.5
SOURCE = "dsp"
CHUNK = 500
REACH_BACK = 4 * NEIGHBOURS  # an added sound is among the 5 nearest of few beyond its 20 nearest
_META_KEY = "consensus_generation"


@dataclass
class ConsensusReport:
    """What one consensus round did."""

    listeners: int = 0  # one-shots whose probabilities the round used as neighbours
    candidates: int = 0  # one-shots it looked at
    updated: int = 0  # whose category or confidence it changed
    changed: int = 0  # whose category it changed


def mix(own: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """The consensus probabilities of one sound (own: classes; neighbours: n x classes)."""
    if len(neighbours) == 0:
        return own
    return (1.0 - SHARE) * own + SHARE * neighbours.mean(axis=0)


def listeners(catalog: Catalog, known: np.ndarray) -> np.ndarray:
    """The one-shots in the index that the sound model classified (loops and sounds over
    12 s have no probabilities, so no vote)."""
    ids = np.array([row[0] for row in catalog.query(
        "SELECT id FROM samples WHERE type = 'oneshot' AND vector IS NOT NULL AND "
        "json_extract(analysis, '$.features.category') IS NOT NULL ORDER BY id")], np.int64)
    return ids[np.isin(ids, known)]


def sound_probabilities(catalog: Catalog, ids: Iterable[int]) -> dict[int, np.ndarray]:
    """The shipped model's probabilities of the one-shots among `ids` that the model
    classifies, from their stored vector and signal pitch (what the worker saw)."""
    model = classify.category_model()
    if model is None:
        return {}
    ids = list(ids)
    out: dict[int, np.ndarray] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        # (json_extract: SQLite reads the three fields without Python parsing the analysis)
        rows = catalog.query(
            "SELECT id, vector, json_extract(analysis, '$.features.pitch_hz'), "
            "json_extract(analysis, '$.features.note') FROM samples "
            f"WHERE id IN ({marks}) AND type = 'oneshot' AND vector IS NOT NULL "
            "AND json_extract(analysis, '$.features.category') IS NOT NULL", chunk)
        # (a vector of another layout than the model's: the worker gave it no guess either)
        rows = [r for r in rows if len(r[1]) == 4 * (model.mean.size - 2)]
        if not rows:
            continue
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(
            len(rows), -1)
        inputs = classify.category_inputs_many(vectors, [r[2] if r[3] else None for r in rows])
        for row, p in zip(rows, model.probabilities(inputs)):
            out[row[0]] = p
    return out


def guesses(catalog: Catalog, vectors: VectorIndex, ids: Iterable[int],
            voters: np.ndarray | None = None) -> dict[int, tuple[str, float]]:
    """(category, confidence) of the sound consensus for the one-shots among `ids` that
    the model classifies."""
    model = classify.category_model()
    if model is None:
        return {}
    ids = list(ids)
    if voters is None:
        voters = listeners(catalog, vectors.ids())
    heard = sound_probabilities(catalog, ids)
    asked = np.array(sorted(heard), np.int64)
    asked = asked[np.isin(asked, voters)]
    near = dict(teach.nearest_teachers(vectors, voters, asked, NEIGHBOURS + 1)) \
        if len(asked) else {}
    wanted = {i for hits in near.values() for i, _ in hits} - set(heard)
    heard.update(sound_probabilities(catalog, sorted(wanted)))
    out = {}
    for sample_id in sorted(heard.keys() & set(ids)):
        voices = [heard[i] for i, _ in near.get(sample_id, []) if i != sample_id and i in heard]
        p = mix(heard[sample_id], np.array(voices[:NEIGHBOURS]))
        best = int(np.argmax(p))
        out[sample_id] = (model.classes[best], round(float(p[best]), 3))
    return out


def agree(catalog: Catalog, index: Callable[[], VectorIndex]) -> ConsensusReport:
    """Bring every sound-only category up to date with its neighbours. Incremental: after
    additions and changes, the changed one-shots and those near them (REACH_BACK of each)
    are asked again; a removal, whose old neighbours are unknown, asks everyone."""
    report = ConsensusReport()
    if classify.category_model() is None:
        return report
    last = catalog.query("SELECT value FROM meta WHERE key = ?", [_META_KEY])
    rows = catalog.query("SELECT id, category, category_confidence FROM samples "
                         f"WHERE type = 'oneshot' AND category_source = '{SOURCE}'")
    if not rows:
        _remember(catalog)
        return report
    vectors = index()
    voters = listeners(catalog, vectors.ids())
    report.listeners = len(voters)
    own = {sample_id: (category, confidence) for sample_id, category, confidence in rows}
    candidates = voters
    if last:
        since = int(last[0][0])
        _, changed, removed = catalog.changes_since(since)
        if not removed and since >= catalog.oldest_removal_kept():
            touched = voters[np.isin(voters, np.array(changed, np.int64))]
            # the changed sounds, and those whose nearest sounds they may now be
            near = {i for _, hits in teach.nearest_teachers(vectors, voters, touched, REACH_BACK)
                    for i, _ in hits}
            candidates = np.array(sorted(set(touched.tolist()) | near), np.int64)
    candidates = [i for i in candidates.tolist() if i in own]
    report.candidates = len(candidates)
    updates = []
    for start in range(0, len(candidates), 4 * CHUNK):
        for sample_id, new in guesses(catalog, vectors, candidates[start:start + 4 * CHUNK],
                                      voters).items():
            if new != own[sample_id]:
                updates.append((*new, sample_id))
    if updates:
        with catalog.transaction():
            catalog.conn.executemany(
                "UPDATE samples SET category = ?, category_confidence = ? WHERE id = ? "
                f"AND category_source = '{SOURCE}'", updates)
    _remember(catalog)
    report.updated = len(updates)
    report.changed = sum(category != own[sample_id][0] for category, _, sample_id in updates)
    return report


def _remember(catalog: Catalog) -> None:
    catalog.set_meta({_META_KEY: str(catalog.generation)})  # where the next round may start
