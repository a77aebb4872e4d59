"""Review mode: ask the owner the few questions whose answers change the library most, and
spread each answer through it at once (issue 19).

The picker. A question about sample i is worth the sounds its answer is expected to make
right (expected_fix):

    u_i * (1 + sum of gain_j over neighbours j with i's guess)
        + (1 - u_i) * (sum of gain_j over neighbours j with another guess)

over its NEIGHBOURS nearest unsure one-shots j, where gain_j = vote_weight(d_ij) - c_j, the
chance the answer adds to j's being right, counted where an answer moves j (teach._alike:
more alike than j is sure by OVERRULE_MARGIN), with c = confidence (calibrated,
analysis/calibration.py) and u = 1 - c: "no, it is X" (chance u_i) fixes i and moves the
like guesses around it, "yes" moves the other guesses around it. A wrong guess in a crowd
of unsure sounds an answer would move comes first; a crowd of sounds surer than the answer
is alike adds nothing. Only the POOL most unsure candidates are scored (one index search
each), and one batch of questions never holds two sounds from each other's neighbourhoods
(the second answer would mostly repeat the first). The picker keeps what it read (every
sample's review state) and searched (the pool's neighbourhoods) per catalog and brings it up
to date from the catalog's change feed, so the next question reads only the samples changed
since the last one (the same questions as reading everything:
tests/test_review_picker_cache.py). Measured by benchmarks/review.py (814 unnamed real
one-shots of four sources, top-1 over the unanswered after 5 / 10 / 20 / 50 answers; random
0.758 / 0.756 / 0.766 / 0.772 beside it): 0.774 / 0.792 / 0.805 / 0.831, where
u^2 (1 + sum of vote_weight * u_j), the picker before, gave 0.774 / 0.776 / 0.783 / 0.817
with the same teaching, and 0.770 / 0.771 / 0.777 / 0.793 with the teaching before
(teach._alike). Per source it gains on hydrogen-data, hydrogen-drumkits and sonic-pi at 10,
20 and 50 answers, and asks fewer lmms-common sounds, which stand alone (0.696 / 0.716 /
0.740 there at 10 / 20 / 50 against 0.712 / 0.718 / 0.768); on a library of lmms-common
alone (--source) both together are equal to or better than the picker and teaching before
at every N. 8 or 32 neighbours, or every open one-shot scored instead of 400, moved none of
these by more than 0.006. The confidence is the one the lessons leave, and those count an
answer's agreement as well as its doubt: a sound is at least as sure of its category as the
most alike answer that gave it (teach.agreement), so a region an answer settled is not asked
again. Samples whose category a person gave (a correction, an answer, a name, a folder,
embedded metadata) are never asked about. A one-shot/loop question is asked first when the
type itself is unsure (below TYPE_DOUBT).

The answers. Each answer is a user correction (the `overrides` table, like `samplemind
set`: it survives rescans, re-analysis and moves), and it teaches at once: a category answer
re-teaches only the samples that have the answered one among their nearest teachers
(teach.plan_relearn / relearn; the result equals the full steps after a scan, tested in
tests/test_review_incremental.py; on an IVF index relearn keeps each sample's nearest
teachers between answers, so an answer joins the lists it enters without a search), and
runs scan.refine_categories (the sound consensus and
every lesson) only when the library changed since the last round or for a type answer. The
owner's answers teach from the first one (teach.py). Every sample whose category or type
moved is counted and kept with the answer (table `review_answers`, migration m013) so undo
can say what it restored. Undo clears the correction (or puts back the one it replaced) and
teaches the same way again: the library goes back to what it was.

Leases. Questions handed out are leased to their reviewer for LEASE_SECONDS (table
`review_leases`); another reviewer is never handed a leased question, and an answer ends
its lease. Key, chord and BPM questions would be more FIELDS with their own uncertainty;
only category and type are asked today.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .catalog import Catalog
from .errors import NotFound, UsageError
from .models import ScanReport, versioned
from .scan import re_resolve, refine_categories

FIELDS = ("category", "type")
PERSON_SOURCES = ("user", "filename", "metadata")  # a person gave these: never asked
NEIGHBOURS = 16  # the neighbourhood an answer is expected to reach
POOL = 400  # the most unsure candidates scored by their neighbourhood
TYPE_DOUBT = 0.5  # a type less sure than this is asked before the category
LEASE_SECONDS = 120.0
TOUCH_WEIGHT = 0.25  # a neighbour this near (vote weight) counts as touched


@dataclass
class Question:
    """One question for the owner."""

    sample_id: int
    field: str
    guess: str | None
    confidence: float | None
    alternatives: list[dict[str, Any]]  # [{"value": ..., "p": ...}], likeliest first
    touches: int  # unsure sounds near enough for the answer to reach
    score: float  # expected change
    path: str = ""
    name: str = ""
    duration: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return versioned(asdict(self))


@dataclass
class AnswerReport:
    """What one answer (or its undo) did."""

    answer_id: int
    sample_id: int
    field: str
    value: str | None
    changed: int  # samples whose category or type it changed, the answered one included
    changed_ids: list[int] = field(default_factory=list)
    undone: bool = False
    restored: int = 0  # on undo: samples back to what they were before the answer
    relearned: int | None = None  # samples taught again around it (None: the whole library)

    def as_dict(self) -> dict[str, Any]:
        return versioned(asdict(self))


# -- the picker ----------------------------------------------------------------------------


def _unsure(confidence: float | None) -> float:
    return 1.0 - float(confidence) if confidence is not None else 1.0


def expected_fix(sample_id: int, reach: list[tuple[int, float]], unsure: dict[int, float],
                 guesses: dict[int, str | None]) -> float:
    """How many sounds an answer about `sample_id` is expected to make right: itself when
    its guess is wrong (chance u, its `unsure`), and each neighbour in `reach` ((id, vote
    weight), the unsure one-shots around it) that the answer would move, by what the move
    adds to that neighbour's chance to be right (the answer's vote weight less the
    neighbour's confidence). An answer moves a neighbour when it is more alike than the
    neighbour is sure by teach.OVERRULE_MARGIN (teach._alike): "no, it is X" (chance u)
    moves the neighbours that made the same guess, "yes" (chance 1 - u) those that made
    another."""
    from .similarity.teach import OVERRULE_MARGIN

    u, own = unsure[sample_id], guesses.get(sample_id)
    same = other = 0.0
    for j, weight in reach:
        gain = weight - (1.0 - unsure.get(j, 1.0))
        if gain > OVERRULE_MARGIN:
            if guesses.get(j) == own:
                same += gain
            else:
                other += gain
    return u * (1.0 + same) + (1.0 - u) * other


# What the picker knows of each catalog (by file), brought up to date from the catalog's
# change feed instead of read whole for every question: at 100k samples reading every
# sample's state cost 0.6 s of each question, and its POOL index searches 50 ms more.
REREAD = 20_000  # more changed samples than this since the last question: read them all
NEW_OPEN = 64  # more one-shots open again than this: search every neighbourhood again


@dataclass
class _Picker:
    """What the picker knows of a catalog at `generation`: the samples with a type question
    and the open one-shots (from every sample's review state), and the neighbourhoods
    searched for the last ranking: each pool sample's search row, good while the index, k
    and the searched set `allowed` (the open one-shots) hold, or change only where that row
    shows it cannot have moved (see _neighbourhoods)."""

    generation: int
    typed: dict[int, tuple[str, float]] = field(default_factory=dict)  # id -> (type, its confidence)
    open: dict[int, float] = field(default_factory=dict)  # open one-shot -> unsure (1 - confidence)
    guess: dict[int, str | None] = field(default_factory=dict)  # open one-shot -> its category
    index: tuple[int, int] | None = None  # (id, version) of the VectorIndex searched
    k: int = 0
    allowed: set[int] = field(default_factory=set)
    near: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def weigh(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Take in review_states rows: where each sample stands now."""
        typed, open_, guess = self.typed, self.open, self.guess
        for sid, kind, tconf, tsource, category, cconf, csource in rows:
            typed.pop(sid, None)
            open_.pop(sid, None)
            guess.pop(sid, None)
            if tsource != "user" and kind and tconf is not None and tconf < TYPE_DOUBT:
                typed[sid] = (kind, tconf)  # its category waits for its type
            elif kind == "oneshot" and csource not in PERSON_SOURCES:
                open_[sid] = _unsure(cconf)
                guess[sid] = category


_pickers: dict[str, _Picker] = {}
_PICKING = threading.Lock()  # one ranking at a time in a process touches a picker


def _states(catalog: Catalog) -> _Picker:
    """The picker of `catalog` as of now: the samples changed since the last look are read
    again (all of them after a larger change, when removals were forgotten, or the first
    time)."""
    from .catalog import ChangeFeed

    picker = _pickers.get(str(catalog.path))
    if picker is not None:
        with catalog.snapshot():
            generation, changed, removed, everyone = ChangeFeed(catalog).since(picker.generation)
            fresh = everyone is None and generation >= picker.generation \
                and len(changed) + len(removed) <= REREAD
            rows = catalog.review_states(changed) if fresh and changed else []
        if fresh:
            for sid in (*changed, *removed):
                picker.typed.pop(sid, None)
                picker.open.pop(sid, None)
                picker.guess.pop(sid, None)
            picker.weigh(rows)
            picker.generation = generation
            return picker
    picker = _read(catalog)
    _pickers[str(catalog.path)] = picker
    return picker


def _read(catalog: Catalog) -> _Picker:
    """A picker of `catalog` from every sample's review state, nothing searched yet."""
    with catalog.snapshot():
        picker = _Picker(catalog.generation)
        picker.weigh(catalog.review_states())
    return picker


def _neighbourhoods(picker: _Picker, vectors: Any, scored: np.ndarray, allowed: np.ndarray,
                    k: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The search row (ids, squared distances) of each sample in `scored` among its k
    nearest in `allowed`, as vectors.search_many finds it now. A row kept from an earlier
    ranking is the same while the index and k are: a sample leaving `allowed` moves only
    the rows that hold it, and one joining it only the rows it is nearer to than their
    farthest (with slack for the order of float sums; on IVF it may also not be visited:
    searching again is then merely unneeded). Every other row is searched again."""
    key = (id(vectors), vectors.version)
    wanted = set(allowed.tolist())
    came: set[int] = set()
    if picker.index != key or picker.k != k:
        picker.near.clear()
    else:
        gone = picker.allowed - wanted
        came = wanted - picker.allowed
        if len(came) > NEW_OPEN:
            picker.near.clear()
        elif gone or came:
            gone_ids = np.array(sorted(gone), np.int64)
            for sid in [sid for sid, (ids, _) in picker.near.items()
                        if np.isin(ids, gone_ids).any()]:
                picker.near.pop(sid)
            if came and picker.near:
                joined = vectors.vectors_of(np.array(sorted(came), np.int64))
                kept = list(picker.near)
                for sid, here in zip(kept, vectors.vectors_of(np.array(kept, np.int64))):
                    ids, distances = picker.near[sid]
                    offset = joined - here
                    d = np.einsum("ij,ij->i", offset, offset)
                    far = float(distances.max()) if len(distances) else -1.0
                    if (ids < 0).any() or (d <= far * (1 + 1e-4) + 1e-4).any():
                        picker.near.pop(sid)
    picker.index, picker.k, picker.allowed = key, k, wanted
    pool = set(scored.tolist())
    for sid in [sid for sid in picker.near if sid not in pool]:
        picker.near.pop(sid)  # only the pool's rows are kept
    missing = np.array([sid for sid in scored.tolist() if sid not in picker.near], np.int64)
    if len(missing):
        found, distances = vectors.search_many(vectors.vectors_of(missing), k, allowed=allowed)
        for sid, ids, ds in zip(missing.tolist(), found, distances):
            picker.near[sid] = (np.array(ids), np.array(ds))
    return {sid: picker.near[sid] for sid in scored.tolist()}


def _rank(catalog: Catalog, index: Any, scope: set[int] | None,
          cached: bool = True) -> list[Question]:
    """Every question worth asking in `scope` (None: everywhere), best first, before leases.
    `cached`: from what the picker kept of the last ranking (the same questions as
    cached=False, which reads and searches everything again)."""
    with _PICKING:
        return _ranked(_states(catalog) if cached else _read(catalog), index, scope)


def _ranked(picker: _Picker, index: Any, scope: set[int] | None) -> list[Question]:
    from .similarity.teach import vote_weight

    questions = [Question(sid, "type", kind, tconf, [], 0, 1.0 + _unsure(tconf))
                 for sid, (kind, tconf) in picker.typed.items() if scope is None or sid in scope]
    open_oneshots = picker.open
    type_sure = open_oneshots if scope is None else [i for i in open_oneshots if i in scope]
    pool = heapq.nsmallest(POOL, type_sure, key=lambda i: (-open_oneshots[i], i))
    if pool:
        vectors = index.current()
        known = vectors.ids()
        allowed = np.array(sorted(open_oneshots), np.int64)
        allowed = allowed[np.isin(allowed, known)]
        scored = np.array(pool, np.int64)
        scored = scored[np.isin(scored, known)] if len(allowed) else scored[:0]
        near: dict[int, list[tuple[int, float]]] = {}
        if len(scored):
            rows = _neighbourhoods(picker, vectors, scored, allowed,
                                   min(NEIGHBOURS + 1, len(allowed)))
            for sid, (ids, ds) in rows.items():
                near[sid] = [(int(j), vote_weight(float(d))) for j, d in zip(ids, ds)
                             if j >= 0 and j != sid]
        for sid in pool:
            reach = near.get(sid, [])
            q = Question(sid, "category", None, None, [],
                         sum(w >= TOUCH_WEIGHT for _, w in reach),
                         expected_fix(sid, reach, open_oneshots, picker.guess))
            q._near = {j for j, w in reach if w >= TOUCH_WEIGHT}  # type: ignore[attr-defined]
            questions.append(q)
    questions.sort(key=lambda q: (-q.score, q.sample_id))
    return questions


def _fill(catalog: Catalog, questions: list[Question]) -> None:
    """The guess, its alternatives and the file of each chosen question."""
    from .analysis import classify
    from .similarity.consensus import sound_probabilities

    if not questions:
        return
    rows = catalog.review_rows([q.sample_id for q in questions])
    probabilities = sound_probabilities(catalog, [q.sample_id for q in questions
                                                  if q.field == "category"])
    model = classify.category_model()
    for q in questions:
        path, name, duration, category, cconf, kind, tconf = rows.get(
            q.sample_id, ("", "", None, None, None, None, None))
        q.path, q.name, q.duration = path, name or "", duration
        if q.field == "type":
            q.guess, q.confidence = kind, tconf
            other = "loop" if kind == "oneshot" else "oneshot"
            q.alternatives = [{"value": other, "p": None}]
            continue
        q.guess, q.confidence = category, cconf
        p = probabilities.get(q.sample_id)
        if p is not None and model is not None:
            order = np.argsort(-p)
            q.alternatives = [{"value": model.classes[i], "p": round(float(p[i]), 3)}
                              for i in order if model.classes[i] != category][:4]


def categories() -> list[str]:
    """The categories an answer may choose by number (the sound model's classes)."""
    from .analysis import classify

    model = classify.category_model()
    return list(model.classes) if model is not None else []


def questions(catalog: Catalog, index: Any, scope: set[int] | None, n: int,
              reviewer: str | None, lease_seconds: float = LEASE_SECONDS) -> list[Question]:
    """The next n questions for `reviewer`, leased to them: never one leased to another
    reviewer, never two from one neighbourhood. Without a reviewer (a listing, e.g.
    `review --format json`) nothing is leased, and questions leased to anyone are left out."""
    ranked = _rank(catalog, index, scope)
    chosen: list[Question] = []
    now = time.time()
    with catalog.transaction(bump=False):  # BEGIN IMMEDIATE: reviewers take turns here
        taken = catalog.leased_to_others(reviewer, now)
        covered: set[int] = set()
        for q in ranked:
            if len(chosen) >= n:
                break
            if (q.sample_id, q.field) in taken or q.sample_id in covered:
                continue
            chosen.append(q)
            covered |= getattr(q, "_near", set()) | {q.sample_id}
        if reviewer:
            catalog.lease_questions(reviewer, [(q.sample_id, q.field) for q in chosen],
                                    now + lease_seconds)
    _fill(catalog, chosen)
    return chosen


def new_reviewer() -> str:
    return uuid.uuid4().hex


# -- answers -------------------------------------------------------------------------------


# One answer at a time in a process (the server answers from several threads): relearning
# reads what the last answer left (teach._known) and must not interleave with another.
_ANSWERING = threading.Lock()


def _snapshot(catalog: Catalog, ids: list[int] | None = None) -> dict[int, tuple[Any, ...]]:
    """What review may change of the samples `ids` (None: of every sample)."""
    return catalog.reviewed_fields(ids)


def _apply(catalog: Catalog, index: Any, sample_id: int, field: str, value: Any
           ) -> tuple[dict[int, tuple[Any, ...]], dict[int, tuple[Any, ...]], int | None]:
    """Set (value) or clear (None) the correction and let the library learn from it:
    (before, after) of every sample that may have moved, and how many were taught again
    around the answer (None: the whole library learned again, as after a scan).

    A category answer is taught only where it reaches (teach.plan_relearn: the samples that
    have it among their nearest teachers) while nothing else changed since the last round;
    the sound consensus needs nothing then (it hears sounds, not categories). A type answer,
    or a library changed in between, runs the steps after a scan instead."""
    with _ANSWERING:
        return _apply_alone(catalog, index, sample_id, field, value)


def _apply_alone(catalog: Catalog, index: Any, sample_id: int, field: str, value: Any
                 ) -> tuple[dict[int, tuple[Any, ...]], dict[int, tuple[Any, ...]], int | None]:
    from .similarity import teach

    plan = vectors = None
    if field == "category":
        vectors = index.current()
        plan = teach.plan_relearn(catalog, vectors, sample_id)
    # Taught where it reaches, relearn reads and writes every sample it may move: only the
    # answered one is read here (at 100k samples, reading the region twice more cost more
    # than teaching it). A full round may move any sample: all are read before and after.
    before = _snapshot(catalog, None if plan is None else [sample_id])
    with catalog.transaction():
        if value is None:
            catalog.clear_override(sample_id, field)
        else:
            catalog.set_override(sample_id, field, value)
        re_resolve(catalog, sample_id)
    if plan is not None:
        try:
            taught = teach.relearn(catalog, vectors, plan)
        except Exception:  # a damaged index or a busy catalog: learn as after a scan (what
            taught = None  # a failed relearn wrote, if anything, is not counted)
        if taught is not None:
            after = {i: v for i, v in taught.after.items() if i != sample_id}
            after.update(_snapshot(catalog, [sample_id]))
            others = {i: v for i, v in taught.before.items() if i != sample_id}
            return {**others, **before}, after, taught.candidates
    refine_categories(catalog, index, ScanReport())
    return before, _snapshot(catalog, None if plan is None else [sample_id]), None


def answer(catalog: Catalog, index: Any, sample_id: int, field: str, value: Any,
           reviewer: str | None = None) -> AnswerReport:
    """Record the owner's answer as a correction and spread it; what it changed is kept."""
    from .organise import check_override

    if field not in FIELDS:
        raise UsageError(f"review asks about {' and '.join(FIELDS)}, not {field!r}")
    checked = check_override(field, value)
    if checked is None:
        raise UsageError(f"an answer needs a {field}")
    if catalog.full_row(sample_id) is None:
        raise NotFound(f"no sample with id {sample_id}")
    previous = catalog.overrides(sample_id).get(field)
    before, after, relearned = _apply(catalog, index, sample_id, field, checked)
    moved = {i: before[i] for i in before if i in after and after[i] != before[i]}
    changed = sorted(i for i, old in moved.items()
                     if (after[i][0], after[i][1]) != (old[0], old[1]))
    answer_id = catalog.add_review_answer(
        sample_id, field, json.dumps(checked), json.dumps(previous),
        json.dumps({str(i): list(v) for i, v in moved.items()}), len(changed), reviewer)
    return AnswerReport(answer_id, sample_id, field, checked, len(changed), changed,
                        relearned=relearned)


def undo(catalog: Catalog, index: Any, answer_id: int) -> AnswerReport:
    """Take an answer back: its correction goes (or the one it replaced returns) and the
    library learns again without it."""
    row = catalog.review_answer(answer_id)
    if row is None:
        raise NotFound(f"no review answer {answer_id}")
    sample_id, field_name, value, previous, before_json, undone_at = row
    if undone_at:
        raise UsageError(f"answer {answer_id} is already undone")
    before = {int(i): tuple(v) for i, v in json.loads(before_json or "{}").items()}
    now, after, relearned = {}, {}, None
    if catalog.full_row(sample_id) is not None:
        now, after, relearned = _apply(catalog, index, sample_id, field_name,
                                       json.loads(previous or "null"))
    changed = sorted(i for i in after if i in now and (after[i][0], after[i][1])
                     != (now[i][0], now[i][1]))
    restored = sum(after.get(i) == old for i, old in before.items())
    catalog.mark_review_undone(answer_id)
    return AnswerReport(answer_id, sample_id, field_name, json.loads(value), len(changed),
                        changed, undone=True, restored=restored, relearned=relearned)


def answers(catalog: Catalog, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """The answers given so far, newest first."""
    rows = catalog.review_answers()
    wanted = set(ids) if ids is not None else None
    return [{"answer_id": r[0], "sample_id": r[1], "field": r[2], "value": json.loads(r[3]),
             "changed": r[4], "reviewer": r[5], "answered_at": r[6], "undone_at": r[7]}
            for r in rows if wanted is None or r[0] in wanted]
