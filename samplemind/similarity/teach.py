"""What the user's own library teaches: samples someone named or tagged lend their labels
to the unnamed samples that sound like them.

Two uses: tag suggestions (organise.suggest_tags: the tags of user-tagged neighbours) and
categories (teach_categories: the category of named neighbours, after each scan). Both
weigh each neighbour's vote by how near it is, exp(-(d / REACH)^2), on the distance
scale of `samplemind similar` (0 the same sound, about 1.4 two unrelated ones), and count
DOUBT votes for "none of these", so distant or disagreeing neighbours give a low
confidence.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..analysis.calibration import raw_score
from ..catalog import Catalog
from . import consensus
from .index import VectorIndex
from .vectors import ASPECTS

REACH = 0.7  # a neighbour this far away votes with weight 1/e
DOUBT = 1.0  # votes nobody cast: a lone or distant vote stays low
EXACT_LIMIT = 2_000_000  # teachers x candidates below which distances are computed exactly
CHUNK = 1024

# Category sources a person gave (names, folders, embedded metadata, corrections): these
# teach. The sound classifier's own guesses ("dsp") and earlier lessons never do.
TEACHING_SOURCES = ("filename", "metadata", "user")
TAUGHT_SOURCE = "library"
NEIGHBOURS = 10
MIN_TEACHERS = 10  # fewer named one-shots than this teach nothing
# A lesson replaces the sound's own guess when its confidence is higher by this margin;
# agreeing, the two add up (as independent evidence: 1 - (1 - a)(1 - b)). Measured by
# benchmarks/accuracy.py (half the instruments named, top-1 on the other half): margin
# 0 -> 76.7 %, 0.15 -> 77.1 %, 0.3 -> 75.5 % (sound alone 73.8 %); 0 let the neighbours of
# basses, which sound like toms and tonal one-shots, overrule a right guess too often.
OVERRULE_MARGIN = 0.15


def vote_weight(squared_distance: float) -> float:
    """A neighbour's vote from its squared distance in the index (equal aspect weights)."""
    distance = math.sqrt(max(squared_distance, 0.0) / len(ASPECTS))
    return math.exp(-(distance / REACH) ** 2)


def nearest_teachers(index: VectorIndex, teachers: np.ndarray, candidates: np.ndarray, k: int,
                     ) -> Iterator[tuple[int, list[tuple[int, float]]]]:
    """For each candidate id: its k nearest teachers as (teacher id, squared distance),
    nearest first. Exact while the product of the two counts is small, else by the index
    restricted to the teachers (approximate on an IVF index, like `similar`)."""
    teachers = np.ascontiguousarray(teachers, np.int64)
    depth = min(k, len(teachers))
    if depth == 0:
        return
    if len(teachers) * len(candidates) <= EXACT_LIMIT:
        taught = index.vectors_of(teachers)
        squared = (taught ** 2).sum(axis=1)
        for start in range(0, len(candidates), CHUNK):
            chunk = np.asarray(candidates[start:start + CHUNK], np.int64)
            vectors = index.vectors_of(chunk)
            distance = squared[None, :] - 2 * vectors @ taught.T + \
                (vectors ** 2).sum(axis=1)[:, None]
            nearest = np.argpartition(distance, depth - 1, axis=1)[:, :depth]
            for row, sample_id in enumerate(chunk.tolist()):
                order = nearest[row][np.argsort(distance[row, nearest[row]], kind="stable")]
                yield sample_id, [(int(teachers[c]), float(distance[row, c])) for c in order]
        return
    for start in range(0, len(candidates), CHUNK):
        chunk = np.asarray(candidates[start:start + CHUNK], np.int64)
        ids, distances = index.search_many(index.vectors_of(chunk), depth, allowed=teachers)
        for row, sample_id in enumerate(chunk.tolist()):
            found = ids[row] >= 0
            yield sample_id, list(zip(ids[row][found].tolist(), distances[row][found].tolist()))


