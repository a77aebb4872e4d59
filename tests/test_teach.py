"""Categories the user's own library teaches (similarity/teach.py): unnamed one-shots take
the category of named ones that sound like them, with a confidence and the source
"library"; the lesson is undone when its teachers go."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from samplemind import Library
from samplemind.similarity.teach import (
    DOUBT,
    MIN_TEACHERS,
    OVERRULE_MARGIN,
    REACH,
    TAUGHT_SOURCE,
    Lesson,
    _decide,
    category_vote,
    combine,
    teach_categories,
    vote_weight,
)

from audio_fixtures import write_drum_hit

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

KINDS = ("kick", "snare")


def make_pack(folder: Path, named: int, unnamed: int) -> None:
    """Named kicks and snares (their names teach) and unnamed ones (sample_NN.wav)."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        for n in range(named):
            write_drum_hit(folder / f"{kind}_{n:02d}.wav", kind, seed=n)
    for n in range(unnamed):
        kind = KINDS[n % 2]
        write_drum_hit(folder / f"sample_{n:02d}.wav", kind, seed=100 + n)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("teach")
    make_pack(base / "pack", named=MIN_TEACHERS // 2 + 2, unnamed=6)
    with Library(base / "home", jobs=2, timeout=60) as library:
        report = library.scan([base / "pack"])
        assert report.failed == 0
    return base / "home", base / "pack"


@pytest.fixture
def copy(scanned: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    home, pack = scanned
    shutil.copytree(home, tmp_path / "home")
    return tmp_path / "home", pack


def unnamed(library: Library) -> dict[str, dict]:
    return {s.record["name"]: s.to_json() for s in library.ls("path:*sample_*")}


def test_unnamed_samples_learn_from_named_neighbours(scanned: tuple[Path, Path]):
    home, _ = scanned
    with Library(home) as library:
        records = unnamed(library)
    assert len(records) == 6
    for name, record in records.items():
        truth = KINDS[int(name[7:9]) % 2]
        assert record["category"] == truth, (name, record["category"], record["category_source"])
        assert record["category_source"] == TAUGHT_SOURCE
        assert 0.5 < record["category_confidence"] <= 1.0


def test_a_surer_lesson_replaces_a_wrong_guess(copy: tuple[Path, Path]):
    home, _ = copy
    with Library(home) as library:
        victim = library.get(next(s.id for s in library.ls("path:*sample_00*")))
        with library.catalog.transaction():  # the sound's guess, wrong and unsure
            library.catalog.conn.execute(
                "UPDATE samples SET category = 'bass', category_confidence = 0.3, "
                "category_source = 'dsp' WHERE id = ?", (victim.id,))
        result = teach_categories(library.catalog, library.index.current)
        after = library.get(victim.id).to_json()
    assert result.changed >= 1 and result.teachers >= MIN_TEACHERS
    assert after["category"] == "kick" and after["category_source"] == TAUGHT_SOURCE


def test_a_user_correction_is_never_overruled(copy: tuple[Path, Path]):
    home, _ = copy
    with Library(home) as library:
        victim = next(s.id for s in library.ls("path:*sample_00*"))
        library.set(victim, {"category": "perc"})
        teach_categories(library.catalog, library.index.current)
        record = library.get(victim).to_json()
    assert (record["category"], record["category_source"]) == ("perc", "user")


def test_lessons_are_undone_when_their_teachers_go(tmp_path: Path):
    make_pack(tmp_path / "pack", named=MIN_TEACHERS // 2 + 1, unnamed=4)
    with Library(tmp_path / "home", jobs=2) as library:
        first = library.scan([tmp_path / "pack"])
        assert first.taught == 4 and first.to_json()["taught"] == 4
        assert {r["category_source"] for r in unnamed(library).values()} == {TAUGHT_SOURCE}
        for kind in KINDS:
            for path in (tmp_path / "pack").glob(f"{kind}_*.wav"):
                path.unlink()
        report = library.scan([tmp_path / "pack"])
        records = unnamed(library)
    assert report.removed == 2 * (MIN_TEACHERS // 2 + 1) and report.taught == 4
    assert {r["category_source"] for r in records.values()} <= {"dsp", None}


def test_too_few_teachers_teach_nothing(tmp_path: Path):
    make_pack(tmp_path / "pack", named=2, unnamed=4)
    with Library(tmp_path / "home", jobs=2) as library:
        report = library.scan([tmp_path / "pack"])
        sources = {s.record["category_source"] for s in library.ls("path:*sample_*")}
    assert report.taught == 0 and TAUGHT_SOURCE not in sources


def test_the_vote_weighs_nearness_and_doubt():
    labels = {1: "kick", 2: "kick", 3: "snare"}
    near, far = 0.0, 5 * 3.0 ** 2  # squared index distances: the same sound, and unrelated
    assert vote_weight(near) == 1.0 and vote_weight(far) < 0.01
    lesson = category_vote([(1, near), (2, near), (3, near)], labels)
    assert lesson == Lesson("kick", pytest.approx(2 / (3 + DOUBT)), 2)
    distant = category_vote([(1, far), (2, far)], labels)
    assert distant is not None and distant.confidence < 0.02
    assert category_vote([], labels) is None


def test_combining_with_the_sounds_own_guess():
    lesson = Lesson("kick", 0.6, 5)
    assert combine("kick", 0.5, lesson) == ("kick", pytest.approx(0.8), TAUGHT_SOURCE)
    assert combine("snare", 0.4, lesson) == ("kick", 0.6, TAUGHT_SOURCE)
    assert combine("snare", 0.5, lesson) is None  # not surer by the margin
    assert combine("snare", 0.9, lesson) is None  # the surer answer stands
    assert combine(None, None, lesson) == ("kick", 0.6, TAUGHT_SOURCE)


def test_a_round_asks_again_only_what_changed_unless_the_teachers_did(copy: tuple[Path, Path]):
    home, _ = copy
    with Library(home) as library:
        first = teach_categories(library.catalog, library.index.current)
        assert first.candidates == 0  # the scan's own round left nothing new
        unnamed_ids = [s.id for s in library.ls("path:*sample_*")]
        library.tag(unnamed_ids[:1], ["x"])  # one sample changed: only it is asked again
        assert teach_categories(library.catalog, library.index.current).candidates == 1
        kick = next(s.id for s in library.ls("path:*kick_00*"))
        # a teacher changed: every one within its reach again (in this small pack, all)
        library.set(kick, {"category": "perc"})
        again = teach_categories(library.catalog, library.index.current)
        assert again.candidates == len(unnamed_ids)


def _squared(weight: float) -> float:
    """The squared index distance at which a teacher votes with `weight`."""
    from samplemind.similarity.vectors import ASPECTS

    return len(ASPECTS) * REACH ** 2 * -math.log(weight)


def test_answers_move_a_sound_only_from_nearer_than_its_own_evidence():
    # Three snares the owner answered, each one the model had taken for a tom: their doubt
    # and their summed vote once moved every tom guess around them, sure or not (issue 19:
    # one answer fixed 7 sounds and broke 15). A sound moves only when one of them is more
    # alike (vote weight) than its own guess is sure.
    labels = {1: "snare", 2: "snare", 3: "snare"}
    mistaken = {1: "tom", 2: "tom", 3: "tom"}
    answers = {1, 2, 3}
    around = [(1, _squared(0.5)), (2, _squared(0.45)), (3, _squared(0.4))]
    assert vote_weight(around[0][1]) == pytest.approx(0.5)
    sure = _decide(("tom", 0.8, "dsp"), around, labels, mistaken, answers)
    assert sure[0] == "tom" and sure[1] < 0.8  # kept; the doubt still lowers its confidence
    unsure = _decide(("tom", 0.45, "dsp"), around, labels, mistaken, answers)
    assert unsure[:1] == ("snare",) and unsure[2] == TAUGHT_SOURCE  # the answer is nearer
    # a tom the owner answered near it is evidence for the guess too
    near_tom = [(4, _squared(0.9)), *around[:1]]
    kept = _decide(("tom", 0.3, "dsp"), near_tom, {**labels, 4: "tom"}, mistaken, {*answers, 4})
    assert kept[0] == "tom"


def test_an_answer_that_gave_a_sounds_category_settles_it():
    # Three snares the owner answered, the model had taken each for a tom, doubt every tom
    # guess around them; a tom the owner answered, as alike as 0.9, says this one is a tom.
    # The guess is then at least as sure as that answer is alike (the review picker asked
    # such sounds again and again: issue 19), and only then.
    labels = {1: "snare", 2: "snare", 3: "snare", 4: "tom"}
    mistaken = {1: "tom", 2: "tom", 3: "tom", 4: "tom"}
    around = [(1, _squared(0.5)), (2, _squared(0.45)), (3, _squared(0.4))]
    doubted = _decide(("tom", 0.8, "dsp"), around, labels, mistaken, {1, 2, 3})
    assert doubted[0] == "tom" and doubted[1] < 0.8
    settled = _decide(("tom", 0.8, "dsp"), [(4, _squared(0.9)), *around], labels, mistaken,
                      {1, 2, 3, 4})
    assert settled == ("tom", pytest.approx(0.9, abs=1e-3), TAUGHT_SOURCE)
    # the category an answer moved a sound to is as sure as the nearest answer that gave it
    # (not its vote share, 0.9 / (DOUBT + 0.9))
    moved = _decide(("tom", 0.3, "dsp"), [(1, _squared(0.9))], labels, mistaken, {1})
    assert moved == ("snare", pytest.approx(0.9, abs=1e-3), TAUGHT_SOURCE)
    # an agreeing answer less alike than the doubted guess is sure settles nothing; nor
    # does a named neighbour (not an answer)
    far = _decide(("tom", 0.8, "dsp"), [*around, (4, _squared(0.1))], labels, mistaken,
                  {1, 2, 3, 4})
    assert far[0] == "tom" and 0.1 < far[1] < 0.5
    named = _decide(("tom", 0.8, "dsp"), [(4, _squared(0.9)), *around], labels, mistaken,
                    {1, 2, 3})
    assert named[0] == "tom" and named[1] < 0.9


def test_one_answer_moves_every_sound_it_is_more_alike_than_the_sound_is_sure():
    # One snare the owner answered, alike as 0.9 to each sound below. Its vote share alone,
    # 0.9 / (DOUBT + 0.9), once moved only sounds less than a third sure, so the picker asked
    # a kit's velocity layers one by one (issue 19). It moves a guess now when it is more
    # alike than the guess is sure by the margin any lesson needs to overrule the sound.
    labels, mistaken, answers = {1: "snare"}, {1: "tom"}, {1}
    near = [(1, _squared(0.9))]
    unsure = _decide(("tom", 0.6, "dsp"), near, labels, mistaken, answers)
    assert unsure == ("snare", pytest.approx(0.9, abs=1e-3), TAUGHT_SOURCE)
    assert 0.9 - OVERRULE_MARGIN > 0.6
    sure = _decide(("tom", 0.8, "dsp"), near, labels, mistaken, answers)
    assert sure[0] == "tom"  # 0.9 is not 0.8 plus the margin
    # an answer more alike that agreed with the guess keeps it, whatever the guess's own
    # confidence; the less alike one that did not moves nothing
    kept = _decide(("tom", 0.3, "dsp"), [(2, _squared(0.95)), *near], {**labels, 2: "tom"},
                   {**mistaken, 2: "tom"}, {1, 2})
    assert kept == ("tom", pytest.approx(0.95, abs=1e-3), TAUGHT_SOURCE)
    # the most alike of several answers decides among them
    two = [(1, _squared(0.9)), (3, _squared(0.95))]
    both = _decide(("tom", 0.3, "dsp"), two, {**labels, 3: "clap"}, {**mistaken, 3: "tom"},
                   {1, 3})
    assert both[0] == "clap"
    # a named neighbour (not the owner's answer) teaches by its vote share, as before
    named = _decide(("tom", 0.6, "dsp"), near, labels, {}, set())
    assert named[0] == "tom"
