"""An answer is taught only where it reaches (similarity/teach.py plan_relearn / relearn,
review.py): after every answer and undo, the library equals what the full steps after a
scan (the sound consensus and every lesson, recomputed from nothing) make of the same
corrections, on a generated library with named and unnamed drum hits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from samplemind import Library
from samplemind.models import ScanReport
from samplemind.scan import refine_categories

from audio_fixtures import DRUM_KINDS, write_drum_hit

NAMED = 3  # per kind: named files teach (more teachers than a sample hears: reach is finite)
UNNAMED = 8  # per kind: sample_NN.wav, only their sound to go by
STATE_KEYS = ("consensus_generation", "consensus_max_id", "consensus_voters",
              "teach_fingerprint", "teach_generation", "teach_settled")


def truth_of(name: str) -> str:
    return DRUM_KINDS[int(name[7:9]) % len(DRUM_KINDS)]


def build(base: Path, named: int) -> Path:
    pack = base / "pack"
    pack.mkdir(parents=True)
    for n in range(len(DRUM_KINDS) * UNNAMED):
        write_drum_hit(pack / f"sample_{n:02d}.wav", truth_of(f"sample_{n:02d}.wav"), seed=5 * n + 2)
    for kind in DRUM_KINDS:
        for n in range(named):
            write_drum_hit(pack / f"{kind}_{n}.wav", kind, seed=100 + 7 * n + len(kind))
    with Library(base / "home", jobs=2, timeout=60) as library:
        assert library.scan([pack]).failed == 0
        library.index.current()
    return base / "home"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("incremental"), NAMED)


def categories(library: Library) -> dict[int, tuple]:
    return {r[0]: tuple(r[1:]) for r in library.catalog.query(
        "SELECT id, category, category_confidence, category_source FROM samples")}


def recomputed(home: Path, scratch: Path) -> dict[int, tuple]:
    """The categories the full steps give a copy of `home` that forgot every earlier round."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(home, scratch)
    with Library(scratch) as library:
        marks = ", ".join("?" for _ in STATE_KEYS)
        with library.catalog.transaction(bump=False):
            library.catalog.conn.execute(f"DELETE FROM meta WHERE key IN ({marks})", STATE_KEYS)
            library.catalog.conn.execute("DELETE FROM lessons")
        refine_categories(library.catalog, library.index, ScanReport())
        return categories(library)


# ivf-12 runs with the slow tests: the quick run keeps the exact index and the IVF one (ivf-4)
@pytest.fixture(params=["flat", "ivf-4", pytest.param("ivf-12", marks=pytest.mark.slow)])
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """flat: the exact index and exact distances of a small library. ivf-N: as a large one
    (an IVF index of 16 lists, N of them probed, nearest teachers found by index searches),
    where relearn keeps each sample's nearest teachers between answers (teach._Known.near).
    With 4 probed many lists go unvisited; with 12 most samples hear a full k teachers (an
    added one pushes the farthest out)."""
    if request.param.startswith("ivf"):
        from samplemind.similarity import index, manager, teach

        def choose_kind(count: int, exact_max: int = 0) -> str:
            return "ivf" if count >= 32 else "flat"

        nprobe = int(request.param.split("-")[1])
        monkeypatch.setattr(index, "choose_kind", choose_kind)
        monkeypatch.setattr(manager, "choose_kind", choose_kind)
        monkeypatch.setattr(index, "_nlist", lambda count: 16)
        monkeypatch.setattr(index, "_tune_nprobe", lambda *args: (nprobe, 1.0))
        monkeypatch.setattr(teach, "EXACT_LIMIT", 0)
    return request.param


def prepared(scanned: Path, tmp_path: Path, kind: str) -> Path:
    """A private copy of the scanned home; for "ivf", its index built again as IVF and the
    library taught over it."""
    home = tmp_path / "home"
    shutil.copytree(scanned, home)
    if kind != "flat":
        with Library(home) as library:
            library.index.rebuild("ivf")
        recomputed(home, tmp_path / "ivf")
        shutil.rmtree(home)
        shutil.copytree(tmp_path / "ivf", home)
    return home