@dataclass
class Lesson:
    """The category a sample's named neighbours vote for, and how sure the vote is."""

    category: str
    confidence: float
    neighbours: int  # how many of them voted for it


def tally(neighbours: list[tuple[int, float]], labels_of: Callable[[int], Iterable[str]],
          ) -> tuple[dict[str, float], dict[str, int], float]:
    """(weighted votes per label, neighbours per label, all votes plus DOUBT) of
    neighbours given as (id, squared distance); each neighbour votes for its labels."""
    votes: dict[str, float] = defaultdict(float)
    support: dict[str, int] = defaultdict(int)
    total = DOUBT
    for teacher, squared in neighbours:
        weight = vote_weight(squared)
        total += weight
        for label in labels_of(teacher):
            votes[label] += weight
            support[label] += 1
    return votes, support, total


def category_vote(neighbours: list[tuple[int, float]], labels: dict[int, str]) -> Lesson | None:
    """The weighted vote of labelled neighbours; None without any."""
    votes, support, total = tally(neighbours, lambda teacher: (labels[teacher],))
    if not votes:
        return None
    best = max(votes, key=lambda category: (votes[category], category))
    return Lesson(best, votes[best] / total, support[best])


def combine(own: str | None, own_confidence: float | None, lesson: Lesson
            ) -> tuple[str, float, str] | None:
    """(category, confidence, source) from the sound's own guess and the library's lesson;
    None when the own guess stands unchanged."""
    mine = own_confidence or 0.0
    if own == lesson.category:  # two independent signs of one answer
        return own, 1 - (1 - mine) * (1 - lesson.confidence), TAUGHT_SOURCE
    if own is None or lesson.confidence > mine + OVERRULE_MARGIN:
        return lesson.category, lesson.confidence, TAUGHT_SOURCE
    return None


def contradiction(neighbours: list[tuple[int, float]], labels: dict[int, str],
                  corrected: dict[int, str], category: str | None) -> float:
    """How strongly the owner's corrections (`set`, `review`) among the neighbours say the
    sound's guess is the model's mistake here: the weighted votes of neighbours the model
    also took for `category` and the owner said are something else, over all the owner's
    votes plus DOUBT (0 without such corrections). Such a guess loses that share of its
    confidence, so a lesson can overrule it and the next review question can find it. (A
    neighbour the owner called something else but the model never took for `category` says
    nothing against it: a hi-hat next to a cymbal is no sign the cymbal is wrong.)"""
    against = total = 0.0
    for teacher, squared in neighbours:
        if teacher in corrected:
            weight = vote_weight(squared)
            total += weight
            if corrected[teacher] == category and labels.get(teacher) != category:
                against += weight
    return against / (DOUBT + total) if against else 0.0


@dataclass
class TeachReport:
    """What one round of teaching did."""

    teachers: int = 0
    candidates: int = 0
    changed: int = 0


