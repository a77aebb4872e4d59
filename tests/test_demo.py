"""The demo pack and the benchmark library generator: formats, truths, safety, determinism;
the demo command end to end."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samplemind.demo import FORMATS, LOSSY, MARKER, DemoFile, write_demo_pack, write_library
from samplemind.errors import UsageError
from samplemind.music import note_to_midi, parse_key
from samplemind.synth import (
    WAVEFORMS,
    bass_loop,
    chord_progression,
    clap,
    drum_loop,
    hihat,
    kick,
    loop_frames,
    pad,
    snare,
    tom,
    tone,
)

from helpers import run_cli

CATEGORIES = {"kick", "snare", "hihat", "clap", "tom", "bass", "synth", "keys", "pad", "drums"}
ONE_DB_BELOW_FULL_SCALE = 10 ** (-1 / 20)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> list[DemoFile]:
    """The demo pack, written once for the whole module."""
    return write_demo_pack(tmp_path_factory.mktemp("demo") / "pack")


def _read(path: Path) -> tuple[np.ndarray, int]:
    audio, sr = sf.read(str(path), always_2d=True, dtype="float64")
    return audio, sr


def _whole_beats(frames: int, sr: int, bpm: float) -> int:
    """The number of beats a loop holds, if its length is a whole number of beats (else -1)."""
    beats = round(frames / sr * bpm / 60.0)
    return beats if abs(frames - beats * 60.0 / bpm * sr) <= 1.0 else -1


# ---------------------------------------------------------------- the demo pack


@pytest.mark.slow
def test_pack_writes_every_format_in_a_small_pack(pack: list[DemoFile]) -> None:
    root = pack[0].path.parents[2]
    assert {f.path.suffix.lstrip(".") for f in pack} == set(FORMATS)
    assert 40 <= len(pack) <= 60
    assert len({f.path for f in pack}) == len(pack)
    assert all(f.path.is_absolute() and f.path.is_file() for f in pack)
    assert sum(f.path.stat().st_size for f in pack) < 12_000_000
    # The marker is hidden (the scanner skips it) and lists exactly what was written.
    marker = json.loads((root / MARKER).read_text())
    assert sorted(marker["files"]) == sorted(str(f.path.relative_to(root)) for f in pack)


@pytest.mark.slow
def test_pack_mixes_rates_depths_and_channels(pack: list[DemoFile]) -> None:
    assert {22050, 44100, 48000, 96000} <= {f.sample_rate for f in pack}
    assert {1, 2} == {f.channels for f in pack}
    wav_subtypes = {f.subtype for f in pack if f.path.suffix == ".wav"}
    assert {"PCM_16", "PCM_24", "FLOAT"} <= wav_subtypes


def test_files_read_back_as_declared(pack: list[DemoFile]) -> None:
    for f in pack:
        info = sf.info(str(f.path))
        assert info.format == FORMATS[f.path.suffix.lstrip(".")][0], f.path
        assert info.samplerate == f.sample_rate, f.path
        assert info.channels == f.channels, f.path
        assert info.subtype == f.subtype, f.path
        assert info.frames > 0, f.path


def test_truths_are_consistent(pack: list[DemoFile]) -> None:
    for f in pack:
        assert f.category in CATEGORIES, f
        assert f.type in ("loop", "oneshot"), f
        if f.type == "loop":
            assert f.bpm is not None and f.note is None, f
        else:
            assert f.bpm is None, f
        if f.note is not None:
            assert note_to_midi(f.note) is not None, f
        if f.key is not None:
            assert parse_key(f.key) == f.key, f
        if f.type == "oneshot" and f.category in ("bass", "synth", "keys"):
            assert f.note is not None, f
    loops = [f for f in pack if f.type == "loop"]
    assert len({f.bpm for f in loops if f.category == "drums"}) >= 3
    assert len({f.key for f in loops if f.key}) >= 4
    assert len({f.note for f in pack if f.category == "bass" and f.note}) >= 4


def test_loops_are_whole_bars_at_their_tempo(pack: list[DemoFile]) -> None:
    for f in (f for f in pack if f.type == "loop"):
        audio, sr = _read(f.path)
        beats = _whole_beats(len(audio), sr, f.bpm)
        assert beats > 0 and beats % 4 == 0, (f.path, len(audio), f.bpm)


def test_levels_are_sensible_and_never_clip(pack: list[DemoFile]) -> None:
    for f in pack:
        audio, _ = _read(f.path)
        peak = float(np.max(np.abs(audio)))
        assert np.all(np.isfinite(audio)), f.path
        assert peak < 1.0, f.path  # below 0 dBFS, even after a lossy codec
        assert peak > 10 ** (-12 / 20), f.path  # not near-silent
        if f.path.suffix.lstrip(".") not in LOSSY:
            assert peak <= ONE_DB_BELOW_FULL_SCALE + 1e-4, f.path


def test_names_carry_hints_except_the_neutral_ones(pack: list[DemoFile]) -> None:
    neutral = [f for f in pack if f.path.stem.startswith("sample_")]
    assert len(neutral) >= 5
    assert {f.type for f in neutral} == {"loop", "oneshot"}
    for f in pack:
        if f in neutral:
            continue
        name = f.path.stem.lower()
        if f.type == "oneshot":
            assert f.category in name or f.category in f.path.parent.name.lower(), f.path
        if f.bpm is not None:
            assert f"{f.bpm:.0f}bpm" in name, f.path
        if f.note is not None:
            assert f.note.lower() in name, f.path


def test_refuses_a_non_empty_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "my_song.wav").write_bytes(b"precious")
    with pytest.raises(UsageError, match="is not empty; choose another folder"):
        write_demo_pack(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["my_song.wav"]
    assert (tmp_path / "my_song.wav").read_bytes() == b"precious"
    with pytest.raises(UsageError):
        write_demo_pack(tmp_path / "my_song.wav")  # a file, not a folder


@pytest.mark.slow
def test_same_seed_same_audio_and_rerun_over_own_pack(pack: list[DemoFile], tmp_path: Path) -> None:
    again = write_demo_pack(tmp_path / "again", seed=7)
    assert [(f.category, f.type, f.bpm, f.key, f.note) for f in again] == [
        (f.category, f.type, f.bpm, f.key, f.note) for f in pack
    ]
    for first, second in zip(pack, again, strict=True):
        assert first.path.name == second.path.name
        assert np.array_equal(_read(first.path)[0], _read(second.path)[0]), first.path
    # Writing over a previous demo pack is allowed; another seed changes the noise, not the truths.
    other = write_demo_pack(tmp_path / "again", seed=8)
    assert [f.path for f in other] == [f.path for f in again]
    changed = sum(
        not np.array_equal(_read(a.path)[0], _read(b.path)[0]) for a, b in zip(pack, other)
    )
    assert changed >= len(pack) // 2


# ---------------------------------------------------------------- benchmark libraries


@pytest.mark.slow
def test_write_library_writes_the_requested_counts(tmp_path: Path) -> None:
    files = write_library(tmp_path / "lib", 40, 8, seed=3, formats=tuple(FORMATS), workers=1)
    assert Counter(f.type for f in files) == {"oneshot": 40, "loop": 8}
    on_disk = [p for p in (tmp_path / "lib").rglob("*") if p.is_file() and p.name != MARKER]
    assert sorted(on_disk) == sorted(f.path for f in files)
    assert {f.path.suffix.lstrip(".") for f in files} <= set(FORMATS)
    for f in files:
        audio, sr = _read(f.path)
        assert sr == f.sample_rate and audio.shape[1] == f.channels, f.path
        assert 0.0 < np.max(np.abs(audio)) < 1.0, f.path
        seconds = len(audio) / sr
        if f.type == "oneshot":
            assert 0.09 <= seconds <= 1.51, f.path
        else:
            assert 1.9 <= seconds <= 8.1, f.path
            assert _whole_beats(len(audio), sr, f.bpm) % 4 == 0, f.path


@pytest.mark.slow
def test_write_library_is_the_same_with_worker_processes(tmp_path: Path) -> None:
    serial = write_library(tmp_path / "serial", 10, 2, seed=5, workers=1)
    parallel = write_library(tmp_path / "parallel", 10, 2, seed=5, workers=2)

    def relative(files: list[DemoFile], root: Path) -> list[tuple]:
        return [(f.path.relative_to(root), f.category, f.type, f.bpm, f.key, f.note) for f in files]

    assert relative(serial, tmp_path / "serial") == relative(parallel, tmp_path / "parallel")
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(_read(a.path)[0], _read(b.path)[0])


def test_write_library_reruns_over_itself_and_keeps_user_files(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    first = write_library(root, 6, 1, seed=1)
    (root / "notes.txt").write_text("mine")
    second = write_library(root, 3, 0, seed=2)
    left = {p for p in root.rglob("*") if p.is_file() and p.name not in (MARKER, "notes.txt")}
    assert left == {f.path for f in second}
    assert (root / "notes.txt").read_text() == "mine"
    assert not any(f.path.exists() for f in first if f.path not in left)


def test_write_library_rejects_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown format"):
        write_library(tmp_path / "lib", 1, 0, formats=("wma",))


# ---------------------------------------------------------------- synthesis functions


@pytest.mark.slow
@pytest.mark.parametrize(("sr", "bpm", "bars"), [(44100, 174, 2), (48000, 140, 1), (22050, 90, 2)])
def test_loops_are_exactly_their_length(sr: int, bpm: float, bars: int) -> None:
    rng = np.random.default_rng(0)
    n = loop_frames(sr, bpm, bars * 4)
    assert drum_loop(sr, bpm, bars, rng=rng).shape == (n,)
    assert drum_loop(sr, bpm, bars, stereo=True, rng=rng).shape == (n, 2)
    assert chord_progression(sr, "F# minor", bpm, bars, rng=rng).shape == (n,)
    assert chord_progression(sr, "Bb major", bpm, bars, stereo=True, rng=rng).shape == (n, 2)
    assert bass_loop(sr, "A minor", bpm, bars, rng=rng).shape == (n,)


def test_voices_are_finite_and_peak_at_minus_one_dbfs() -> None:
    rng = np.random.default_rng(0)
    sounds = [kick(44100, rng=rng), snare(48000, rng=rng), hihat(22050, rng=rng),
              hihat(96000, open=True, rng=rng), clap(44100, rng=rng), tom(44100, rng=rng),
              pad(44100, [45, 52], 1.0, rng=rng)]  # fmt: skip
    sounds += [tone(44100, 28, 0.5, waveform) for waveform in WAVEFORMS]
    for sound in sounds:
        assert sound.dtype == np.float32 and len(sound) > 0
        assert np.all(np.isfinite(sound))
        assert abs(float(np.max(np.abs(sound))) - ONE_DB_BELOW_FULL_SCALE) < 1e-4


def test_tone_is_at_its_midi_pitch() -> None:
    sr = 44100
    for midi in (28, 45, 69):
        spectrum = np.abs(np.fft.rfft(tone(sr, midi, 2.0, "sine", release=0.0)))
        peak_hz = np.argmax(spectrum) * sr / (2 * (len(spectrum) - 1))
        assert abs(peak_hz - 440.0 * 2 ** ((midi - 69) / 12)) < 1.0


def test_tone_rejects_unknown_waveforms() -> None:
    with pytest.raises(ValueError, match="unknown waveform"):
        tone(44100, 60, 0.1, "kazoo")


# -- the demo command ---------------------------------------------------------------------


@pytest.mark.slow
def test_demo_writes_scans_and_lists(samplemind_home: Path, tmp_path: Path) -> None:
    result = run_cli("demo", str(tmp_path / "pack"), "-f", "jsonl", home=samplemind_home)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) >= 40
    assert {r["format"] for r in records} >= {"wav", "flac", "aiff", "ogg", "mp3"}
    assert {r["type"] for r in records} == {"loop", "oneshot"}
    assert "added" in result.stderr
    again = run_cli("demo", str(tmp_path / "pack"), "-f", "paths", home=samplemind_home)
    assert again.returncode == 0 and len(again.stdout.split()) == len(records)


@pytest.mark.slow
def test_demo_refuses_a_folder_with_other_files(samplemind_home: Path, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "song.wav").write_bytes(b"precious")
    result = run_cli("demo", str(tmp_path / "mine"), home=samplemind_home)
    assert result.returncode == 2 and "not empty" in result.stderr
    assert (tmp_path / "mine" / "song.wav").read_bytes() == b"precious"
