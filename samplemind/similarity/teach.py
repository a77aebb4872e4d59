"""What the user's own library teaches: samples someone named or tagged lend their labels
to the unnamed samples that sound like them.

Two uses: tag suggestions (organise.suggest_tags: the tags of user-tagged neighbours) and
categories (teach_categories: the category of named neighbours, after each scan). Both
weigh each neighbour's vote by how near it is, exp(-(d / REACH)^2), on the distance
scale of `samplemind similar` (0 the same sound, about 1.4 two unrelated ones), and count
DOUBT votes for "none of these", so distant or disagreeing neighbours give a low
confidence. Where the owner answered (`set`, `review`), a lesson moves a sound off its own
guess only when a teacher of the new category is more alike than the sound's own evidence
(_nearer): measured by benchmarks/review.py (814 unnamed real one-shots, the 50 answers of
questions by lowest confidence), the answers' neighbours made right / wrong went from 36 / 32
to 16 / 12, top-1 after 20 answers 0.781 -> 0.786. A sample is at least as sure of its
category as the most alike answer that gave it (agreement): the review picker's top-1 after 20
/ 50 answers went from 0.770 / 0.781 to 0.777 / 0.793, and on tests/test_review.py's generated
sounds it reaches the truth in 8 answers instead of 31. One answer alone moves every sound it
is more alike than the sound is sure, by the margin any lesson needs (_alike): with the
picker of review.expected_fix, top-1 after 20 / 50 answers 0.805 / 0.831, the answers'
neighbours made right / wrong 40 / 1 (26 / 18 before).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..analysis.calibration import maps, raw_score
from ..catalog import Catalog
from . import consensus, oneshots
from .index import VectorIndex
from .oneshots import mixed
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
# How many named neighbours as near one of the owner's own answers (`set`, `review`) votes
# as. Measured by benchmarks/review.py --answer-weight (814 unnamed real one-shots, top-1
# over the unanswered after 20 / 50 answers): 3 took the picker from 0.770 / 0.781 to
# 0.776 / 0.787 but questions by lowest confidence from 0.781 / 0.795 to 0.753 / 0.798
# (toms near answered basses and tonal sounds taught wrong): kept at 1.
ANSWER_WEIGHT = 1.0


def vote_weight(squared_distance: float) -> float:
    """A neighbour's vote from its squared distance in the index (equal aspect weights)."""
    if type(squared_distance) is float:  # remembered: answers among near-copies weigh the
        weight = _weights.get(squared_distance)  # same distances again (20k a relearn at 100k)
        if weight is None or _weights_at[0] != (REACH, len(ASPECTS)):
            if len(_weights) > 200_000 or _weights_at[0] != (REACH, len(ASPECTS)):
                _weights.clear()
                _weights_at[0] = (REACH, len(ASPECTS))
            weight = _weights[squared_distance] = _vote_weight(squared_distance)
        return weight
    return _vote_weight(squared_distance)


def _vote_weight(squared_distance: float) -> float:
    distance = math.sqrt(max(squared_distance, 0.0) / len(ASPECTS))
    return math.exp(-(distance / REACH) ** 2)


_weights: dict[float, float] = {}
_weights_at: list[tuple[float, int]] = [(REACH, len(ASPECTS))]  # what _weights were weighed with


def nearest_teachers(index: VectorIndex, teachers: np.ndarray, candidates: np.ndarray, k: int,
                     population: int | None = None, exact: bool | None = None,
                     ) -> Iterator[tuple[int, list[tuple[int, float]]]]:
    """For each candidate id: its k nearest teachers as (teacher id, squared distance),
    nearest first. Exact while the product of the teachers and the `population` of
    candidates (default: these) is small, else by the index restricted to the teachers
    (approximate on an IVF index, like `similar`). A round over some of the candidates
    passes them all as the population, so each one finds what a round over all finds
    (`exact` forces the choice: a search among some of the teachers that must match one
    among all of them)."""
    teachers = np.ascontiguousarray(teachers, np.int64)
    depth = min(k, len(teachers))
    if depth == 0:
        return
    if exact is None:
        exact = len(teachers) * (len(candidates) if population is None else population) \
            <= EXACT_LIMIT
    if exact:
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
          answers: Container[int] = (),
          ) -> tuple[dict[str, float], dict[str, int], float]:
    """(weighted votes per label, neighbours per label, all votes plus DOUBT) of
    neighbours given as (id, squared distance); each neighbour votes for its labels, the
    owner's `answers` ANSWER_WEIGHT times."""
    votes: dict[str, float] = defaultdict(float)
    support: dict[str, int] = defaultdict(int)
    total = DOUBT
    for teacher, squared in neighbours:
        weight = vote_weight(squared) * (ANSWER_WEIGHT if teacher in answers else 1.0)
        total += weight
        for label in labels_of(teacher):
            votes[label] += weight
            support[label] += 1
    return votes, support, total


def category_vote(neighbours: list[tuple[int, float]], labels: Mapping[int, str],
                  answers: Container[int] = ()) -> Lesson | None:
    """The weighted vote of labelled neighbours; None without any. (tally's sums, in its
    order, for one label each: this runs for every sample a round or an answer teaches.)"""
    votes: dict[str, float] = {}
    support: dict[str, int] = {}
    total = DOUBT
    for teacher, squared in neighbours:
        weight = vote_weight(squared) * (ANSWER_WEIGHT if teacher in answers else 1.0)
        total += weight
        label = labels[teacher]
        votes[label] = votes.get(label, 0.0) + weight
        support[label] = support.get(label, 0) + 1
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


