"""Known answers end to end: the demo pack through Library.scan, from the sound alone.

The files are copied to neutral names (sample_0001.wav, ...) so every estimate must come
from the signal (source "dsp"), not from the names the demo pack gives them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from samplemind import Library
from samplemind.demo import DemoFile, write_demo_pack
from samplemind.music import note_to_midi

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[DemoFile, dict]]:
    """Every demo file, renamed, scanned once: (truth, record)."""
    base = tmp_path_factory.mktemp("known")
    pack = write_demo_pack(base / "pack")
    neutral = base / "neutral"
    neutral.mkdir()
    renamed = {}
    for index, item in enumerate(pack):
        target = neutral / f"sample_{index:04d}{item.path.suffix}"
        shutil.copyfile(item.path, target)
        renamed[str(target)] = item
    with Library(base / "home", jobs=2) as library:
        report = library.scan([neutral])
        assert report.failed == 0, report.failures
        return [(renamed[sample.path], sample.record) for sample in library.ls()]


def test_every_demo_file_is_catalogued_with_file_properties(demo_results) -> None:
    assert len(demo_results) >= 40
    for truth, record in demo_results:
        assert record["sample_rate"] == truth.sample_rate
        assert record["channels"] == truth.channels
        assert record["format"] == truth.path.suffix[1:]


def test_loop_or_oneshot(demo_results) -> None:
    wrong = [(t.path.name, r["type"]) for t, r in demo_results if r["type"] != t.type]
    assert not wrong


def test_bpm_of_loops_within_one(demo_results) -> None:
    loops = [(t, r) for t, r in demo_results if t.bpm]
    assert len(loops) >= 5
    for truth, record in loops:
        assert record["bpm_source"] == "dsp"
        assert record["bpm"] == pytest.approx(truth.bpm, abs=1.0), truth.path.name


def test_key_of_chord_loops(demo_results) -> None:
    chords = [(t, r) for t, r in demo_results if t.key]
    assert len(chords) >= 4
    for truth, record in chords:
        assert (record["key"], record["key_source"]) == (truth.key, "dsp"), truth.path.name
        assert record["camelot"]


def test_note_of_pitched_oneshots(demo_results) -> None:
    pitched = [(t, r) for t, r in demo_results if t.note and t.type == "oneshot"]
    assert len(pitched) >= 8
    for truth, record in pitched:
        assert record["note"] == truth.note, truth.path.name
        assert record["note_source"] == "dsp"
        cents = 1200 * abs(__import__("math").log2(record["pitch_hz"] / 440.0)
                           - (note_to_midi(truth.note) - 69) / 12)
        assert cents < 50


def test_drums_have_no_key_or_note(demo_results) -> None:
    for truth, record in demo_results:
        if truth.category in ("kick", "snare", "hihat", "clap") and truth.type == "oneshot":
            assert (record["key"], record["note"]) == (None, None), truth.path.name


def test_names_are_used_as_evidence_when_present(tmp_path: Path) -> None:
    pack = write_demo_pack(tmp_path / "pack")
    with Library(tmp_path / "home", jobs=2) as library:
        library.scan([tmp_path / "pack"])
        by_path = {sample.path: sample.record for sample in library.ls()}
    kicks = [by_path[str(item.path)] for item in pack
             if item.category == "kick" and "kick" in item.path.name]
    assert kicks and all(r["category"] == "kick" and r["category_source"] == "filename"
                         for r in kicks)
    named_bpm = [by_path[str(item.path)] for item in pack if "bpm" in item.path.name]
    assert named_bpm and all(r["bpm_source"] == "filename" for r in named_bpm)
    # the signal agrees with the names, so confidence is above the filename baseline
    assert all(r["bpm_confidence"] > 0.85 for r in named_bpm)
