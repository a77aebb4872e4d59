"""Walking folders: hidden files, non-audio, symlinks; hashing."""

from __future__ import annotations

import os
from pathlib import Path

from samplemind.scanner import hash_file, walk

from helpers import write_hit


def test_walk_finds_audio_and_skips_hidden_and_other_files(tmp_path: Path) -> None:
    write_hit(tmp_path / "a" / "kick.wav")
    write_hit(tmp_path / "a" / ".hidden.wav")
    write_hit(tmp_path / ".secret" / "snare.wav")
    (tmp_path / "a" / "notes.txt").write_text("not audio")
    (tmp_path / "a" / "UPPER.WAV").write_bytes((tmp_path / "a" / "kick.wav").read_bytes())
    found = sorted(Path(entry.path).name for entry in walk(str(tmp_path)))
    assert found == ["UPPER.WAV", "kick.wav"]


def test_walk_survives_symlink_loops_and_visits_each_file_once(tmp_path: Path) -> None:
    write_hit(tmp_path / "lib" / "sub" / "hat.wav")
    os.symlink(tmp_path / "lib", tmp_path / "lib" / "sub" / "loop")  # a loop back up
    os.symlink(tmp_path / "lib" / "sub" / "hat.wav", tmp_path / "lib" / "alias.wav")
    entries = list(walk(str(tmp_path / "lib")))
    assert len(entries) == 1


def test_walk_reports_unreadable_root(tmp_path: Path) -> None:
    skipped: list[tuple[str, str]] = []
    assert list(walk(str(tmp_path / "missing"), on_skip=lambda p, why: skipped.append((p, why)))) == []
    assert skipped and skipped[0][0].endswith("missing")


def test_walk_takes_a_single_file(tmp_path: Path) -> None:
    path = write_hit(tmp_path / "one.wav")
    entries = list(walk(str(path)))
    assert [entry.path for entry in entries] == [str(path)]
    assert entries[0].size == path.stat().st_size


def test_hash_depends_on_bytes_only(tmp_path: Path) -> None:
    first = write_hit(tmp_path / "x.wav")
    copy = tmp_path / "elsewhere" / "y.wav"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    assert hash_file(str(first)) == hash_file(str(copy))
    write_hit(tmp_path / "z.wav", freq=300)
    assert hash_file(str(first)) != hash_file(str(tmp_path / "z.wav"))
