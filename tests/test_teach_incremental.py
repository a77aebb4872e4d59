"""After a scan, the library's lessons are taught again only where something changed
(similarity/teach.py `_reached`): when named files come, go or change their names, only the
one-shots within reach of those teachers learn again. After every such scan the library
equals what the full steps after a scan (the sound consensus and every lesson, recomputed
from nothing) make of the same files, on a generated library of named and unnamed drum hits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_review_incremental import categories, recomputed

from samplemind import Library
from samplemind.similarity import consensus, oneshots, teach

from audio_fixtures import DRUM_KINDS, write_drum_hit

NAMED = 6  # per kind: more teachers than a sample hears, so its reach is short
UNNAMED = 10  # per kind: sample_NN.wav


def kind_of(n: int) -> str:
    return DRUM_KINDS[n % len(DRUM_KINDS)]


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, int, int]]:
    """(asked everyone, asked, candidates) of each round of lessons."""
    rounds: list[tuple[bool, int, int]] = []
    real = teach._reached

    def spy(*args, **kwargs):
        before, wanted = real(*args, **kwargs)
        candidates = args[6]
        asked = len(candidates) if wanted is None else int(np.isin(candidates, wanted).sum())
        if args[0].path.parent.name == "home":  # not the full recomputes of copies
            rounds.append((wanted is None, asked, len(candidates)))
        return before, wanted

    monkeypatch.setattr(teach, "_reached", spy)
    return rounds


def test_scans_that_change_the_teachers_equal_the_full_recompute(tmp_path: Path,
                                                                watched: list):
    pack = tmp_path / "pack"
    pack.mkdir()
    for n in range(len(DRUM_KINDS) * UNNAMED):
        write_drum_hit(pack / f"sample_{n:02d}.wav", kind_of(n), seed=5 * n + 2)
    for kind in DRUM_KINDS:
        for n in range(NAMED):
            write_drum_hit(pack / f"{kind}_{n}.wav", kind, seed=100 + 7 * n + len(kind))
    home = tmp_path / "home"

    def scan(step: str) -> None:
        with Library(home, jobs=2, timeout=60) as library:
            report = library.scan([pack])
            assert report.failed == 0, step
            state = categories(library)
        assert state == recomputed(home, tmp_path / f"full-{step}"), step

    scan("first")  # no earlier round: everyone
    assert watched[-1][0]
    # a named pack arrives (teachers added), with one unnamed sound
    (pack / "new").mkdir()
    write_drum_hit(pack / "new" / "kick_7.wav", "kick", seed=901)
    write_drum_hit(pack / "new" / "snare_7.wav", "snare", seed=902)
    write_drum_hit(pack / "new" / "sample_90.wav", "hihat", seed=903)
    scan("added")
    # a teacher renamed to another instrument (relabelled), another renamed away from a name
    (pack / "kick_0.wav").rename(pack / "tom_8.wav")
    (pack / "snare_1.wav").rename(pack / "sample_91.wav")
    scan("renamed")
    # teachers removed, and an unnamed sound
    (pack / "hihat_2.wav").unlink()
    (pack / "new" / "kick_7.wav").unlink()
    (pack / "sample_07.wav").unlink()
    scan("removed")
    # an unnamed sound given a name (a candidate becomes a teacher), and a correction
    (pack / "sample_13.wav").rename(pack / "snare_13.wav")
    with Library(home) as library:
        unnamed = next(s.id for s in library.ls("path:*sample_22*"))
        library.set(unnamed, {"category": "clap"})
    write_drum_hit(pack / "sample_92.wav", "clap", seed=904)
    scan("named")
    incremental = [r for r in watched[1:] if not r[0]]
    assert len(incremental) == len(watched) - 1, watched  # each scan after the first
    # and at least one of them asked fewer than every candidate
    assert any(asked < candidates for _, asked, candidates in incremental), watched


def test_an_earlier_round_of_another_index_asks_everyone(tmp_path: Path, watched: list):
    pack = tmp_path / "pack"
    pack.mkdir()
    for n in range(20):
        write_drum_hit(pack / f"sample_{n:02d}.wav", kind_of(n), seed=3 * n + 1)
    for kind in DRUM_KINDS:
        for n in range(NAMED):
            write_drum_hit(pack / f"{kind}_{n}.wav", kind, seed=200 + 7 * n + len(kind))
    home = tmp_path / "home"
    with Library(home, jobs=2, timeout=60) as library:
        library.scan([pack])
        library.catalog.set_meta({"teach_index": "another build"})
    write_drum_hit(pack / "kick_9.wav", "kick", seed=77)
    with Library(home, jobs=2, timeout=60) as library:
        library.scan([pack])
        state = categories(library)
    assert watched[-1][0], watched
    assert state == recomputed(home, tmp_path / "full")


# -- what the steps after a scan keep in memory (similarity/oneshots.py) --------------------------


def same_as_read(library: Library) -> None:
    """The one-shots and reach kept in memory equal a fresh read of the catalog, and what
    they say is in the index is what is in it."""
    catalog = library.catalog
    vectors = library.index.current()
    kept, fresh = oneshots.current(catalog), oneshots._read(catalog)
    assert kept.generation == fresh.generation == vectors.info.generation
    assert kept.rows() == fresh.rows()
    assert kept.votes.tolist() == fresh.votes.tolist()
    with_vector = {row[0] for row in catalog.query(
        "SELECT id FROM samples WHERE type = 'oneshot' AND length(vector) = ?",
        [4 * vectors.vectors_of(vectors.ids()[:1]).shape[1]])}
    if kept.indexed is not None:  # (rows brought up to date say so themselves)
        assert kept.ids[kept.indexed].tolist() == sorted(with_vector)
    assert kept.ids[kept.in_index(vectors)].tolist() == sorted(with_vector)
    assert set(vectors.ids().tolist()) >= with_vector
    assert kept.voters(vectors).tolist() == consensus.listeners(catalog, vectors.ids()).tolist()
    reach = oneshots.reach(catalog)
    table = sorted(catalog.query("SELECT sample_id, reach FROM sounds"))
    assert reach.ids.tolist() == [i for i, _ in table]
    assert reach.reach.tolist() == [np.inf if r is None else r for _, r in table]


def drum_pack(folder: Path, unnamed: int = 16) -> None:
    folder.mkdir()
    for n in range(unnamed):
        write_drum_hit(folder / f"sample_{n:02d}.wav", kind_of(n), seed=11 * n + 3)
    for kind in DRUM_KINDS:
        for n in range(3):
            write_drum_hit(folder / f"{kind}_{n}.wav", kind, seed=300 + 7 * n + len(kind))


@pytest.fixture
def asked_around(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many sounds each incremental consensus round found within reach."""
    found: list[int] = []
    real = consensus._within_reach

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        found.append(len(out))
        return out

    monkeypatch.setattr(consensus, "_within_reach", spy)
    return found