def teach_categories(catalog: Catalog, index: Callable[[], VectorIndex],
                     k: int = NEIGHBOURS, also: Iterable[int] = ()) -> TeachReport:
    """Give the one-shots whose category only the sound suggests (or an earlier lesson)
    the category their named neighbours vote for, where that vote is the surer answer.
    Loops keep their own: their category is never guessed from sound. `index` gives the
    current vector index; it is only asked for when there is something to learn or undo.
    `also`: samples to reconsider besides the changed ones (those whose sound consensus may
    have moved with their neighbours, consensus.agree's `asked`)."""
    report = TeachReport()
    sources = ", ".join(f"'{source}'" for source in TEACHING_SOURCES)
    teachers_named, taught, answered = catalog.query(
        f"SELECT count(category_source IN ({sources}) OR NULL), "
        f"count(category_source = '{TAUGHT_SOURCE}' OR NULL), "
        "count(category_source = 'user' OR NULL) FROM samples "
        "WHERE type = 'oneshot'")[0]
    if teachers_named < MIN_TEACHERS and not taught and not answered:
        report.teachers = teachers_named
        return report
    generation = catalog.generation  # what this round reads (or newer)
    vectors = index()
    known = vectors.ids()
    rows = catalog.query(
        "SELECT id, category, category_confidence, category_source FROM samples "
        "WHERE type = 'oneshot'")
    answers = np.array([row[0] for row in rows if row[3] == "user"], np.int64)
    labels = {sample_id: category for sample_id, category, _, source in rows
              if source in TEACHING_SOURCES and category}
    teachers = np.array(sorted(labels), np.int64)
    teachers = teachers[np.isin(teachers, known)]
    report.teachers = len(teachers)
    own = {sample_id: (category, confidence, source) for sample_id, category, confidence, source
           in rows if source in (None, "dsp", TAUGHT_SOURCE)}
    candidates = np.array(sorted(own), np.int64)
    candidates = candidates[np.isin(candidates, known)]
    if report.teachers < MIN_TEACHERS:  # too few names to learn from: earlier lessons are
        # undone, but the owner's own answers (`set`, `review`) teach from the first one
        teachers = teachers[np.isin(teachers, answers)]
    # With the same teachers as last time, only samples changed since then can learn
    # anything new: an incremental scan of a 100k library then costs milliseconds, not the
    # 2.5 s of asking every unnamed one-shot again.
    fingerprint = hashlib.blake2b(
        ";".join(f"{i}:{labels[i]}" for i in teachers.tolist()).encode(), digest_size=16
    ).hexdigest()
    last = dict(catalog.query("SELECT key, value FROM meta WHERE key IN "
                              "('teach_fingerprint', 'teach_generation')"))
    if last.get("teach_fingerprint") == fingerprint and "teach_generation" in last:
        _, changed, _ = catalog.changes_since(int(last["teach_generation"]))
        wanted = np.array(sorted(set(changed) | set(also)), np.int64)
        candidates = candidates[np.isin(candidates, wanted)]
    report.candidates = len(candidates)
    guesses = consensus.guesses(catalog, vectors, [i for i in candidates.tolist()
                                                   if own[i][2] == TAUGHT_SOURCE])
    # what the sound model makes of each sample the owner answered: teacher -> that guess
    mistaken = {i: guess for i, (guess, _) in consensus.guesses(
        catalog, vectors, answers[np.isin(answers, known)].tolist()).items()} if len(answers) else {}
    updates: list[tuple[str | None, float | None, str | None, int]] = []
    lessons = dict(nearest_teachers(vectors, teachers, candidates, k)) if len(candidates) else {}
    for sample_id in candidates.tolist():
        neighbours = lessons.get(sample_id, [])
        category, confidence, source = own[sample_id]
        if source == TAUGHT_SOURCE:  # start again from the sound's own guess
            category, confidence = guesses.get(sample_id, (None, None))  # (consensus.py)
            source = "dsp" if category else None
        lesson = category_vote(neighbours, labels)
        doubt = contradiction(neighbours, labels, mistaken, category)
        if doubt and confidence is not None:  # the owner said a sound like it is not that
            confidence, source = round(confidence * (1 - doubt), 3), TAUGHT_SOURCE
        # the margin was tuned on the sound's raw probability: weigh the lesson against that
        mine = raw_score("category", confidence, category) if source == "dsp" else confidence
        answer = combine(category, mine, lesson) if lesson else None
        new = (answer[0], round(answer[1], 3), answer[2]) if answer else \
            (category, confidence, source)
        if new != own[sample_id]:
            updates.append((*new, sample_id))
    catalog.set_categories(updates)
    catalog.set_meta({"teach_fingerprint": fingerprint,  # where the next round may start
                      "teach_generation": str(catalog.resume_point(generation, bool(updates)))})
    report.changed = len(updates)
    return report

