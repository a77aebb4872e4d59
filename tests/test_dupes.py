"""Duplicates: exact across formats, near by distance and length, the keeper rule, and
actions that change nothing unless asked and can be undone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samplemind import Library, synth
from samplemind.errors import BadValue

from audio_fixtures import write_audio
from helpers import run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

SR = 44100


def _write(path: Path, audio: np.ndarray, sr: int = SR, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_audio(path, audio, sr, **kwargs)


def _snare(seed: int = 0) -> np.ndarray:
    return synth.normalize(synth.snare(SR, rng=np.random.default_rng(seed)))


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    root = tmp_path / "pack"
    snare = _snare()
    # The same sound as WAV, FLAC and AIFF: one exact group.
    _write(root / "wav" / "snare.wav", snare)
    _write(root / "flac" / "snare_copy.flac", snare)
    _write(root / "aiff" / "deep" / "folder" / "snare.aiff", snare)
    # A velocity layer: the same hit, softer. Near, not exact, and a layer (not a duplicate).
    kick = synth.normalize(synth.kick(SR, rng=np.random.default_rng(1)))
    _write(root / "kit" / "kick_hard.wav", kick)
    _write(root / "kit" / "kick_soft.wav", kick * 0.45)
    # The same tone at 48 kHz 24-bit and 44.1 kHz 16-bit: near, the better one kept.
    _write(root / "tones" / "pluck_44k.wav", synth.normalize(synth.tone(SR, 57, 0.8, "pluck")))
    _write(root / "tones" / "pluck_48k.wav", synth.normalize(synth.tone(48000, 57, 0.8, "pluck")),
           48000, subtype="PCM_24")
    # Unrelated sounds.
    _write(root / "other" / "hat.wav", synth.normalize(synth.hihat(SR, rng=np.random.default_rng(5))))
    _write(root / "other" / "pad.wav", synth.normalize(synth.pad(SR, [60, 64, 67], 2.0)))
    return root


@pytest.fixture
def scanned(library: Library, pack: Path) -> Library:
    report = library.scan([pack])
    assert report.failed == 0 and report.added == 9
    return library


def _groups(library: Library, **kwargs) -> list[tuple[str, str, list[str]]]:
    return [(g.kind, Path(g.keeper.path).name, sorted(Path(s.path).name for s in g.others))
            for g in library.dupes(**kwargs)]


def test_exact_duplicates_are_found_across_formats(scanned: Library):
    exact = [g for g in scanned.dupes() if g.kind == "exact"]
    assert len(exact) == 1
    group = exact[0]
    assert sorted(Path(s.path).name for s in group.samples) == ["snare.aiff", "snare.wav",
                                                                "snare_copy.flac"]
    # Same quality everywhere: the shortest path is kept.
    assert group.keeper.path.endswith("wav/snare.wav")
    assert "shortest path" in group.reason


def test_near_duplicates_velocity_layers_and_resamples(scanned: Library):
    groups = _groups(scanned)
    # The two kick layers are close, but one sound's layers: listed apart, softest first.
    layers = scanned.dupes_and_layers()[1]
    assert [[Path(s.path).name for s in found.layers] for found in layers] == [
        ["kick_soft.wav", "kick_hard.wav"]]
    assert not [g for g in groups if "kick_hard.wav" in [g[1], *g[2]]]
    tones = [g for g in scanned.dupes() if g.kind == "near" and "pluck" in g.keeper.path]
    assert len(tones) == 1
    assert tones[0].keeper.path.endswith("pluck_48k.wav")
    assert tones[0].reason == "higher sample rate (48000 Hz)"
    # Nothing unrelated is grouped, and exact copies are not repeated as near ones.
    names = {name for g in groups for name in [g[1], *g[2]]}
    assert "hat.wav" not in names and "pad.wav" not in names
    assert sum(g[0] == "near" and "snare" in g[1] for g in groups) == 0


def test_the_threshold_decides_what_is_near(scanned: Library):
    assert [g for g in scanned.dupes(threshold=0.0) if g.kind == "near"] == []
    assert [g.kind for g in scanned.dupes(near=False)] == ["exact"]
    assert all(g.kind == "near" for g in scanned.dupes(exact=False))
    kicks = scanned.dupes_and_layers()[1]  # the kick's layers obey the threshold too
    distance = kicks[0].distance
    assert 0 < distance <= 0.25
    assert not scanned.dupes_and_layers(threshold=distance * 0.9)[1]
    assert scanned.dupes_and_layers(threshold=distance * 1.1)[1]



@pytest.mark.parametrize("threshold", [-0.1, 10.5, float("nan")])
def test_a_threshold_outside_its_rule_is_refused_in_no_callers_words(library: Library,
                                                                     threshold: float):
    """The core says "threshold", not the CLI's "--threshold" (the CLI and the API bound the
    value first, from the same similarity.dupes.MAX_THRESHOLD)."""
    with pytest.raises(BadValue, match=r"^threshold must be between 0 and 10 \(default 0.2\)$"):
        library.dupes(threshold=threshold)
    assert library.dupes(threshold=10) == []  # the bounds themselves are allowed


def test_the_cli_says_the_cores_refusal_of_a_threshold_with_its_option(
        samplemind_home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]):
    from samplemind.cli import main
    from samplemind.similarity import dupes

    def refuse(threshold: float) -> None:  # a rule stricter than the option's own bounds
        raise BadValue("threshold", "must be below 0.4")

    monkeypatch.setattr(dupes, "check_threshold", refuse)
    assert main(["dupes", "-t", "0.5"]) == 2
    assert "error: --threshold must be below 0.4" in capsys.readouterr().err


def test_lossless_is_kept_over_lossy(library: Library, tmp_path: Path):
    hit = synth.normalize(synth.tom(SR, rng=np.random.default_rng(2)))
    _write(tmp_path / "p" / "a_very_long_folder_name" / "tom.wav", hit)
    # A high-bitrate MP3, as sample stores sell them.
    sf.write(tmp_path / "p" / "tom.mp3", hit, SR, format="MP3", subtype="MPEG_LAYER_III",
             compression_level=0.0, bitrate_mode="CONSTANT")
    library.scan([tmp_path / "p"])
    groups = library.dupes()
    assert len(groups) == 1 and groups[0].kind == "near"
    assert groups[0].keeper.path.endswith("tom.wav")
    assert groups[0].reason == "lossless (wav) over lossy (mp3)"


def test_dupes_changes_nothing_by_default(scanned: Library, pack: Path):
    before = sorted(p for p in pack.rglob("*") if p.is_file())
    home = scanned.paths.data_dir
    out = run_cli("dupes", "-f", "json", home=home)
    assert out.returncode == 0, out.stderr
    groups = json.loads(out.stdout)
    assert {g["kind"] for g in groups} == {"exact", "near", "layers"}
    assert "Nothing changed" in out.stderr
    paths = run_cli("dupes", "-f", "paths", home=home).stdout.split()
    assert str(pack / "wav" / "snare.wav") not in paths  # keepers are never listed
    assert str(pack / "flac" / "snare_copy.flac") in paths
    assert sorted(p for p in pack.rglob("*") if p.is_file()) == before


def test_move_to_is_undoable_with_tags_kept(scanned: Library, pack: Path, tmp_path: Path):
    home = scanned.paths.data_dir
    copy = scanned.get(str(pack / "flac" / "snare_copy.flac"))
    with scanned.catalog.transaction():
        scanned.catalog.set_tags(copy.id, ["crispy"], "user")
    aside = tmp_path / "aside"
    moved = run_cli("dupes", "--exact-only", "--move-to", str(aside), home=home)
    assert moved.returncode == 0, moved.stderr
    assert not (pack / "flac" / "snare_copy.flac").exists()
    assert (aside / "pack" / "flac" / "snare_copy.flac").exists()
    assert (pack / "wav" / "snare.wav").exists()  # the keeper stays
    manifests = list(aside.glob("samplemind-dupes-*.json"))
    assert len(manifests) == 1 and "Undo with: samplemind dupes --undo" in moved.stderr
    listed = {s["path"] for s in json.loads(run_cli("ls", "-f", "json", home=home).stdout)}
    assert str(pack / "flac" / "snare_copy.flac") not in listed
    undone = run_cli("dupes", "--undo", str(manifests[0]), home=home)
    assert undone.returncode == 0, undone.stderr
    assert (pack / "flac" / "snare_copy.flac").exists()
    assert (pack / "aiff" / "deep" / "folder" / "snare.aiff").exists()
    record = json.loads(run_cli("show", str(pack / "flac" / "snare_copy.flac"), "-f", "json",
                                home=home).stdout)
    assert "crispy" in record["tags"]
    assert len(json.loads(run_cli("dupes", "--exact-only", "-f", "json",
                                  home=home).stdout)[0]["others"]) == 2


def test_delete_needs_a_confirmation(scanned: Library, pack: Path):
    home = scanned.paths.data_dir
    refused = run_cli("dupes", "--exact-only", "--delete", home=home)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert (pack / "flac" / "snare_copy.flac").exists()
    deleted = run_cli("dupes", "--exact-only", "--delete", "--yes", home=home)
    assert deleted.returncode == 0, deleted.stderr
    assert not (pack / "flac" / "snare_copy.flac").exists()
    assert not (pack / "aiff" / "deep" / "folder" / "snare.aiff").exists()
    assert (pack / "wav" / "snare.wav").exists()
    assert json.loads(run_cli("dupes", "--exact-only", "-f", "json", home=home).stdout) == []


def test_bad_dupes_arguments_are_usage_errors(scanned: Library, tmp_path: Path):
    home = scanned.paths.data_dir
    assert run_cli("dupes", "--exact-only", "--near-only", home=home).returncode == 2
    assert run_cli("dupes", "--delete", "--move-to", str(tmp_path), home=home).returncode == 2
    bad = run_cli("dupes", "--undo", str(tmp_path / "nope.json"), home=home)
    assert bad.returncode == 1 and "no such manifest" in bad.stderr
    (tmp_path / "x.json").write_text("[1, 2]")
    bad = run_cli("dupes", "--undo", str(tmp_path / "x.json"), home=home)
    assert bad.returncode == 2 and "not a samplemind dupes manifest" in bad.stderr
