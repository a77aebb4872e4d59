"""benchmarks/independent.py: the chord named in a GuitarStrums file name, the key it implies,
which files count, and the figures scored from records (no download, no scan here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def independent():
    spec = importlib.util.spec_from_file_location("independent_check",
                                                  ROOT / "benchmarks" / "independent.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, chord", [
    ("Amajor_03.flac", "A"),
    ("Aminor_UP_01.flac", "Am"),
    ("Bflat major_DOWN_02.flac", "A#"),
    ("Fsharp major_02.flac", "F#"),
    ("Csharp minor_UP_00.flac", "C#m"),
    ("Gsharp minor_DOWN_02.flac", "G#m"),
    ("Dsharp minor_00.flac", "D#m"),
    ("Cmajor_Down_01.flac", "C"),
    ("Emajor_UP_00.flac", "E"),
    ("Bminor_DOWN_03.flac", "Bm"),
    ("belofilms_GuitarStrums/Gmajor_01.flac", "G"),
])
def test_triads_are_read_from_the_name(independent, name, chord):
    assert independent.strum_chord(name) == chord


@pytest.mark.parametrize("name", [
    "Bminor7b5_UP_02.flac", "Asharp minro7b5_DOWN_02.flac", "Dsharp minor7b5_DOWN_02wav.flac",
    "Eminor7b5_00.flac", "drumkit.xml", "Hminor_01.flac", "kick_01.flac", "",
])
def test_other_names_are_left_out(independent, name):
    assert independent.strum_chord(name) is None


def test_implied_key(independent):
    assert independent.implied_key("F#m") == "F# minor"
    assert independent.implied_key("A#") == "A# major"
    assert independent.implied_key("C") == "C major"


def test_strums_counts_the_triads_and_what_is_left_out(independent, tmp_path):
    for name in ("Amajor_00.flac", "Aminor_UP_01.flac", "Bminor7b5_00.flac", "Fsharp major_DOWN_02.flac"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "drumkit.xml").write_text("<drumkit/>")
    named, other = independent.strums(tmp_path)
    assert [(path.name, chord) for path, chord in named] == [
        ("Amajor_00.flac", "A"), ("Aminor_UP_01.flac", "Am"), ("Fsharp major_DOWN_02.flac", "F#")]
    assert other == 1  # the m7b5; files that are not FLAC are not looked at


def test_score_counts_chord_key_and_mirex(independent):
    pairs = [
        ("Am", {"chord": "Am", "key": "A minor"}),   # exact, key same: 1.0
        ("C", {"chord": "Cmaj7", "key": "C major"}),  # root right only, key same: 1.0
        ("G", {"key": "D major"}),                    # key only, a fifth up: 0.5
        ("E", {"note": "E2"}),                        # a note: nothing given, 0
        ("F#m", {}),                                  # nothing: 0
    ]
    s = independent.score(pairs)
    assert (s["n"], s["given"], s["exact"], s["root"], s["notes"]) == (5, 3, 1, 2, 1)
    assert s["mirex"] == pytest.approx(2.5 / 5)
