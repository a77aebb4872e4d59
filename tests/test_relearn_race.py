"""A review answer's lessons (teach.relearn) never overwrite what another process changed while
they were worked out: the catalog is shared by the CLI, `watch` and `serve`, and a correction
made in between wins, as consensus.agree's only_from guard lets it win."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_review_incremental import NAMED, build, truth_of

from samplemind import Library
from samplemind.similarity import teach


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("race"), NAMED)


def correct_every_unnamed_one_shot(home: Path, corrected: dict[int, str]) -> None:
    """As another process would: `set` the true category of every unnamed one-shot whose
    category only the sound or a lesson gave, noting each in `corrected`."""
    with Library(home) as other:
        for sample_id, name in other.catalog.query(
                "SELECT id, name FROM samples WHERE type = 'oneshot' AND name LIKE 'sample_%' "
                "AND (category_source IS NULL OR category_source IN ('dsp', ?))",
                [teach.TAUGHT_SOURCE]):
            other.set(sample_id, {"category": truth_of(name)})
            corrected[sample_id] = truth_of(name)


def test_a_correction_made_while_an_answer_is_taught_is_kept(
        scanned: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = scanned
    decide = teach._decide
    corrected: dict[int, str] = {}

    def decide_after_a_correction(*args, **kwargs):
        if not corrected:
            # Another process (the web UI, `samplemind set`) corrects every unnamed one-shot
            # after relearn read them and before it writes what it taught them.
            correct_every_unnamed_one_shot(home, corrected)
        return decide(*args, **kwargs)

    with Library(home) as library:
        question = library.review_questions(None, 1, reviewer="t")[0]
        t = question["sample_id"]
        value = "tom" if truth_of(library.get(t).record["name"]) != "tom" else "snare"
        monkeypatch.setattr(teach, "_decide", decide_after_a_correction)
        done = library.review_answer(t, "category", value)
        assert done["relearned"] is not None  # taught where it reaches (relearn ran)
        assert corrected  # the other process did correct samples in between
        rows = dict((i, (c, s)) for i, c, s in library.catalog.query(
            "SELECT id, category, category_source FROM samples"))
        kept = {i: rows[i] for i in corrected if i != t}
        assert kept == {i: (corrected[i], "user") for i in kept}
        # and the answer does not claim (for its undo) the samples it did not change
        undone = library.review_undo(done["answer_id"])
        assert undone is not None
        rows = dict((i, (c, s)) for i, c, s in library.catalog.query(
            "SELECT id, category, category_source FROM samples"))
        assert {i: rows[i] for i in kept} == {i: (corrected[i], "user") for i in kept}


def test_a_correction_made_while_a_full_round_teaches_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for the full round after a scan (teach.teach_categories, which `watch` runs
    while the web UI may be correcting): it reads every one-shot, searches, then writes."""
    from test_review_incremental import STATE_KEYS

    home = build(tmp_path, NAMED)
    decide = teach._decide
    corrected: dict[int, str] = {}
    lessons: list[tuple] = []  # what the round decided to teach (each a change of a row)

    def decide_after_a_correction(*args, **kwargs):
        if not corrected:
            correct_every_unnamed_one_shot(home, corrected)
        new = decide(*args, **kwargs)
        if new[2] == teach.TAUGHT_SOURCE and new != args[0]:
            lessons.append(new)
        return new

    with Library(home) as library:
        marks = ", ".join("?" for _ in STATE_KEYS)
        with library.catalog.transaction():
            # forget every earlier round, and what it taught: the sound's guess, unsure
            library.catalog.conn.execute(f"DELETE FROM meta WHERE key IN ({marks})", STATE_KEYS)
            library.catalog.conn.execute("DELETE FROM lessons")
            library.catalog.conn.execute(
                "UPDATE samples SET category_source = 'dsp', category_confidence = 0.01 "
                "WHERE category_source = ?", [teach.TAUGHT_SOURCE])
        monkeypatch.setattr(teach, "_decide", decide_after_a_correction)
        taught = teach.teach_categories(library.catalog, library.index.current)
        assert corrected  # the other process did correct samples in between
        # the round had lessons for them (every candidate was corrected), kept from the catalog
        assert lessons and not set(taught.changed_ids) & set(corrected)
        rows = dict((i, (c, s)) for i, c, s in library.catalog.query(
            "SELECT id, category, category_source FROM samples"))
        assert {i: rows[i] for i in corrected} == {i: (corrected[i], "user") for i in corrected}
