"""Review of kits as instruments and exports: hostile file names must not lose a region in
sfizz, crash the manifest or make a preset that is not XML; the instrument file and a folder
of the kit must not share a name."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pysfizz
import pytest
import soundfile as sf

from samplemind.export import MANIFEST_NAME, export_kit
from samplemind.instruments import decentsampler, spec_for

SR = 44100


def _record(path: str, sample_id: int, category: str) -> dict:
    return {"id": sample_id, "path": path, "name": os.path.basename(path), "type": "oneshot",
            "category": category, "note": None, "bpm": None, "loudness_lufs": -12.0 - sample_id,
            "peak_db": -1.0, "duration": 0.1, "sample_rate": SR, "hash": None, "format": "wav"}


def _write(path: Path | str, level: float = 0.5) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = os.path.join(os.path.dirname(path), "tmp-write.wav")
    sf.write(temp, np.full(SR // 10, level, np.float32), SR)
    os.rename(temp, path)  # path may be bytes-escaped text soundfile cannot name
    return str(path)


@pytest.mark.parametrize("name", ["snare #define x.wav", "kick #include.wav"])
def test_a_preprocessor_word_in_a_name_does_not_lose_its_region_in_sfizz(tmp_path: Path,
                                                                        name: str) -> None:
    records = [_record(_write(tmp_path / "lib" / name), 1, "snare"),
               _record(_write(tmp_path / "lib" / "Kick.wav"), 2, "kick")]
    kit = tmp_path / "kit"
    report = export_kit(records, kit, instrument=spec_for("sfz", "kit"))
    assert len(report.items) == 2 and not report.skipped
    synth = pysfizz.Synth(sample_rate=SR, block_size=256)
    assert synth.load_sfz_file(str(kit / "kit.sfz"), quiet=True)
    assert synth._synth.get_num_regions() == 2
    for zone in report.instrument["zones"]:
        audio = synth.render_note(zone["key"], 100, 0.05, 0.1)
        synth._synth.all_sound_off()
        assert np.abs(audio).max() > 0.01, zone["target"]


@pytest.mark.parametrize("fmt", [None, "sfz", "decentsampler"])
def test_a_name_that_is_not_utf8_or_holds_control_characters_exports_with_its_manifest(
        tmp_path: Path, fmt: str | None) -> None:
    path = _write(os.fsdecode(os.fsencode(str(tmp_path / "lib")) + b"/Kick\xff\x01 hard.wav"))
    other = _write(tmp_path / "lib" / "Snare\x1b[31m.wav")
    kit = tmp_path / "kit"
    report = export_kit([_record(path, 1, "kick"), _record(other, 2, "snare")], kit,
                        instrument=spec_for(fmt, "kit") if fmt else None)
    assert len(report.items) == 2 and not report.skipped
    manifest = json.loads((kit / MANIFEST_NAME).read_text("utf-8"))
    assert [item["target"] for item in manifest["items"]] == [i.target for i in report.items]
    assert manifest["items"][0]["source"].endswith("Kick\\xff\x01 hard.wav")
    assert os.fsencode(path) == __import__("base64").b64decode(manifest["items"][0]["source_b64"])
    if fmt == "decentsampler":
        preset = (kit / "kit.dspreset").read_text("utf-8")
        assert decentsampler.validate(preset, str(kit)) == []
    if fmt == "sfz":
        synth = pysfizz.Synth(sample_rate=SR, block_size=256)
        assert synth.load_sfz_file(str(kit / "kit.sfz"), quiet=True)
        assert synth._synth.get_num_regions() == 2


def test_a_query_with_control_characters_makes_a_well_formed_preset(tmp_path: Path) -> None:
    path = _write(tmp_path / "lib" / "Kick.wav")
    kit = tmp_path / "kit"
    export_kit([_record(path, 1, "kick")], kit, query="kick\x02 --\x7f",
               instrument=spec_for("decentsampler", "kit"))
    assert decentsampler.validate((kit / "kit.dspreset").read_text("utf-8"), str(kit)) == []


def test_a_folder_of_the_kit_never_takes_the_instrument_file_s_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "lib" / "Kick.wav")
    kit = tmp_path / "kit"
    report = export_kit([_record(path, 1, "kick")], kit, pattern="kit.sfz/{name}",
                        instrument=spec_for("sfz", "kit"))
    assert (kit / "kit.sfz").is_file() and len(report.items) == 1
    assert (kit / report.items[0].target).is_file()
    zipped = tmp_path / "kit.zip"
    export_kit([_record(path, 1, "kick")], None, zip_path=zipped, pattern="KIT.SFZ/{name}",
               instrument=spec_for("sfz", "kit"))
    names = zipfile.ZipFile(zipped).namelist()
    folders = {name.split("/")[0].casefold() for name in names if "/" in name}
    assert "kit.sfz" in names and "kit.sfz" not in folders


def test_an_instrument_of_an_empty_selection_is_refused_and_nothing_written(library,
                                                                          tmp_path: Path) -> None:
    from samplemind.errors import NotFound

    path = _write(tmp_path / "lib" / "Kick.wav")
    assert library.scan([os.path.dirname(path)]).failed == 0
    kit = tmp_path / "kit"
    with pytest.raises(NotFound, match="no samples match"):
        library.export("cat:nothingatall", kit, instrument="sfz")
    assert not kit.exists()
    report = library.export("", kit, instrument="sfz")  # the one sample: a loadable instrument
    synth = pysfizz.Synth(sample_rate=SR, block_size=256)
    assert len(report.items) == 1 and synth.load_sfz_file(str(kit / "kit.sfz"), quiet=True)


def test_more_velocity_layers_than_velocities_are_all_playable() -> None:
    from samplemind.instruments.mapping import build

    records = [{"id": i, "path": f"/lib/Kit/Kick v{i}.wav", "name": f"Kick v{i}.wav",
                "type": "oneshot", "category": "kick", "loudness_lufs": -40.0 + i * 0.1}
               for i in range(1, 201)]
    zones = build([(r, r["name"]) for r in records], "kit").zones
    assert len(zones) == 200 and all(1 <= z.lovel <= z.hivel <= 127 for z in zones)
    turns = [(z.key, z.seq_position, v) for z in zones for v in range(z.lovel, z.hivel + 1)]
    assert len(turns) == len(set(turns))  # no two zones answer the same key, turn and velocity
    for position in {z.seq_position for z in zones}:  # each turn still soft to hard
        levels = [z.loudness_lufs for z in sorted(zones, key=lambda z: z.lovel)
                  if z.seq_position == position]
        assert levels == sorted(levels)
