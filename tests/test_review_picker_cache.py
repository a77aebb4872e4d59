"""The review picker keeps what it read and searched for the last question (review.py
_Picker) and brings it up to date from the catalog's change feed: after answers, an undo,
a type answer, tags, a correction from another connection, a rescan that adds, changes and
removes files, its ranking is the one read and searched afresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from samplemind import Library, review

from audio_fixtures import write_drum_hit

KINDS = ("kick", "snare", "hihat", "clap", "tom")
PER_KIND = 8


def truth_of(name: str) -> str:
    return KINDS[int(name[7:9]) % len(KINDS)]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("picker")
    pack = base / "pack"
    pack.mkdir()
    for n in range(len(KINDS) * PER_KIND):
        write_drum_hit(pack / f"sample_{n:02d}.wav", truth_of(f"sample_{n:02d}.wav"),
                       seed=3 * n + 1)
    with Library(base / "home", jobs=2, timeout=60) as library:
        assert library.scan([pack]).failed == 0
        library.index.current()
    return base


def ranking(library: Library, scope: set[int] | None, cached: bool) -> list[tuple]:
    ranked = review._rank(library.catalog, library.index, scope, cached=cached)
    return [(q.sample_id, q.field, q.score, q.touches, sorted(getattr(q, "_near", ())))
            for q in ranked]


def same_as_fresh(library: Library) -> list[tuple]:
    """The cached ranking (everywhere, and in a scope of every other sample) equals the
    fresh one; returns it."""
    everywhere = ranking(library, None, True)
    assert everywhere == ranking(library, None, False)
    scope = {row[0] for row in library.catalog.query("SELECT id FROM samples")
             if row[0] % 2}
    assert ranking(library, scope, True) == ranking(library, scope, False)
    assert everywhere
    return everywhere


@pytest.mark.parametrize("pool,neighbours", [(review.POOL, review.NEIGHBOURS), (6, 3)])
def test_the_kept_ranking_equals_a_fresh_one_after_every_kind_of_change(
        scanned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: int,
        neighbours: int):
    # a small pool and neighbourhood: samples move in and out of the pool, and rows are
    # kept (or not) as single samples leave and join the searched set
    monkeypatch.setattr(review, "POOL", pool)
    monkeypatch.setattr(review, "NEIGHBOURS", neighbours)
    pack = tmp_path / "pack"
    shutil.copytree(scanned / "pack", pack)
    home = tmp_path / "home"
    shutil.copytree(scanned / "home", home)
    given = []
    with Library(home, jobs=2, timeout=60) as library:
        same_as_fresh(library)
        for step in range(4):  # answers, right and wrong, each taught at once
            question = library.review_questions(None, 1, reviewer="r")[0]
            name = library.get(question["sample_id"]).record["name"]
            value = truth_of(name) if step % 2 else "tom"
            if question["field"] == "type":
                value = "oneshot"
            given.append(library.review_answer(question["sample_id"], question["field"],
                                               value, reviewer="r"))
            same_as_fresh(library)
        library.review_undo(given[1]["answer_id"])  # the answered sample is open again
        same_as_fresh(library)
        library.review_undo(given[0]["answer_id"])
        same_as_fresh(library)
        some = [q[0] for q in same_as_fresh(library)[:3]]
        library.review_answer(some[0], "type", "oneshot")  # a type answer: a full round
        same_as_fresh(library)
        library.tag([str(some[1])], ["checked"])  # changes nothing the picker weighs
        same_as_fresh(library)
        with Library(home) as other:  # another connection corrects a category
            other.review_answer(some[2], "category", "clap")
        same_as_fresh(library)
        # a rescan: one file gone, one new, one whose sound changed
        (pack / "sample_03.wav").unlink()
        write_drum_hit(pack / "sample_40.wav", "kick", seed=500)
        write_drum_hit(pack / "sample_07.wav", "hihat", seed=501)
        report = library.scan([pack])
        assert report.failed == 0
        library.index.current()
        same_as_fresh(library)
        question = library.review_questions(None, 1, reviewer="r")[0]
        library.review_answer(question["sample_id"], "category", "snare", reviewer="r")
        same_as_fresh(library)


def test_questions_handed_out_from_the_kept_ranking_are_those_of_a_fresh_one(
        scanned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"
    shutil.copytree(scanned / "home", home)
    kept_rank = review._rank

    def fresh_rank(catalog, index, scope):
        return kept_rank(catalog, index, scope, cached=False)

    with Library(home) as library:
        for _ in range(3):
            cached = library.review_questions(None, 5)
            with monkeypatch.context() as patched:
                patched.setattr(review, "_rank", fresh_rank)
                fresh = library.review_questions(None, 5)
            assert cached == fresh
            first = cached[0]
            library.review_answer(first["sample_id"], first["field"],
                                  "oneshot" if first["field"] == "type" else "snare")