def test_each_answer_taught_where_it_reaches_equals_the_full_recompute(scanned: Path,
                                                                       tmp_path: Path,
                                                                       kind: str):
    home = prepared(scanned, tmp_path, kind)
    nearby = []  # answers taught to their neighbourhood only
    given = []
    for step in range(10):
        with Library(home) as library:
            every = len(library.catalog.query("SELECT id FROM samples WHERE type = 'oneshot'"))
            assert library.index.current().info.kind == kind.split("-")[0]
            if step == 4:  # anything else changed since the last round: the full steps run
                library.tag([str(given[0]["sample_id"])], ["checked"])
            if step == 6:  # take the second answer back
                done = library.review_undo(given[1]["answer_id"])
            else:
                question = library.review_questions(None, 1, reviewer="t")[0]
                name = library.get(question["sample_id"]).record["name"]
                # the truth, but now and then a wrong answer: it must spread the same way
                value = truth_of(name) if step % 4 != 3 else "tom"
                done = library.review_answer(question["sample_id"], "category", value)
                given.append(done)
            if done["relearned"] is not None:
                nearby.append(done["relearned"])
            assert (done["relearned"] is None) == (step == 4), step
            state = categories(library)
        assert state == recomputed(home, tmp_path / f"full-{step}"), f"step {step}"
    # only after the tag did the full steps run; every other answer reached few samples
    assert len(nearby) >= 8, nearby
    assert min(nearby) < every / 2, (nearby, every)


def test_answers_in_a_library_without_names_equal_the_full_recompute(tmp_path: Path):
    """No names: only answers teach. The first answer runs the full steps (no round has
    taught yet); taken back, the library has no teacher at all, so the next answer is heard
    alone by every sample (teach.relearn's one-teacher search)."""
    home = build(tmp_path / "built", 0)
    given = []
    for step in range(5):
        with Library(home) as library:
            if step == 1:
                done = library.review_undo(given[0]["answer_id"])
            else:
                question = library.review_questions(None, 1, reviewer="t")[0]
                name = library.get(question["sample_id"]).record["name"]
                done = library.review_answer(question["sample_id"], "category", truth_of(name))
                given.append(done)
            assert (done["relearned"] is None) == (step == 0), step
            state = categories(library)
        assert state == recomputed(home, tmp_path / f"full-{step}"), f"step {step}"


def lessons(library: Library) -> dict[int, tuple]:
    return {r[0]: tuple(r[1:]) for r in library.catalog.query(
        "SELECT sample_id, reach, heard, sound_category, sound_confidence FROM lessons")}


def test_an_answer_reports_what_it_changed_from_its_own_reads(scanned: Path, tmp_path: Path,
                                                              kind: str):
    """The batched path: an answer taught where it reaches reads and writes only the samples
    relearn teaches (their lessons only where they moved), yet reports exactly the samples
    whose category moved in the whole catalog, leaves the lessons a full round would, and
    its undo restores each of them."""
    home = prepared(scanned, tmp_path, kind)
    with Library(home) as library:
        start = categories(library)
        for step in range(3):
            question = library.review_questions(None, 1, reviewer="t")[0]
            wrong = "tom" if question["guess"] != "tom" else "snare"  # moves its neighbours
            before = categories(library)
            done = library.review_answer(question["sample_id"], "category", wrong)
            after = categories(library)
            assert done["relearned"] is not None, step
            moved = sorted(i for i in after if after[i][0] != before[i][0])
            assert done["changed_ids"] == moved, step
            assert done["changed"] == len(moved) >= 1, step
            taught_lessons = lessons(library)
            assert after == recomputed(home, tmp_path / f"full-{step}"), step
            with Library(tmp_path / f"full-{step}") as full:
                wanted = lessons(full)  # (the answered sample, no longer taught, may keep its own)
            assert {i: v for i, v in taught_lessons.items() if i in wanted} == wanted, step
            assert set(taught_lessons) - set(wanted) <= {question["sample_id"]}, step
            undone = library.review_undo(done["answer_id"])
            assert undone["relearned"] is not None, step
            assert categories(library) == before, step
            assert undone["restored"] == len([i for i in after if after[i] != before[i]]), step
        assert categories(library) == start


def test_answers_in_one_open_library_equal_the_full_recompute(scanned: Path, tmp_path: Path,
                                                              kind: str):
    """One library open for every answer (as the server and `review` keep it): what relearn
    keeps between answers (on IVF, each sample's nearest teachers) stays true through new
    answers, an undo, an answer given again with another value and a correction of a named
    sample."""
    home = prepared(scanned, tmp_path, kind)
    with Library(home) as library:
        named = [s.id for s in library.ls() if not s.record["name"].startswith("sample_")]
        given = []
        for step in range(9):
            if step == 3:
                done = library.review_undo(given[1]["answer_id"])
            elif step == 5:  # the first answer again, another category: a relabelled teacher
                first = given[0]["sample_id"]
                value = "clap" if library.get(first).record["category"] != "clap" else "tom"
                done = library.review_answer(first, "category", value)
            elif step == 7:  # a named sample corrected
                done = library.review_answer(named[0], "category", "tom")
            else:
                question = library.review_questions(None, 1, reviewer="t")[0]
                name = library.get(question["sample_id"]).record["name"]
                value = truth_of(name) if step % 2 else "tom"
                done = library.review_answer(question["sample_id"], "category", value)
                given.append(done)
            assert done["relearned"] is not None, step
            assert categories(library) == recomputed(home, tmp_path / f"full-{step}"), step
