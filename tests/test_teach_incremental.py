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
from samplemind.similarity import teach

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
