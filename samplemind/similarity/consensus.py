"""Sound consensus: a one-shot's category from its own sound and the sounds nearest to it.

The sound classifier hears one file at a time, and a hit it was never trained on (a kit
recorded in another room, a pedal hi-hat) can fall between two classes. Its nearest sounds
in the same library are mostly the same instrument (velocity layers, round robins, the
rest of a kit) heard through the same microphones, so their probabilities are more
evidence about it. After each scan, every one-shot whose category comes from the sound
(`category_source` "dsp") takes the class that wins

    (1 - SHARE) * its own probabilities + SHARE * the mean of its NEIGHBOURS' probabilities

and that mixture's probability, calibrated (analysis/calibration.py), as the confidence.
Only sounds are used (no names), so it works on a library of `sample_0001.wav`s; names
still win over it, and the library's named samples then teach (teach.py) on top of it.

The probabilities are recomputed from the stored vector and signal pitch by the shipped
model, and the neighbours come from the vector index's own search (approximate, like
`similar`, on the IVF index of a large library), so a round's answer depends only on the
catalog and its index: a rescan that changed nothing changes nothing. After additions and
removals only the new sounds and the sounds whose last search reached as far as a new or
removed sound are asked (each search's reach, the squared distance of the farthest voter it
found, is kept in table `sounds`; the removal log keeps a removed sound's vector): a sound
further away enters or leaves no one's search, so this is what a full round gives. A
re-analysed sound or another change to who votes asks everyone.

Measured by benchmarks/accuracy.py (category from sound alone): SHARE 0.5 with 5
neighbours took top-1 from 75.7 % to 78.2 % (the grid of 3-16 neighbours and shares
0.3-0.7 gave 76.9-78.6 %); a larger share let basses drift to the toms and tonal sounds
they sit next to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ..analysis import classify
from ..analysis.calibration import calibrate
from ..catalog import Catalog
from . import oneshots
from .index import VectorIndex

NEIGHBOURS = 5
SHARE = 0.5
SOURCE = "dsp"
CHUNK = 500
_META_KEY = "consensus_generation"  # the catalog generation the last round saw
_MAX_ID_KEY = "consensus_max_id"  # the largest one-shot id then: larger ones are new
_VOTERS_KEY = "consensus_voters"  # the fingerprint of that round's voters older versions
# wrote (a blake2b of their ids joined: a read of every voter), now "" (read when not)
_VOTERS_SUM = "consensus_voter_sum"  # the fingerprint now: oneshots.id_sum of the voters
SPARE = 3


@dataclass
class ConsensusReport:
    """What one consensus round did."""

    listeners: int = 0  # one-shots whose probabilities the round used as neighbours
    candidates: int = 0  # one-shots it looked at
    updated: int = 0  # whose category or confidence it changed
    changed: int = 0  # whose category it changed
    asked: list[int] = field(default_factory=list)  # every one-shot asked, any source


def mix(own: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """The consensus probabilities of one sound (own: classes; neighbours: n x classes)."""
    if len(neighbours) == 0:
        return own
    return (1.0 - SHARE) * own + SHARE * neighbours.mean(axis=0)


def listeners(catalog: Catalog, known: np.ndarray) -> np.ndarray:
    """The one-shots in the index short enough for the sound model (loops and sounds over
    CATEGORY_MAX_SECONDS have no probabilities, so no vote). Read from the covering index
    of migration m009; the rare one-shot the worker heard as a loop is among them but has
    no probabilities either (sound_probabilities leaves it out)."""
    # (sorted here: ORDER BY id would walk the wide table instead of that index, 6x slower)
    ids = np.sort(np.array([row[0] for row in catalog.query(
        "SELECT id FROM samples WHERE type = 'oneshot' AND duration <= ?",
        [classify.CATEGORY_MAX_SECONDS])], np.int64))
    return ids[np.isin(ids, known)]


def voters_of(catalog: Catalog, vectors: VectorIndex,
              shots: oneshots.OneShots | None = None) -> np.ndarray:
    """listeners(), from the one-shots kept in memory (oneshots.py) when the index is as
    current as they are (it then holds exactly the rows with a vector of its layout), else
    read as listeners() reads them."""
    shots = oneshots.current(catalog) if shots is None else shots
    voters = shots.voters(vectors)
    return listeners(catalog, vectors.ids()) if voters is None else voters


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


def nearest_voters(vectors: VectorIndex, voters: np.ndarray, ids: np.ndarray, k: int
                   ) -> dict[int, list[int]]:
    """The k nearest voters of each id (itself included when it votes), nearest first.
    Always through the index's own search, whether a round asks one sample or all of them,
    so an incremental round finds the neighbours a full one finds (approximate, like
    `similar`, on the IVF index of large libraries)."""
    return nearest_voters_reach(vectors, voters, ids, k)[0]


def nearest_voters_reach(vectors: VectorIndex, voters: np.ndarray, ids: np.ndarray, k: int
                         ) -> tuple[dict[int, list[int]], dict[int, float | None]]:
    """nearest_voters, and how far each search reached: the squared distance of the k-th
    voter found (None when it found fewer: any new voter would be among them)."""
    out: dict[int, list[int]] = {}
    reach: dict[int, float | None] = {}
    depth = min(k, len(voters))
    for start in range(0, len(ids), 4 * CHUNK):
        chunk = np.ascontiguousarray(ids[start:start + 4 * CHUNK], np.int64)
        found, distances = vectors.search_many(vectors.vectors_of(chunk), depth, allowed=voters)
        for sample_id, row, far in zip(chunk.tolist(), found, distances):
            out[sample_id] = [int(i) for i in row if i >= 0]
            reach[sample_id] = float(far[-1]) if depth == k and len(row) and row[-1] >= 0 \
                else None
    return out, reach


def _save_reach(catalog: Catalog, reach: dict[int, float | None]) -> None:
    """Keep how far each consensus search reached (table `sounds`, migration m017, and its
    copy in memory: oneshots.save_reach); not a catalog change."""
    oneshots.save_reach(catalog, reach)


def guesses(catalog: Catalog, vectors: VectorIndex, ids: Iterable[int],
            voters: np.ndarray | None = None) -> dict[int, tuple[str, float]]:
    """(category, confidence) of the sound consensus for the one-shots among `ids` that
    the model classifies."""
    model = classify.category_model()
    if model is None:
        return {}
    ids = list(ids)
    if not ids:  # (without reading every voter)
        return {}
    if voters is None:
        voters = voters_of(catalog, vectors)
    heard = sound_probabilities(catalog, ids)
    asked = np.array(sorted(heard), np.int64)
    asked = asked[np.isin(asked, voters)]
    # a few spare: a voter the worker heard as a loop has no probabilities (listeners())
    near, reach = nearest_voters_reach(vectors, voters, asked, NEIGHBOURS + 1 + SPARE) \
        if len(asked) else ({}, {})
    _save_reach(catalog, reach)
    wanted = {i for hits in near.values() for i in hits} - set(heard)
    heard.update(sound_probabilities(catalog, sorted(wanted)))
    out = {}
    for sample_id in sorted(heard.keys() & set(ids)):
        voices = [heard[i] for i in near.get(sample_id, []) if i != sample_id and i in heard]
        p = mix(heard[sample_id], np.array(voices[:NEIGHBOURS]))
        best = int(np.argmax(p))
        out[sample_id] = (model.classes[best],
                          calibrate("category", float(p[best]), model.classes[best]))
    return out


# The one-shots whose sound consensus someone reads: its own category (dsp), the base of a
# lesson (teach.py, "library") and the guess the owner's answers are weighed against (user)
GUESSED = (SOURCE, "library", "user")


def _within_reach(catalog: Catalog, vectors: VectorIndex, voters: np.ndarray,
                  guessed: np.ndarray, points: list[np.ndarray]) -> list[int]:
    """The voters among `guessed` (sorted ids) whose last consensus search a voter at one of
    `points` enters or leaves: those no farther from it than their search reached (table
    `sounds`), and those whose search was never kept. A sound further away moves no one's
    guess, so this and a full round give every sample the same neighbours."""
    ids = voters[np.isin(voters, guessed)]
    if not len(ids) or not points:
        return []
    at = np.concatenate(points).astype(np.float64)
    limit = oneshots.reach(catalog).of(ids)
    out = ids[~np.isfinite(limit)].tolist()  # found fewer than it asked for, or never asked
    far = np.isfinite(limit)
    ids, limit = ids[far], limit[far]
    squared = (at ** 2).sum(axis=1)
    for start in range(0, len(ids), 4 * CHUNK):
        chunk = vectors.vectors_of(ids[start:start + 4 * CHUNK]).astype(np.float64)
        distance = (chunk ** 2).sum(axis=1)[:, None] - 2 * chunk @ at.T + squared[None, :]
        # (a little slack: the index measured the reach in its own float order)
        bound = limit[start:start + 4 * CHUNK] * (1 + 1e-4) + 1e-4
        out += ids[start:start + 4 * CHUNK][(distance <= bound[:, None]).any(axis=1)].tolist()
    return out


def _fingerprint(ids: Iterable[int]) -> str:
    """Which voters a round had, in a form that does not depend on their order."""
    ids = sorted(ids)
    return hashlib.blake2b(",".join(map(str, ids)).encode(), digest_size=16).hexdigest()


def agree(catalog: Catalog, index: Callable[[], VectorIndex]) -> ConsensusReport:
    """Bring every sound-only category up to date with its neighbours.

    Incremental when the last round's voters are all still there with the same sounds, but
    for new ones and removed ones whose sound the removal log kept: the new sounds and the
    one-shots whose last search reached a new or removed sound are asked again
    (_within_reach), with the changed sound-only rows. A
    re-analysed sound, a sample that stopped or started voting (a type correction) or a
    pruned removal log asks everyone: whom they were near is not kept. `asked` lists every
    one-shot asked, whatever its source, for teach.py to reconsider."""
    report = ConsensusReport()
    if classify.category_model() is None:
        return report
    # Where to start is read before asking for the index: bringing the index up to date
    # prunes the removal log (manager._save), which would look like lost history.
    state = dict(catalog.query("SELECT key, value FROM meta WHERE key IN (?, ?, ?, ?)",
                               [_META_KEY, _MAX_ID_KEY, _VOTERS_KEY, _VOTERS_SUM]))
    generation = catalog.generation
    last_max = int(state.get(_MAX_ID_KEY) or 0)
    full = _META_KEY not in state
    changed: list[int] = []
    departed: list[tuple[int, bytes | None, str | None, float | None]] = []
    if not full:
        since = int(state[_META_KEY])
        _, changed, removed = catalog.changes_since(since)
        reanalysed, _ = catalog.vector_changes(since)
        departed = catalog.removed_sounds(removed)
        full = (since < catalog.oldest_removal_kept() or len(departed) < len(removed)
                or any(i <= last_max for i in reanalysed))
    # every one-shot, kept in memory and brought up to date from the change feed (read
    # before the index too: oneshots.current needs the removal log this round starts from)
    shots = oneshots.current(catalog)
    dsp = shots.ids[shots.of_source(SOURCE)]
    max_id = int(shots.ids[-1]) if len(shots) else 0
    if not len(dsp):  # nothing to refine (and no index to build); the next round starts afresh
        catalog.set_meta({_META_KEY: str(generation), _MAX_ID_KEY: str(max_id),
                          _VOTERS_KEY: "", _VOTERS_SUM: ""})
        return report
    vectors = index()
    voters = voters_of(catalog, vectors, shots)
    report.listeners = len(voters)
    gone = [(i, raw) for i, raw, kind, seconds in departed if kind == "oneshot"
            and seconds is not None and seconds <= classify.CATEGORY_MAX_SECONDS]
    if not full:  # the same voters as last time, but for the new and the removed ones
        before = np.concatenate([voters[voters <= last_max],
                                 np.array([i for i, _ in gone if i <= last_max], np.int64)])
        if state.get(_VOTERS_KEY):  # the last round was an older version's
            full = _fingerprint(before.tolist()) != state[_VOTERS_KEY]
        else:
            full = oneshots.id_sum(before) != state.get(_VOTERS_SUM)
        full = full or any(raw is None for _, raw in gone)
        # more new sounds than old ones (a library written in bulk, a first large scan): one
        # round over everyone costs less than searching around each new one first
        full = full or 2 * int(np.count_nonzero(voters > last_max)) > len(voters)
    if full:
        candidates = voters
    else:
        new = voters[voters > last_max]
        points = [vectors.vectors_of(new)] if len(new) else []
        if gone:  # the removed sounds, where they were
            raw = np.frombuffer(b"".join(r for _, r in gone), np.float32).reshape(len(gone), -1)
            points.append(vectors.standardiser.transform(raw).astype(np.float32))
        guessed = shots.ids[shots.of_source(*GUESSED)]
        changed_ids = np.array(changed, np.int64)
        recheck = changed_ids[np.isin(changed_ids, dsp)]  # e.g. a rename left only the sound
        candidates = np.array(sorted(set(new.tolist()) | set(recheck.tolist()) | set(
            _within_reach(catalog, vectors, voters, guessed, points))), np.int64)
    report.asked = candidates.tolist()
    mine = candidates[np.isin(candidates, dsp)]
    own = {i: (category, confidence) for i, category, confidence, _ in
           shots.rows(shots.positions(mine))}
    asked = mine.tolist()
    report.candidates = len(asked)
    updates = []
    for start in range(0, len(asked), 4 * CHUNK):
        for sample_id, answer in guesses(catalog, vectors, asked[start:start + 4 * CHUNK],
                                         voters).items():
            if answer != own[sample_id]:
                updates.append((*answer, sample_id))
    catalog.set_categories([(c, p, SOURCE, i) for c, p, i in updates], only_from=SOURCE)
    catalog.set_meta({_META_KEY: str(catalog.resume_point(generation, bool(updates))),
                      _MAX_ID_KEY: str(max_id), _VOTERS_KEY: "",
                      _VOTERS_SUM: oneshots.id_sum(voters[voters <= max_id])})
    report.updated = len(updates)
    report.changed = sum(category != own[sample_id][0] for category, _, sample_id in updates)
    return report