def contradiction(neighbours: list[tuple[int, float]], labels: Mapping[int, str],
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
            weight = vote_weight(squared) * ANSWER_WEIGHT
            total += weight
            if corrected[teacher] == category and labels.get(teacher) != category:
                against += weight
    return against / (DOUBT + total) if against else 0.0


def agreement(neighbours: list[tuple[int, float]], labels: Mapping[int, str],
              answers: Container[int], category: str) -> float:
    """How alike (vote weight, 0-1) the most alike of the owner's answers among the
    neighbours that gave `category` is: on the scale _nearer weighs a sound's own
    confidence with, the chance that the sound is what that answer says (0 without such an
    answer). contradiction's counterpart: the answers' agreement is evidence too. A sample
    whose category an answer this alike gave is at least this sure, so the review picker
    does not ask again what an answer near it settled (before, a "yes, kick" answer among
    ten others added ~0.2 to its neighbours' confidence, its vote share, and the picker went
    on asking the kicks around it one by one)."""
    nearest = 0.0
    for teacher, squared in neighbours:
        if teacher in answers and labels.get(teacher) == category:
            nearest = max(nearest, vote_weight(squared))
    return nearest


@dataclass
class TeachReport:
    """What one round of teaching did."""

    teachers: int = 0
    candidates: int = 0
    changed: int = 0
    changed_ids: list[int] = field(default_factory=list)
    # relearn only: (type, category, confidence, source) of each sample it taught, as it
    # read them (before) and left them (after), so an answer needs no reads of its own
    before: dict[int, tuple] = field(default_factory=dict)
    after: dict[int, tuple] = field(default_factory=dict)


# -- the lesson of one sample ---------------------------------------------------------------
#
# A full round and an answer's relearning (below) decide each sample with these same steps,
# so an answer taught to the few samples it reaches leaves the library as a full round
# would (tests/test_review_incremental.py).

Row = tuple[str | None, float | None, str | None]  # (category, confidence, source)


def _decide(base: Row, neighbours: list[tuple[int, float]], labels: Mapping[int, str],
            mistaken: dict[int, str], answers: Container[int]) -> Row:
    """The category of a sample from its sound's own guess (`base`, source "dsp" or None)
    and its nearest teachers."""
    category, confidence, source = base
    sound = confidence  # what the sound alone says, before any answer doubts it
    lesson = category_vote(neighbours, labels, answers)
    doubt = contradiction(neighbours, labels, mistaken, category)
    if doubt and confidence is not None:  # the owner said a sound like it is not that
        confidence, source = round(confidence * (1 - doubt), 3), TAUGHT_SOURCE
    # the margin was tuned on the sound's raw probability: weigh the lesson against that
    mine = _raw_category(category, confidence) if source == "dsp" else confidence
    answer = combine(category, mine, lesson) if lesson else None
    heard = category is not None and sound is not None \
        and any(teacher in answers for teacher, _ in neighbours)
    if answer and answer[0] != category and heard \
            and not _nearer(neighbours, labels, answers, answer[0], category, sound):
        answer = None  # the owner's answers do not reach it: its own evidence is nearer
    if heard and (answer is None or answer[0] == category):
        answer = _alike(neighbours, labels, answers, category, sound) or answer
    if answer:
        category, confidence, source = answer[0], round(answer[1], 3), answer[2]
    settled = agreement(neighbours, labels, answers, category) if category is not None else 0.0
    if settled > (confidence or 0.0):  # an answer as alike as this gave the same category
        confidence, source = round(settled, 3), TAUGHT_SOURCE
    return category, confidence, source


def _nearer(neighbours: list[tuple[int, float]], labels: Mapping[int, str],
            answers: Container[int], lesson: str, own: str, sound: float) -> bool:
    """Whether a teacher of the `lesson`'s category is more alike (vote weight) than the
    sample's own evidence for its guess `own`: the nearest teacher agreeing with it, or the
    sound itself, a teacher at distance 0 that votes with the guess's calibrated confidence
    (the chance it is right). Where the owner answered, a lesson moves a sound only then:
    the doubt an answer casts on the model's like guesses around it, and a vote share
    summed over distant teachers, do not overwrite a sound surer than the answer is alike."""
    nearest = {lesson: 0.0, own: sound}
    for teacher, squared in neighbours:
        label = labels[teacher]
        if label in nearest:
            weight = vote_weight(squared) * (ANSWER_WEIGHT if teacher in answers else 1.0)
            nearest[label] = max(nearest[label], weight)
    return nearest[lesson] > nearest[own]


def _alike(neighbours: list[tuple[int, float]], labels: Mapping[int, str],
           answers: Container[int], own: str, sound: float) -> Row | None:
    """The category of the most alike of the owner's answers that gave another category
    than the sound's guess `own`, as (category, its vote weight, TAUGHT_SOURCE), when it is
    more alike than the sound's own evidence (_nearer): the nearest teacher agreeing with
    the guess, or the guess's calibrated confidence `sound` plus OVERRULE_MARGIN, the margin
    any lesson needs to overrule the sound (combine). Else None.

    One answer alone moves the sounds it is the most alike evidence of. Before, an answer
    taught only through the lessons' vote share (category_vote: a lone vote over DOUBT plus
    itself, 0.48 for an answer 0.92 alike), so one near answer moved only sounds less than a
    third sure, and the picker asked the rest of a kit's velocity layers one by one. Measured
    by benchmarks/review.py (814 unnamed real one-shots, the answers' neighbours made right /
    wrong over 50 answers): without the margin the picker's 58 / 28, random's 28 / 17 and
    lowest confidence's 13 / 16 (a "yes, hi-hat" answer took 20 cymbal guesses 0.31-0.56
    away, 9 of them right, that were 0.53-0.67 sure); with it 40 / 1, 14 / 2 and 15 / 4."""
    best, weight = None, 0.0
    for teacher, squared in neighbours:
        if teacher in answers and labels[teacher] != own:
            w = vote_weight(squared) * ANSWER_WEIGHT
            if w > weight:
                best, weight = labels[teacher], w
    if best is None or not _nearer(neighbours, labels, answers, best, own,
                                       sound + OVERRULE_MARGIN):
        return None
    return best, weight, TAUGHT_SOURCE


_raw_scores: dict[tuple[int, str | None, float | None], float | None] = {}


def _raw_category(category: str | None, confidence: float | None) -> float | None:
    """raw_score of a category's confidence, remembered per calibration: confidences have
    three decimals, and an answer among thousands of near-copies asks the same ones again."""
    key = (id(maps()), category, confidence)
    if key not in _raw_scores:
        if len(_raw_scores) > 100_000:
            _raw_scores.clear()
        _raw_scores[key] = raw_score("category", confidence, category)
    return _raw_scores[key]


def _reach(neighbours: list[tuple[int, float]], k: int) -> float | None:
    """How near a new teacher must come to be heard: the squared distance of the farthest of
    the k nearest (None while fewer were found: any new one is heard)."""
    return neighbours[-1][1] if len(neighbours) >= k else None


def _label_hash(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "little")


_mixed = mixed  # (splitmix64, similarity/oneshots.py)


def _teacher_hashes(ids: np.ndarray, labels: list[str]) -> np.ndarray:
    """One 64-bit hash per (teacher, label), vectorised: a million teachers in milliseconds
    (a blake2b per teacher took 3 s of each round at 1M samples)."""
    codes = {label: _label_hash(label) for label in set(labels)}
    by_label = np.array([codes[label] for label in labels], np.uint64)
    return _mixed(_mixed(np.asarray(ids, np.int64).astype(np.uint64)) ^ by_label)


def _teacher_hash(sample_id: int, label: str) -> int:
    return int(_teacher_hashes(np.array([sample_id], np.int64), [label])[0])


def fingerprint(teachers: Iterable[int], labels: dict[int, str]) -> str:
    """Which teachers with which labels a round had: a sum of one hash per teacher, so the
    order does not matter and one answer changes it by one term."""
    ids = list(teachers)
    if not ids:
        return "0"
    with np.errstate(over="ignore"):
        return str(int(_teacher_hashes(np.array(ids, np.int64), [labels[i] for i in ids])
                       .sum(dtype=np.uint64)))


def _save_lessons(catalog: Catalog, rows: list[tuple[int, float | None, int, str | None,
                                                     float | None]]) -> None:
    """Keep what each sample's lesson was made of (migration m016); not a catalog change."""
    if rows:
        with catalog.transaction(bump=False):
            _write_lessons(catalog, rows)


def _write_lessons(catalog: Catalog, rows: list[tuple[int, float | None, int, str | None,
                                                      float | None]]) -> None:
    """_save_lessons inside a transaction the caller holds."""
    catalog.conn.executemany(
        "INSERT OR REPLACE INTO lessons (sample_id, reach, heard, sound_category, "
        "sound_confidence) VALUES (?, ?, ?, ?, ?)", rows)


def _left_alone(catalog: Catalog, generation: int, updates: list[tuple], lessons: list[tuple]
                ) -> tuple[list[tuple], list[tuple]]:
    """A round's category updates (id last) and lessons (id first) without the samples that
    changed after `generation`, the catalog as the round read it: inside the round's write
    transaction, what another process wrote in between (a correction in the web UI, by
    `samplemind set`, a scan) wins, as consensus.agree's only_from lets a name win."""
    if catalog.generation == generation:
        return updates, lessons
    since = {i for (i,) in catalog.query(
        "SELECT sample_id FROM sample_changes WHERE generation > ?", [generation])}
    return ([row for row in updates if row[-1] not in since],
            [lesson for lesson in lessons if lesson[0] not in since])


_META = ("teach_fingerprint", "teach_generation", "teach_settled", "consensus_generation",
         "teach_index")


def _state(catalog: Catalog) -> dict[str, str]:
    marks = ", ".join("?" for _ in _META)
    return dict(catalog.query(f"SELECT key, value FROM meta WHERE key IN ({marks})",
                              list(_META)))


def _index_stamp(vectors: VectorIndex, exact: bool) -> str:
    """What a round's searches depend on besides the vectors: the index's build (its
    clusters and probes) and whether distances were exact. Vectors added to or removed from
    the same build move no other search."""
    info = vectors.info
    return f"{info.kind}:{info.built_at}:{info.nprobe}:{info.nlist}:{info.fitted_count}:{int(exact)}"


Departed = tuple[int, dict[int, bytes]]


def departed_sounds(catalog: Catalog) -> Departed | None:
    """(the generation of the last round of lessons, the raw vector of each sample removed
    since) while the removal log still holds every one of them, else None. Read before the
    index is brought up to date: that prunes the log (similarity/manager.py)."""
    last = _state(catalog)
    if "teach_generation" not in last:
        return None
    since = int(last["teach_generation"])
    if since < catalog.oldest_removal_kept():
        return None
    _, removed = catalog.vector_changes(since)
    return since, {i: raw for i, raw, *_ in catalog.removed_sounds(removed) if raw is not None}


def _reached(catalog: Catalog, vectors: VectorIndex, last: dict[str, str], fingerprinted: str,
             stamp: str, heard_now: dict[int, str], candidates: np.ndarray, also: set[int],
             answers: set[int], departed: Departed | None,
             ) -> tuple[dict[int, str] | None, np.ndarray | None]:
    """(the teachers of the last round, or None when not known; the candidates this round
    must ask, or None for all of them).

    A candidate hears its k nearest teachers, so after the last round only these can learn
    something new: the samples changed since (a new sound, a rename, a guess the sound
    consensus moved) and `also`; and when the teachers changed (a named pack scanned in, a
    teacher renamed or removed, an answer whose sound guess moved), the candidates no
    farther from one of those teachers than their own k-th nearest teacher was (`reach`,
    table `lessons`): a teacher further away enters or leaves no one's k nearest. The last
    round's teachers are kept (table `teachers`, migration m017) to compare with. All of
    them are asked when that cannot be said: no earlier round, another index build or kind of
    search, removals pruned from the log, or a teacher whose sound was re-analysed (where it
    was is not kept)."""
    if "teach_generation" not in last:
        return None, None
    since = int(last["teach_generation"])
    _, changed, removed = catalog.changes_since(since)
    asked = set(changed) | also
    if last.get("teach_fingerprint") == fingerprinted and last.get("teach_index") != stamp:
        # the same teachers as last time: only what changed can learn anything new (an
        # incremental scan of a 100k library costs milliseconds, not seconds)
        return None, np.array(sorted(asked), np.int64)
    if last.get("teach_index") != stamp or departed is None or departed[0] != since:
        return None, None
    if last.get("teach_fingerprint") == fingerprinted:  # the same teachers: nothing to compare
        return heard_now, np.array(sorted(asked), np.int64)
    before = dict(catalog.query("SELECT sample_id, label FROM teachers"))
    moved = {i for i in before.keys() | heard_now.keys() if before.get(i) != heard_now.get(i)}
    moved |= answers & (also | set(changed))  # the sound consensus's guess of an answer may move
    reanalysed, _ = catalog.vector_changes(since)
    if any(i in before for i in reanalysed):
        return before, None
    ordered = np.array(sorted(moved), np.int64)
    where = ordered[np.isin(ordered, vectors.ids())].tolist()
    points = [vectors.vectors_of(np.array(where, np.int64))] if where else []
    gone = sorted(set(moved) - set(where))
    if gone:
        kept = departed[1]
        if not all(i in kept for i in gone):  # neither in the index nor in the removal log
            return before, None
        raw = np.frombuffer(b"".join(kept[i] for i in gone), np.float32).reshape(len(gone), -1)
        points.append(vectors.standardiser.transform(raw).astype(np.float32))
    if not points or not len(candidates):
        return before, np.array(sorted(asked), np.int64)
    moved_at = np.concatenate(points)
    reach = dict(catalog.query("SELECT sample_id, reach FROM lessons WHERE reach IS NOT NULL"))
    limit = np.array([reach.get(i, np.inf) for i in candidates.tolist()], np.float64)
    far = np.isfinite(limit)
    near = candidates[~far].tolist()  # heard fewer than k teachers: any new one is heard
    squared = (moved_at.astype(np.float64) ** 2).sum(axis=1)
    ids, bound = candidates[far], limit[far]
    for start in range(0, len(ids), CHUNK):
        chunk = vectors.vectors_of(ids[start:start + CHUNK]).astype(np.float64)
        distance = (chunk ** 2).sum(axis=1)[:, None] - 2 * chunk @ moved_at.T.astype(np.float64) \
            + squared[None, :]
        # (a little slack: the index measured the reach in its own float order)
        within = (distance <= (bound[start:start + CHUNK] * (1 + 1e-4) + 1e-4)[:, None]).any(axis=1)
        near += ids[start:start + CHUNK][within].tolist()
    return before, np.array(sorted(asked | set(near)), np.int64)


def _save_teachers(catalog: Catalog, before: dict[int, str] | None, now: dict[int, str]) -> None:
    """Keep the teachers a round heard (migration m017): only those that changed since the
    last round's, when those are known. Not a catalog change."""
    if before is now:  # the same teachers as the last round (_reached)
        return
    with catalog.transaction(bump=False):
        if before is None:
            catalog.conn.execute("DELETE FROM teachers")
            gone, came = [], list(now.items())
        else:
            gone = [(i,) for i in before if i not in now]
            came = [(i, label) for i, label in now.items() if before.get(i) != label]
        catalog.conn.executemany("DELETE FROM teachers WHERE sample_id = ?", gone)
        catalog.conn.executemany("INSERT OR REPLACE INTO teachers (sample_id, label) "
                                 "VALUES (?, ?)", came)


LABELS_READ_AT = 5_000  # candidates in a round above which the teachers' labels become a dict


class _Labels(Mapping):
    """The label of each one-shot that teaches (a teaching source and a category), looked
    up in the one-shots kept in memory: a round asking a few samples looks up a few labels,
    with no dict of every teacher's."""

    def __init__(self, shots: oneshots.OneShots) -> None:
        self.shots = shots
        named = np.array([bool(name) for name in shots.names], bool)[shots.category]
        self.teaching = shots.of_source(*TEACHING_SOURCES) & named

    def __getitem__(self, sample_id: int) -> str:
        at = self.shots.positions([sample_id])
        if not len(at) or not self.teaching[at[0]]:
            raise KeyError(sample_id)
        return self.shots.names[int(self.shots.category[at[0]])]  # type: ignore[return-value]

    def __iter__(self) -> Iterator[int]:
        return iter(self.shots.ids[self.teaching].tolist())

    def __len__(self) -> int:
        return int(np.count_nonzero(self.teaching))

    def of(self, ids: np.ndarray) -> dict[int, str]:
        """{id: label} of these teachers, at once."""
        names = self.shots.names
        return dict(zip(ids.tolist(), (names[c] for c in
                                       self.shots.category[self.shots.positions(ids)].tolist())))


class _Heard(Mapping):
    """The teachers a round hears with their labels (what table `teachers` keeps): a dict
    made only when a label is asked for (the teachers changed since the last round)."""

    def __init__(self, teachers: np.ndarray, labels: _Labels) -> None:
        self.teachers, self.labels = teachers, labels
        self._dict: dict[int, str] | None = None

    def _whole(self) -> dict[int, str]:
        if self._dict is None:
            self._dict = self.labels.of(self.teachers)
        return self._dict

    def __getitem__(self, sample_id: int) -> str:
        return self._whole()[sample_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self.teachers)


def _fingerprint_of(shots: oneshots.OneShots, teachers: np.ndarray) -> str:
    """fingerprint(teachers, their labels), from the kept one-shots' label codes (the same
    sum, without a Python object per teacher)."""
    if not len(teachers):
        return "0"
    codes = shots.category[shots.positions(teachers)]
    hashes = np.array([_label_hash(name or "") for name in shots.names], np.uint64)
    with np.errstate(over="ignore"):
        return str(int(_mixed(_mixed(teachers.astype(np.int64).astype(np.uint64))
                              ^ hashes[codes]).sum(dtype=np.uint64)))


def teach_categories(catalog: Catalog, index: Callable[[], VectorIndex],
                     k: int = NEIGHBOURS, also: Iterable[int] = (),
                     departed: Departed | None | bool = False) -> TeachReport:
    """Give the one-shots whose category only the sound suggests (or an earlier lesson)
    the category their named neighbours vote for, where that vote is the surer answer.
    Loops keep their own: their category is never guessed from sound. `index` gives the
    current vector index; it is only asked for when there is something to learn or undo.
    `also`: samples to reconsider besides the changed ones (those whose sound consensus may
    have moved with their neighbours, consensus.agree's `asked`). `departed`: what
    departed_sounds() said before anything brought the index up to date (read here when not
    given). Every one-shot's category is read from the copy kept in memory and brought up
    to date from the change feed (oneshots.py), not from the catalog's every row."""
    if departed is False:
        departed = departed_sounds(catalog)
    assert departed is not True
    report = TeachReport()
    shots = oneshots.current(catalog)
    teachers_named = shots.count(*TEACHING_SOURCES)
    taught = shots.count(TAUGHT_SOURCE)
    answered = shots.count("user")
    if teachers_named < MIN_TEACHERS and not taught and not answered:
        report.teachers = teachers_named
        return report
    last = _state(catalog)
    generation = catalog.generation  # what this round reads (or newer)
    vectors = index()
    # in the index: the rows with a vector of its layout, while it is as current as they are
    known = shots.in_index(vectors)
    if known is None:
        known = np.isin(shots.ids, vectors.ids())
    answers = shots.ids[shots.of_source("user")]
    labels = _Labels(shots)
    teachers = shots.ids[labels.teaching & known]
    report.teachers = len(teachers)
    candidates = shots.ids[shots.of_source(None, "dsp", TAUGHT_SOURCE) & known]
    population = len(candidates)
    if report.teachers < MIN_TEACHERS:  # too few names to learn from: earlier lessons are
        # undone, but the owner's own answers (`set`, `review`) teach from the first one
        teachers = teachers[np.isin(teachers, answers)]
    # With the same teachers as last time, only samples changed since then can learn
    # anything new: an incremental scan of a 100k library then costs milliseconds, not the
    # 2.5 s of asking every unnamed one-shot again.
    fingerprinted = _fingerprint_of(shots, teachers)
    heard_now = _Heard(teachers, labels)
    stamp = _index_stamp(vectors, len(teachers) * population <= EXACT_LIMIT)
    heard_before, wanted = _reached(catalog, vectors, last, fingerprinted, stamp, heard_now,
                                    candidates, set(also), set(answers.tolist()), departed)
    if wanted is not None:
        candidates = candidates[np.isin(candidates, wanted)]
    report.candidates = len(candidates)
    own = {i: (category, confidence, source) for i, category, confidence, source in
           shots.rows(shots.positions(candidates))}
    # many lookups: a dict of the teachers' labels (every one looked up is a teacher)
    lookup: Mapping[int, str] = labels.of(teachers) if len(candidates) > LABELS_READ_AT \
        else labels
    guesses = consensus.guesses(catalog, vectors, [i for i in candidates.tolist()
                                                   if own[i][2] == TAUGHT_SOURCE])
    # what the sound model makes of each sample the owner answered: teacher -> that guess
    mistaken = {i: guess for i, (guess, _) in consensus.guesses(
        catalog, vectors, answers[known[shots.positions(answers)]].tolist()).items()} \
        if len(answers) else {}
    updates: list[tuple[str | None, float | None, str | None, int]] = []
    kept = []
    answered = set(answers.tolist())
    lessons = dict(nearest_teachers(vectors, teachers, candidates, k, population)) \
        if len(candidates) else {}
    for sample_id in candidates.tolist():
        neighbours = lessons.get(sample_id, [])
        base = own[sample_id]
        if base[2] == TAUGHT_SOURCE:  # start again from the sound's own guess
            category, confidence = guesses.get(sample_id, (None, None))  # (consensus.py)
            base = (category, confidence, "dsp" if category else None)
        new = _decide(base, neighbours, lookup, mistaken, answered)
        kept.append((sample_id, _reach(neighbours, k), len(neighbours), base[0], base[1]))
        if new != own[sample_id]:
            updates.append((*new, sample_id))
    # What another process changed since this round read (a correction in the web UI, a
    # second scan) wins: left to the next round, which starts from the read (resume_point).
    if updates:
        with catalog.transaction():
            updates, kept = _left_alone(catalog, generation, updates, kept)
            catalog.write_categories(updates)
    else:  # (no write lock taken for nothing, as set_categories takes none)
        kept = _left_alone(catalog, generation, updates, kept)[1]
    _save_lessons(catalog, kept)
    _save_teachers(catalog, heard_before, heard_now)
    # Settled: the sound consensus had seen everything this round read, so an answer may
    # be taught to the samples it reaches alone (relearn) until anything else changes.
    settled = last.get("consensus_generation") == str(generation)
    catalog.set_meta({"teach_fingerprint": fingerprinted,  # where the next round may start
                      "teach_index": stamp,
                      "teach_generation": str(catalog.resume_point(generation, bool(updates))),
                      "teach_settled": "1" if settled else "0"})
    report.changed = len(updates)
    report.changed_ids = sorted(i for *_, i in updates)
    return report


# -- one answer, taught where it reaches ---------------------------------------------------


@dataclass
class _Known:
    """What the last round or answer knew of a catalog, good while its generation and
    index stay: the teachers, and the candidates with their reach (and vectors)."""

    generation: int
    index: tuple[int, int]  # (id, version) of the VectorIndex
    labels: dict[int, str]  # teacher -> label (a teaching source and a category)
    teachers: np.ndarray  # the labelled ones in the index, sorted
    answers: set[int]  # one-shots the owner answered
    candidates: np.ndarray | None = None  # in the index, sorted
    reach: np.ndarray | None = None
    vectors: np.ndarray | None = None
    voters: np.ndarray | None = None  # consensus.listeners: answers change no type
    # consensus.guesses by sample (None: the model has none): they hear sounds, which no
    # answer changes, so an answer's undo or the next answer near it asks nothing again
    sound: dict[int, tuple[str, float] | None] = field(default_factory=dict)
    lists: np.ndarray | None = None  # IVF: the lists each candidate's search visits (-2: not yet)
    list_far: np.ndarray | None = None  # and the squared distance to each list's centroid
    # IVF: each candidate's nearest teachers as last searched (relearn keeps them up to date)
    near: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    # (teacher, the lists it entered as they were before) of the last relearn, if it added one
    undo: tuple[int, dict[int, list[tuple[int, float]]]] | None = None


_known: dict[str, _Known] = {}  # by catalog file: an answer after an answer reads no table


def _index_key(vectors: VectorIndex) -> tuple[int, int]:
    return id(vectors), vectors.version


def _teachers(catalog: Catalog, vectors: VectorIndex) -> _Known:
    known = _known.get(str(catalog.path))
    if known is not None and known.generation == catalog.generation \
            and known.index == _index_key(vectors):
        return known
    sources = ", ".join(f"'{source}'" for source in TEACHING_SOURCES)
    named = catalog.query(
        f"SELECT id, category, category_source FROM samples WHERE type = 'oneshot' "
        f"AND category_source IN ({sources})")
    labels = {i: category for i, category, _ in named if category}
    teachers = np.array(sorted(labels), np.int64)
    known = _Known(catalog.generation, _index_key(vectors), labels,
                   teachers[np.isin(teachers, vectors.ids())],
                   {i for i, _, source in named if source == "user"})
    _known[str(catalog.path)] = known
    return known


def _candidates(catalog: Catalog, vectors: VectorIndex, known: _Known) -> None:
    """The candidates in the index with their reach and vectors, read once."""
    if known.candidates is not None:
        return
    rows = catalog.query(
        "SELECT s.id, l.reach, l.sample_id FROM samples s LEFT JOIN lessons l "
        "ON l.sample_id = s.id WHERE s.type = 'oneshot' AND (s.category_source IS NULL OR "
        f"s.category_source IN ('dsp', '{TAUGHT_SOURCE}')) ORDER BY s.id")
    ids = np.array([r[0] for r in rows], np.int64)
    inside = np.isin(ids, vectors.ids())
    known.candidates = ids[inside]
    known.reach = np.array([np.inf if r[1] is None or r[2] is None else r[1] for r in rows],
                           np.float64)[inside]
    known.vectors = vectors.vectors_of(known.candidates) if len(known.candidates) else \
        np.zeros((0, 0), np.float32)


def _probed(known: _Known, vectors: VectorIndex, rows: np.ndarray) -> np.ndarray | None:
    """The lists the searches of the candidates at `rows` visit (VectorIndex.probed), each
    asked of the quantizer once per index: an answer among near-copies asks about the same
    thousands again (35 ms of quantizer search at 100k samples)."""
    assert known.vectors is not None
    if vectors.info.kind != "ivf":
        return None
    if known.lists is None:
        width = vectors.probed(known.vectors[:1]).shape[1]
        known.lists = np.full((len(known.vectors), width), -2, np.int64)
        known.list_far = np.zeros((len(known.vectors), width), np.float32)
    missing = rows[known.lists[rows, 0] == -2]
    if len(missing):
        known.lists[missing], known.list_far[missing] = vectors.probed(known.vectors[missing],
                                                                      distances=True)
    return known.lists[rows]


@dataclass
class Relearning:
    """What relearn needs to know from before an answer (or its undo) is written: the
    samples whose lessons the answered sample can reach, and the teachers besides it."""

    sample_id: int
    region: list[int]
    known: _Known
    was_teacher: bool
    old_label: str | None
    old_source: str | None


def plan_relearn(catalog: Catalog, vectors: VectorIndex, sample_id: int,
                 k: int = NEIGHBOURS) -> Relearning | None:
    """Before a correction of `sample_id`'s category is written: the samples it can move,
    or None when only a full round can say (the library changed since the last round, the
    sample has no vector, or the answer would cross MIN_TEACHERS).

    A sample hears its k nearest teachers, so a teacher added, removed or relabelled moves
    only the samples that have it (or will have it) among theirs: those no farther from it
    than their k-th nearest teacher (`reach`, kept by each round in the `lessons` table)
    and, on an IVF index, whose search visits its inverted list."""
    state = _state(catalog)
    if state.get("teach_settled") != "1" or state.get("teach_generation") != str(
            catalog.generation) or not state.get("teach_fingerprint", "").isdigit():
        return None
    own = catalog.query("SELECT category, category_source, type FROM samples WHERE id = ?",
                        [sample_id])
    try:
        here = vectors.vectors_of(np.array([sample_id], np.int64))
    except KeyError:
        return None
    if not own:
        return None
    known = _teachers(catalog, vectors)
    others = len(known.teachers) - int(np.isin(sample_id, known.teachers))
    if others + 1 == MIN_TEACHERS:  # this answer decides whether names teach at all
        return None
    _candidates(catalog, vectors, known)
    assert known.candidates is not None and known.reach is not None and known.vectors is not None
    region: list[int] = []
    if len(known.candidates) and own[0][2] == "oneshot":  # a loop neither teaches nor learns
        offset = known.vectors - here[0]
        distance = np.einsum("ij,ij->i", offset, offset)
        # (a little slack: the index measured the reach in its own float order)
        near = np.flatnonzero(distance <= known.reach * (1 + 1e-4) + 1e-4)
        lists = _probed(known, vectors, near)
        if lists is not None:  # IVF: only searches that visit the sample's list can find it
            home = vectors.probed(here, spare=2 - vectors.info.nprobe)
            near = near[np.isin(lists, home).any(axis=1)]
        region = known.candidates[near].tolist()
    category, source, kind = own[0]
    was = kind == "oneshot" and source in TEACHING_SOURCES and bool(category)
    return Relearning(sample_id, region, known, was, category if was else None, source)


def relearn(catalog: Catalog, vectors: VectorIndex, plan: Relearning,
            k: int = NEIGHBOURS) -> TeachReport:
    """After the correction is written: teach the samples of plan_relearn's region (and the
    answered sample itself, when an undo made it a candidate again) as a full round would."""
    report = TeachReport()
    generation = catalog.generation
    state = _state(catalog)
    known, t = plan.known, plan.sample_id
    category, confidence, source, kind = catalog.query(
        "SELECT category, category_confidence, category_source, type FROM samples "
        "WHERE id = ?", [t])[0]
    labels = known.labels
    labels.pop(t, None)
    teachers = known.teachers[known.teachers != t]
    answers = known.answers - {t}
    named = len(teachers) + plan.was_teacher >= MIN_TEACHERS  # the same after it (plan)
    is_teacher = kind == "oneshot" and source in TEACHING_SOURCES and bool(category)
    if is_teacher:
        labels[t] = category
        teachers = np.sort(np.append(teachers, np.int64(t)))
    if kind == "oneshot" and source == "user":
        answers.add(t)
    all_teachers = teachers
    if len(teachers) < MIN_TEACHERS:  # as teach_categories: only the owner's answers teach
        teachers = teachers[np.isin(teachers, np.array(sorted(answers), np.int64))]
    report.teachers = len(teachers)
    # the fingerprint moves by the answered sample's term alone (the other teachers are
    # those of the last round: plan_relearn saw nothing else change)
    term = int(state["teach_fingerprint"])
    if plan.was_teacher and (named or plan.old_source == "user"):
        term -= _teacher_hash(t, plan.old_label or "")
    if is_teacher and (named or source == "user"):
        term += _teacher_hash(t, category)
    candidate = kind == "oneshot" and source in (None, "dsp", TAUGHT_SOURCE)
    assert known.candidates is not None
    population = int(np.count_nonzero(known.candidates != t)) + candidate
    region = sorted(set(plan.region) - {t} | ({t} if candidate else set()))
    rows = {}
    for start in range(0, len(region), 500):
        chunk = region[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        for r in catalog.query(
                "SELECT s.id, s.category, s.category_confidence, s.category_source, s.type, "
                "l.sound_category, l.sound_confidence, l.sample_id, l.heard, l.reach "
                "FROM samples s "
                "LEFT JOIN "
                f"lessons l ON l.sample_id = s.id WHERE s.id IN ({marks})", chunk):
            if r[4] == "oneshot" and r[3] in (None, "dsp", TAUGHT_SOURCE):
                rows[r[0]] = r
    candidates = np.array(sorted(rows), np.int64)
    report.candidates = len(candidates)
    # the sound's own guess: kept by the last round; the answered sample's anew (an undo
    # gives it back to the sound consensus, as consensus.agree would after a scan)
    fresh = [i for i in rows if i == t or (rows[i][3] == TAUGHT_SOURCE and rows[i][7] is None)]
    # Samples that heard no teacher before an added one hear it alone (when their search
    # reaches it): one search among it instead of all the teachers, as a full round finds.
    added = is_teacher and (named or source == "user") and not (
        plan.was_teacher and (named or plan.old_source == "user"))
    silent = np.array([i for i in candidates.tolist() if added and rows[i][8] == 0
                       and rows[i][7] is not None], np.int64)
    loud = candidates[~np.isin(candidates, silent)]
    exact = len(teachers) * population <= EXACT_LIMIT
    removed = plan.was_teacher and (named or plan.old_source == "user") and not (
        is_teacher and (named or source == "user"))
    # The nearest teachers each sample was last found to have (known.near) change only by
    # the answered one: an added teacher joins a sample's list where the index finds it
    # nearer than the farthest, a removed one leaves the lists holding it (those are
    # searched again), a relabelled one moves none. Kept on an index search among all the
    # names (IVF: each distance is the index's own, whatever else is searched), not the
    # exact path of small libraries, nor near MIN_TEACHERS or k teachers.
    listed = known.near if not exact and named and min(len(teachers), len(known.teachers)) > k \
        else {}
    lessons: dict[int, list[tuple[int, float]]] = {}
    search: list[int] = []
    merge: list[int] = []
    # the lists an added teacher entered, as they were: its undo (the next relearn, nothing
    # else changed in between) gives the same teachers again, so the same lists
    before: dict[int, list[tuple[int, float]]] = {}
    undone = known.undo[1] if removed and listed and known.undo and known.undo[0] == t else {}
    for i in loud.tolist():
        found = listed.get(i) if i != t else None
        if found is not None and i in undone and any(j == t for j, _ in found):
            lessons[i] = undone[i]
        elif found is None or (removed and any(j == t for j, _ in found)):
            search.append(i)
        elif added:
            merge.append(i)
        else:
            lessons[i] = found
    if merge:
        depth = min(k, len(teachers))
        to_t = _distances_to(known, vectors, t, merge, k)
        for i in merge:
            found, near = listed[i], to_t.get(i)
            if not near:  # its search does not visit the answered sample's list
                lessons[i] = found
            elif any(d == near[0][1] for _, d in found):  # a tie: the index's order decides
                search.append(i)
            else:
                lessons[i] = sorted([*found, near[0]], key=lambda pair: pair[1])[:depth]
                if lessons[i] != found:
                    before[i] = found
    if search:
        lessons.update(nearest_teachers(vectors, teachers, np.array(sorted(search), np.int64),
                                        k, exact=exact))
    if len(silent):
        alone = dict(nearest_teachers(vectors, np.array([t], np.int64), silent, k, exact=exact))
        lessons.update(alone)
        before.update((i, []) for i, found in alone.items() if found)  # they heard none
    heard = {j for found in lessons.values() for j, _ in found if j in answers}
    if (fresh or heard) and known.voters is None:
        known.voters = consensus.listeners(catalog, vectors.ids())
    guesses = _sound_guesses(catalog, vectors, known, fresh)
    mistaken = {i: guess for i, (guess, _) in _sound_guesses(catalog, vectors, known,
                                                             sorted(heard)).items()}
    updates, kept, saved = [], [], []
    answered = answers
    for sample_id in candidates.tolist():
        _, cat, conf, src, _, sound_cat, sound_conf, has, _, _ = rows[sample_id]
        own: Row = (cat, conf, src)
        if sample_id == t and src == "dsp" and t in guesses:
            base: Row = (*guesses[t], "dsp")
        elif src == TAUGHT_SOURCE:
            sound = (sound_cat, sound_conf) if has is not None else guesses.get(sample_id,
                                                                                 (None, None))
            base = (sound[0], sound[1], "dsp" if sound[0] else None)
        else:
            base = own
        neighbours = lessons.get(sample_id, [])
        new = _decide(base, neighbours, labels, mistaken, answered)
        lesson = (sample_id, _reach(neighbours, k), len(neighbours), base[0], base[1])
        kept.append(lesson)
        row = rows[sample_id]
        if has is None or (row[9], row[8], row[5], row[6]) != lesson[1:]:
            saved.append(lesson)  # (only the lessons that moved are written again)
        report.before[sample_id] = (row[4], cat, conf, src)
        report.after[sample_id] = (row[4], *new)
        if new != own:
            updates.append((*new, sample_id))
    # the categories, the lessons and where the next round may start: one commit (each
    # commit of ~2,000 rewritten rows costs a write of their pages to the WAL)
    with catalog.transaction(bump=bool(updates)):
        now = catalog.generation  # no one else commits until ours (BEGIN IMMEDIATE)
        if now != generation:
            # Another process wrote since the rows were read (a correction in the web UI or
            # by `samplemind set`, a scan): what it changed wins, and those samples are taught
            # by the next round (the resume point stays at the read); the answer does not
            # claim them.
            wanted = updates
            updates, saved = _left_alone(catalog, generation, updates, saved)
            for *_, sample_id in set(wanted) - set(updates):
                report.before.pop(sample_id, None)
                report.after.pop(sample_id, None)
        catalog.write_categories(updates)
        _write_lessons(catalog, saved)
        # (catalog.resume_point after the commit: ours alone since the read, or the read)
        resume = now + bool(updates) if now == generation else generation
        catalog.write_meta({"teach_fingerprint": str(term % 2**64),
                            "teach_generation": str(resume)})
    report.changed = len(updates)
    report.changed_ids = sorted(i for *_, i in updates)
    # what the next answer needs, brought up to date (or forgotten if someone else wrote)
    if resume != catalog.generation:
        _known.pop(str(catalog.path), None)
        return report
    known.generation, known.teachers, known.answers = resume, all_teachers, answers
    if listed or (not exact and named and len(teachers) > k):
        known.near.update(lessons)
        known.near.pop(t, None)  # an answer's own list is found again when it is asked
        known.undo = (t, before) if added else None
    else:
        known.near.clear()
        known.undo = None
    _update_candidates(known, vectors, t, candidate, kept)
    return report


def _sound_guesses(catalog: Catalog, vectors: VectorIndex, known: _Known, ids: list[int]
                   ) -> dict[int, tuple[str, float]]:
    """consensus.guesses of `ids`, each asked once while `known` holds."""
    missing = [i for i in ids if i not in known.sound]
    if missing:
        found = consensus.guesses(catalog, vectors, missing, known.voters)
        known.sound.update({i: found.get(i) for i in missing})
    return {i: guess for i in ids if (guess := known.sound[i]) is not None}


def _distances_to(known: _Known, vectors: VectorIndex, t: int, ids: list[int], k: int
                  ) -> dict[int, list[tuple[int, float]]]:
    """What a search among the teacher `t` alone finds from each of `ids` (candidates):
    [(t, squared distance)], or [] when the search does not visit t's list. On IVF, without
    searching: t's list is visited when it is among the nprobe lists nearest the sample
    (known.lists, with their distances: a tie at the nprobe-th is left to the search), and
    the distance is the index's own kernel's. Elsewhere by the search."""
    nprobe, home = vectors.info.nprobe, vectors.list_of(t)
    wanted = np.array(ids, np.int64)
    rows = np.searchsorted(known.candidates, wanted) \
        if known.candidates is not None else np.zeros(0, np.int64)
    listed = known.candidates is not None and len(rows) == len(ids) and bool(
        np.all(rows < len(known.candidates))) and bool(np.all(known.candidates[rows] == wanted))
    lists = _probed(known, vectors, rows) if home is not None and listed else None
    if lists is None or known.list_far is None:
        return dict(nearest_teachers(vectors, np.array([t], np.int64), np.array(ids, np.int64),
                                     k, exact=False))
    far = known.list_far[rows]
    sure = np.ones(len(ids), bool) if lists.shape[1] <= nprobe else \
        far[:, nprobe - 1] != far[:, nprobe]
    seen = (lists[:, :nprobe] == home).any(axis=1)
    found: dict[int, list[tuple[int, float]]] = {}
    here = vectors.vectors_of(np.array([t], np.int64))[0]
    visible = [i for i, ok, s in zip(ids, sure.tolist(), seen.tolist()) if ok and s]
    for i, ok in zip(ids, sure.tolist()):
        if ok:
            found[i] = []
    if visible:
        d = vectors.distances_from(here, np.array(visible, np.int64))
        for i, dist in zip(visible, d.tolist()):
            found[i] = [(t, dist)]
    unsure = [i for i, ok in zip(ids, sure.tolist()) if not ok]
    if unsure:
        found.update(nearest_teachers(vectors, np.array([t], np.int64),
                                      np.array(unsure, np.int64), k, exact=False))
    return found


def _update_candidates(known: _Known, vectors: VectorIndex, t: int, candidate: bool,
                       kept: list[tuple[int, float | None, int, str | None, float | None]]
                       ) -> None:
    assert known.candidates is not None and known.reach is not None and known.vectors is not None
    if candidate != bool(np.isin(t, known.candidates)):
        if candidate:
            at = int(np.searchsorted(known.candidates, t))
            known.candidates = np.insert(known.candidates, at, t)
            known.reach = np.insert(known.reach, at, np.inf)
            known.vectors = np.insert(known.vectors, at,
                                      vectors.vectors_of(np.array([t], np.int64))[0], axis=0)
            if known.lists is not None and known.list_far is not None:
                known.lists = np.insert(known.lists, at, -2, axis=0)
                known.list_far = np.insert(known.list_far, at, 0, axis=0)
        else:
            keep = known.candidates != t
            known.candidates, known.reach = known.candidates[keep], known.reach[keep]
            known.vectors = known.vectors[keep]
            if known.lists is not None and known.list_far is not None:
                known.lists, known.list_far = known.lists[keep], known.list_far[keep]
    if kept:
        ids = np.array([row[0] for row in kept], np.int64)
        at = np.searchsorted(known.candidates, ids)
        known.reach[at] = [np.inf if row[1] is None else row[1] for row in kept]