def test_one_library_open_across_scans_equals_the_full_recompute(tmp_path: Path,
                                                                 asked_around: list):
    """The server's case: one process scans again and again (its kept one-shots follow the
    change feed), while another connection corrects, scans and removes in between."""
    pack = tmp_path / "pack"
    drum_pack(pack)
    home = tmp_path / "home"
    with Library(home, jobs=2, timeout=60) as library:
        assert library.scan([pack]).failed == 0
        same_as_read(library)
        for step in range(3):  # one added file at a time
            write_drum_hit(pack / f"sample_{40 + step}.wav", kind_of(step), seed=500 + step)
            assert library.scan([pack]).added == 1
            same_as_read(library)
            assert categories(library) == recomputed(home, tmp_path / f"full-{step}"), step
        with Library(home) as other:  # another writer: a correction, a scan, a removal
            other.set(next(s.id for s in other.ls("path:*sample_03*")), {"category": "clap"})
            write_drum_hit(pack / "sample_50.wav", "snare", seed=650)
            other.scan([pack])
        same_as_read(library)
        (pack / "sample_05.wav").unlink()
        (pack / "snare_1.wav").unlink()
        write_drum_hit(pack / "sample_51.wav", "hihat", seed=651)
        report = library.scan([pack])
        assert report.removed == 2 and report.added == 1
        same_as_read(library)
        assert categories(library) == recomputed(home, tmp_path / "full-removed")
    assert asked_around, "no incremental consensus round"


def test_kept_one_shots_survive_another_process_and_a_pruned_log(tmp_path: Path):
    """A copy kept from before another process wrote: removals the log no longer lists
    (pruned once an index was saved) are found by the count of one-shots, and consensus
    searches it kept (table `sounds`) by the count of writes; each equals a fresh read."""
    pack = tmp_path / "pack"
    drum_pack(pack, unnamed=8)
    home = tmp_path / "home"
    with Library(home, jobs=2, timeout=60) as library:
        library.scan([pack])
        key = oneshots._key(library.catalog)
        shots, reach = oneshots.current(library.catalog), oneshots.reach(library.catalog)
        with Library(home) as other:  # (the same process: its copy is put back below)
            (pack / "sample_02.wav").unlink()
            write_drum_hit(pack / "sample_70.wav", "tom", seed=770)
            report = other.scan([pack])
            assert report.removed == 1 and report.added == 1
            other.catalog.prune_removed(other.catalog.generation)
        oneshots._kept[key], oneshots._reach[key] = shots, reach  # as another process left them
        assert library.catalog.oldest_removal_kept() > shots.generation
        assert oneshots.written(library.catalog) > reach.written
        same_as_read(library)
        assert len(oneshots.current(library.catalog)) == library.catalog.scalar(
            "SELECT count(*) FROM samples WHERE type = 'oneshot'")


def test_an_older_versions_voter_fingerprint_is_honoured(tmp_path: Path, asked_around: list):
    """A catalog whose last consensus round an older version made (its fingerprint of the
    voters, a hash of their ids joined) still takes the incremental path once."""
    pack = tmp_path / "pack"
    drum_pack(pack, unnamed=10)
    home = tmp_path / "home"
    with Library(home, jobs=2, timeout=60) as library:
        library.scan([pack])
        catalog = library.catalog
        voters = consensus.listeners(catalog, library.index.current().ids())
        last_max = int(catalog.scalar("SELECT value FROM meta WHERE key = 'consensus_max_id'"))
        catalog.set_meta({"consensus_voters": consensus._fingerprint(
            voters[voters <= last_max].tolist()), "consensus_voter_sum": "stale"})
    write_drum_hit(pack / "sample_60.wav", "kick", seed=660)
    with Library(home, jobs=2, timeout=60) as library:
        assert library.scan([pack]).added == 1
        state = categories(library)
        assert library.catalog.scalar(
            "SELECT value FROM meta WHERE key = 'consensus_voters'") == ""
    assert asked_around, "the older fingerprint made a full round"
    assert state == recomputed(home, tmp_path / "full")
