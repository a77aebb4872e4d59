"""Stable ids: the same library scanned into fresh catalogs numbers its files the same, in
path order, however the analysis finishes (issue 21)."""

from __future__ import annotations

from pathlib import Path

from samplemind.library import Library

from helpers import write_hit


def _write_pack(root: Path) -> list[str]:
    # Long files first in path order, short ones after: analysis finishes the short ones
    # first, so ids given in completion order would put them first.
    paths = [write_hit(root / "A_long" / f"long_{i}.wav", freq=40 + 9 * i, seconds=12.0, seed=i)
             for i in range(3)]
    paths += [write_hit(root / "B_short" / f"short_{i:02d}.wav", freq=70 + 5 * i, seed=10 + i)
              for i in range(20)]
    return sorted(str(path) for path in paths)


def _ids(home: Path, root: Path) -> dict[str, int]:
    with Library(home, jobs=2) as library:
        report = library.scan([root])
        assert report.added == 23 and report.failed == 0
        return {sample.path: sample.id for sample in library.ls()}


def test_the_same_library_scanned_twice_numbers_its_files_the_same(tmp_path: Path) -> None:
    paths = _write_pack(tmp_path / "pack")
    first = _ids(tmp_path / "home1", tmp_path / "pack")
    second = _ids(tmp_path / "home2", tmp_path / "pack")
    assert first == second
    assert [first[path] for path in paths] == list(range(1, 24))  # path order


def test_new_files_follow_in_path_order_after_the_highest_id(tmp_path: Path) -> None:
    _write_pack(tmp_path / "pack")
    home = tmp_path / "home"
    before = _ids(home, tmp_path / "pack")
    added = [write_hit(tmp_path / "pack" / "C_more" / f"more_{i}.wav", freq=300 + 20 * i,
                       seed=40 + i) for i in (2, 0, 1)]
    with Library(home, jobs=2) as library:
        assert library.scan([tmp_path / "pack"]).added == 3
        after = {sample.path: sample.id for sample in library.ls()}
    assert {path: after[path] for path in before} == before  # nothing renumbered
    assert [after[str(path)] for path in sorted(added)] == [24, 25, 26]
