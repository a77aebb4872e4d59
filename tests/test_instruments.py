"""Kits as sampler instruments: the GM drum map, velocity layers by loudness, round robins,
chokes, chromatic mapping, safe names, SFZ rendered through sfizz and Decent Sampler presets
checked against their documented structure."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pysfizz  # sfizz, the SFZ player, as a Python binding (a test dependency)
import pytest
import soundfile as sf

from samplemind import synth
from samplemind.errors import UsageError
from samplemind.export import MANIFEST_NAME, export_kit
from samplemind.instruments import InstrumentSpec, check_format, decentsampler, spec_for
from samplemind.instruments.layers import layer_sets
from samplemind.instruments.mapping import build

from helpers import run_cli

SR = 44100


def rec(sample_id: int, name: str, category: str | None, **fields: Any) -> dict[str, Any]:
    """A record as the catalog gives it (the fields the mapping reads)."""
    data = {"id": sample_id, "path": f"/lib/Kit/{name}", "name": name, "type": "oneshot",
            "category": category, "note": None, "bpm": None, "loudness_lufs": -12.0, "peak_db": -1.0,
            "duration": 0.5, "sample_rate": SR, "decay_time": None, "pitch_hz": None}
    data.update(fields)
    return data


def zones_by_name(instrument) -> dict[str, list]:
    out: dict[str, list] = {}
    for zone in instrument.zones:
        out.setdefault(zone.target, []).append(zone)
    return out


def mapped(records: list[dict[str, Any]], **options: Any):
    return build([(r, r["name"]) for r in records], "Kit", **options)


# --- the mapping ------------------------------------------------------------------------------

GM_KIT = [
    ("Kick.wav", "kick", {}, 36), ("Snare.wav", "snare", {}, 38), ("Rimshot.wav", "snare", {}, 37),
    ("Clap.wav", "clap", {}, 39), ("Closed HH.wav", "hihat", {}, 42),
    ("Pedal HH.wav", "hihat", {}, 44), ("Open HH.wav", "hihat", {}, 46),
    ("Crash.wav", "cymbal", {}, 49), ("Ride.wav", "cymbal", {}, 51),
    ("Ride Bell.wav", "cymbal", {}, 53), ("China.wav", "cymbal", {}, 52),
    ("Splash.wav", "cymbal", {}, 55), ("Cowbell.wav", "perc", {}, 56),
    ("Tambourine.wav", "perc", {}, 54), ("Claves.wav", "perc", {}, 75),
]


def test_every_category_lands_on_its_gm_note() -> None:
    records = [rec(i, name, category, **extra) for i, (name, category, extra, _) in enumerate(GM_KIT, 1)]
    instrument = mapped(records)
    assert instrument.layout == "drums"
    keys = {zone.target: zone.key for zone in instrument.zones}
    assert keys == {name: note for name, _, _, note in GM_KIT}
    # Drums play as recorded on their key.
    assert all(z.lokey == z.hikey == z.key and not z.keytrack for z in instrument.zones)


def test_unnamed_hats_are_told_apart_by_their_decay_and_all_hats_choke_each_other() -> None:
    records = [rec(1, "hat a.wav", "hihat", decay_time=0.05), rec(2, "hat b.wav", "hihat", decay_time=0.6),
               rec(3, "Kick.wav", "kick")]
    zones = zones_by_name(mapped(records))
    assert zones["hat a.wav"][0].key == 42 and zones["hat b.wav"][0].key == 46
    assert zones["hat a.wav"][0].choke == zones["hat b.wav"][0].choke == 1
    assert zones["Kick.wav"][0].choke is None


def test_toms_go_low_to_high_by_pitch() -> None:
    records = [rec(1, "Tom A.wav", "tom", pitch_hz=200.0), rec(2, "Tom B.wav", "tom", pitch_hz=80.0),
               rec(3, "Tom C.wav", "tom", pitch_hz=120.0)]
    keys = {z.target: z.key for z in mapped(records).zones}
    assert keys["Tom B.wav"] == 41 and keys["Tom A.wav"] == 50
    assert 41 < keys["Tom C.wav"] < 50


def test_velocity_layers_are_ordered_by_loudness_with_velocity_ranges() -> None:
    # Named in an order that is not the loudness order; "Med" is the loudest by peak only.
    records = [rec(1, "Snare Soft.wav", "snare", loudness_lufs=-24.0),
               rec(2, "Snare Hard.wav", "snare", loudness_lufs=-9.0),
               rec(3, "Snare Med.wav", "snare", loudness_lufs=-16.0, peak_db=-0.1),
               rec(4, "Snare Ghost.wav", "snare", loudness_lufs=-30.0)]
    zones = sorted(mapped(records).zones, key=lambda z: z.lovel)
    assert [z.target for z in zones] == ["Snare Ghost.wav", "Snare Soft.wav", "Snare Med.wav",
                                         "Snare Hard.wav"]
    assert {z.key for z in zones} == {38}
    assert zones[0].lovel == 1 and zones[-1].hivel == 127
    assert all(a.hivel + 1 == b.lovel for a, b in zip(zones, zones[1:]))
    assert [z.layer for z in zones] == [1, 2, 3, 4] and all(z.layers == 4 for z in zones)


def test_more_sounds_of_a_role_go_to_neighbouring_keys_or_round_robins() -> None:
    records = [rec(i, f"Kick {i}.wav", "kick") for i in range(1, 5)] + [rec(9, "Snare.wav", "snare")]
    spread = {z.target: z.key for z in mapped(records).zones}
    assert spread["Kick 1.wav"] == 36 and spread["Snare.wav"] == 38
    assert len({spread[f"Kick {i}.wav"] for i in range(1, 5)}) == 4
    assert all(abs(spread[f"Kick {i}.wav"] - 36) <= 3 for i in range(1, 5))
    robins = [z for z in mapped(records, round_robin=True).zones if z.role == "kick"]
    assert {z.key for z in robins} == {36}
    assert sorted(z.seq_position for z in robins) == [1, 2, 3, 4]
    assert {z.seq_length for z in robins} == {4}


def test_round_robin_files_of_one_sound_share_a_key_with_their_layers() -> None:
    records = [rec(1, "Snare_rr1_soft.wav", "snare", loudness_lufs=-20.0),
               rec(2, "Snare_rr1_hard.wav", "snare", loudness_lufs=-10.0),
               rec(3, "Snare_rr2_soft.wav", "snare", loudness_lufs=-21.0),
               rec(4, "Snare_rr2_hard.wav", "snare", loudness_lufs=-11.0)]
    zones = mapped(records).zones
    assert {z.key for z in zones} == {38}
    by_target = {z.target: z for z in zones}
    assert by_target["Snare_rr1_soft.wav"].seq_position == by_target["Snare_rr1_hard.wav"].seq_position == 1
    assert by_target["Snare_rr2_soft.wav"].seq_position == 2
    assert by_target["Snare_rr2_hard.wav"].hivel == 127 and by_target["Snare_rr2_soft.wav"].lovel == 1


def test_pitched_one_shots_are_mapped_chromatically_between_their_notes() -> None:
    records = [rec(1, "Pluck C3.wav", "synth", note="C3"), rec(2, "Pluck G3.wav", "synth", note="G3"),
               rec(3, "Pluck C4.wav", "synth", note="C4"),
               rec(4, "Groove.wav", None, type="loop", bpm=124.0)]
    instrument = mapped(records)
    assert instrument.layout == "chromatic"
    z = {zone.target: zone for zone in instrument.zones}
    assert (z["Pluck C3.wav"].key, z["Pluck G3.wav"].key, z["Pluck C4.wav"].key) == (48, 55, 60)
    assert z["Pluck C3.wav"].hikey + 1 == z["Pluck G3.wav"].lokey
    assert z["Pluck G3.wav"].hikey + 1 == z["Pluck C4.wav"].lokey
    assert z["Pluck G3.wav"].lokey <= 55 <= z["Pluck G3.wav"].hikey
    assert z["Pluck C3.wav"].lokey == 36 and z["Pluck C4.wav"].hikey == 72
    assert all(zone.keytrack for zone in instrument.zones if zone.role == "pitched")
    loop = z["Groove.wav"]
    assert loop.loop and loop.bpm == 124.0 and not loop.keytrack
    assert not 36 <= loop.key <= 72  # off the chromatic range


def test_layer_sets_need_labels_or_loudness_steps() -> None:
    labelled = [rec(1, "Cowbell Hard.wav", "perc", loudness_lufs=-15.0),
                rec(2, "Cowbell Soft.wav", "perc", loudness_lufs=-22.0)]
    numbered_steps = [rec(3, "Tom 1.wav", "tom", loudness_lufs=-24.0),
                      rec(4, "Tom 2.wav", "tom", loudness_lufs=-18.0)]
    numbered_flat = [rec(5, "Clap 1.wav", "clap", loudness_lufs=-12.0),
                     rec(6, "Clap 2.wav", "clap", loudness_lufs=-12.3)]
    sets = layer_sets(labelled + numbered_steps + numbered_flat, numbered=True)
    assert sorted([r["id"] for r in s] for s in sets) == [[2, 1], [3, 4]]
    assert layer_sets(numbered_steps) == []  # without numbered, a number is no label


# --- files ------------------------------------------------------------------------------------

def write(path: Path, audio: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.astype(np.float32), sr)
    return path


def file_record(path: Path, sample_id: int, category: str | None, **fields: Any) -> dict[str, Any]:
    data = rec(sample_id, path.name, category, **fields)
    data.update(path=str(path), format=path.suffix[1:].lower(), hash=None)
    return data


def load_sfz(path: Path, sr: int = SR):
    synth_ = pysfizz.Synth(sample_rate=sr, block_size=256)
    assert synth_.load_sfz_file(str(path), quiet=False), f"sfizz could not load {path}"
    return synth_


def render(synth_, note: int, velocity: int, seconds: float = 0.6) -> np.ndarray:
    audio = synth_.render_note(note, velocity, seconds, seconds + 0.2)
    synth_._synth.all_sound_off()
    return audio.mean(axis=0)


def likeness(rendered: np.ndarray, source: np.ndarray) -> float:
    """Peak normalised cross-correlation over small lags (the render may start a block late)."""
    n = min(len(source), len(rendered))
    a = source[:n] - source[:n].mean()
    best = 0.0
    for lag in range(0, 1025):
        b = rendered[lag:lag + n]
        if len(b) < n // 2:
            break
        m = len(b)
        denom = np.linalg.norm(a[:m]) * np.linalg.norm(b - b.mean())
        if denom > 0:
            best = max(best, float(np.dot(a[:m], b - b.mean()) / denom))
    return best


HOSTILE_NAMES = ["kick with spaces.wav", "snare \"quoted\" it's.wav", "Cajón ñ 日本 hat.wav",
                 "price $5 = tom.wav", "C#3 clap.wav"]


def test_names_with_spaces_quotes_and_non_ascii_load_and_play_in_sfizz(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    records = []
    for i, (name, category) in enumerate(zip(HOSTILE_NAMES, ["kick", "snare", "hihat", "tom", "clap"]), 1):
        path = write(tmp_path / "lib" / "Wëird földer" / name, 0.5 * rng.standard_normal(SR // 4))
        records.append(file_record(path, i, category))
    kit = tmp_path / "Kits" / "Odd $kit"
    report = export_kit(records, kit, pattern="{category}/{name}",
                        instrument=spec_for("sfz", kit.name))
    assert not report.skipped and len(report.items) == 5
    sfz_file = kit / report.instrument["file"]
    assert sfz_file.name == "Odd _kit.sfz"
    text = sfz_file.read_text("utf-8")
    assert "$" not in text.split("\n", 1)[1] and "/lib/" not in text  # relative, no variables
    for item in report.items:
        assert "$" not in item.target and "=" not in item.target
        assert (kit / item.target).is_file()
    synth_ = load_sfz(sfz_file)
    keys = {zone["key"] for zone in report.instrument["zones"]}
    assert set(synth_.playable_keys) == keys
    for key in keys:
        assert np.abs(render(synth_, key, 100, 0.2)).max() > 0.01, key
    # The same kit as a Decent Sampler preset: valid, every path a file in the kit.
    report = export_kit(records, kit, pattern="{category}/{name}", force=True,
                        instrument=spec_for("decentsampler", kit.name))
    preset = (kit / report.instrument["file"]).read_text("utf-8")
    assert decentsampler.validate(preset, str(kit)) == []
    assert len([line for line in preset.splitlines() if "<sample " in line]) == 5


def test_a_kit_of_500_sounds(tmp_path: Path) -> None:
    categories = ["kick", "snare", "hihat", "cymbal", "tom", "clap", "perc"]
    rng = np.random.default_rng(2)
    records = []
    for i in range(500):
        category = categories[i % len(categories)]
        path = write(tmp_path / "lib" / category / f"{category} {i:03d}.wav",
                     0.3 * rng.standard_normal(400), 22050)
        records.append(file_record(path, i + 1, category, loudness_lufs=-10.0 - (i % 9)))
    kit = tmp_path / "Big"
    report = export_kit(records, kit, instrument=spec_for("sfz", "Big"))
    zones = report.instrument["zones"]
    assert len(zones) == 500 and {z["id"] for z in zones} == set(range(1, 501))
    assert all(0 <= z["key"] <= 127 for z in zones)
    assert any("round robins" in w for w in report.instrument["warnings"])  # 500 > 128 keys
    # No two zones answer the same key, velocity and round-robin turn.
    turns = {(z["key"], z["seq_position"], v) for z in zones for v in range(z["lovel"], z["hivel"] + 1)}
    assert len(turns) == sum(z["hivel"] - z["lovel"] + 1 for z in zones)
    manifest = json.loads((kit / MANIFEST_NAME).read_text("utf-8"))
    assert manifest["instrument"]["file"] == "Big.sfz" and len(manifest["items"]) == 500
    synth_ = load_sfz(kit / "Big.sfz", 22050)
    assert synth_._synth.get_num_regions() == 500
    assert 36 in synth_.playable_keys and 42 in synth_.playable_keys
    report = export_kit(records, tmp_path / "BigDS", instrument=spec_for("decentsampler", "Big"))
    assert decentsampler.validate((tmp_path / "BigDS" / "Big.dspreset").read_text("utf-8"),
                                  str(tmp_path / "BigDS")) == []


def test_nothing_is_overwritten_without_force(tmp_path: Path) -> None:
    path = write(tmp_path / "lib" / "Kick.wav", np.zeros(1000))
    records = [file_record(path, 1, "kick")]
    kit = tmp_path / "Kit"
    kit.mkdir()
    (kit / "Kit.sfz").write_text("mine\n")
    with pytest.raises(UsageError, match="already exists"):
        export_kit(records, kit, instrument=spec_for("sfz", "Kit"))
    assert (kit / "Kit.sfz").read_text() == "mine\n" and not (kit / "kick").exists()
    report = export_kit(records, kit, instrument=spec_for("sfz", "Kit"), force=True)
    assert (kit / "Kit.sfz").read_text() != "mine\n" and report.instrument["zones"][0]["key"] == 36


def test_an_instrument_in_a_zip_sits_beside_its_samples_and_manifest(tmp_path: Path) -> None:
    path = write(tmp_path / "lib" / "Kick.wav", np.zeros(1000))
    zipped = tmp_path / "kit.zip"
    export_kit([file_record(path, 1, "kick")], None, zip_path=zipped,
               instrument=InstrumentSpec("decentsampler", "kit"))
    with zipfile.ZipFile(zipped) as archive:
        names = set(archive.namelist())
        assert names == {"kick/Kick.wav", "kit.dspreset", MANIFEST_NAME}
        assert decentsampler.validate(archive.read("kit.dspreset").decode()) == []
        assert json.loads(archive.read(MANIFEST_NAME))["instrument"]["format"] == "decentsampler"


def test_formats_are_checked() -> None:
    assert check_format("SFZ") == "sfz" and check_format("decent-sampler") == "decentsampler"
    with pytest.raises(UsageError, match="sfz, decentsampler"):
        check_format("exs24")


def test_the_schema_check_finds_what_the_docs_forbid() -> None:
    bad = ('<DecentSampler><groups><group seqMode="sometimes"><sample rootNote="200" loVel="90" '
           'hiVel="10"/></group></groups><groups/></DecentSampler>')
    assert decentsampler.validate(bad) == ["2 <groups> elements; the format wants exactly one"]
    problems = decentsampler.validate(bad.replace("<groups/>", ""))
    assert any("seqMode" in p for p in problems) and any("required path" in p for p in problems)
    assert any("rootNote=200" in p for p in problems) and any("loVel 90 is above" in p for p in problems)
    assert decentsampler.validate("<Kontakt/>") == ["the root element is <Kontakt>, not <DecentSampler>"]


# --- through the catalog and a real player --------------------------------------------------------

def _tone(midi: int, seconds: float = 1.2) -> np.ndarray:
    return synth.tone(SR, midi, seconds, waveform="saw")


@pytest.fixture
def scanned_kit(library, tmp_path: Path) -> dict[str, Path]:
    """A generated kit scanned into the library: a kick, a snare in two velocity layers (two
    different sounds, so the layer that plays can be heard), closed and open hats, a pitched
    one-shot at C4."""
    root = tmp_path / "Drum Kit"
    rng = np.random.default_rng(7)
    files = {
        "kick": write(root / "Kick.wav", 0.9 * synth.kick(SR, pitch=55.0, rng=rng)),
        "soft": write(root / "Snare Soft.wav", 0.12 * synth.snare(SR, tone_hz=160.0, rng=rng)),
        "hard": write(root / "Snare Hard.wav", 0.9 * synth.snare(SR, tone_hz=240.0, rng=rng)),
        "closed": write(root / "Closed Hat.wav", 0.5 * synth.hihat(SR, rng=rng)),
        "open": write(root / "Open Hat.wav", 0.5 * synth.hihat(SR, open=True, rng=rng)),
        "pluck": write(tmp_path / "Keys" / "Keys C4.wav", 0.5 * _tone(60)),
    }
    assert library.scan([root, tmp_path / "Keys"]).failed == 0
    return files


@pytest.mark.slow
def test_sfizz_plays_the_kick_on_36_and_picks_layers_by_velocity(library, scanned_kit,
                                                                 tmp_path: Path) -> None:
    kit = tmp_path / "Out" / "Drums"
    report = library.export(f"path:{scanned_kit['kick'].parent}/*", kit, instrument="sfz")
    keys = {Path(z["target"]).name: z["key"] for z in report.instrument["zones"]}
    assert keys["Kick.wav"] == 36 and keys["Snare Soft.wav"] == keys["Snare Hard.wav"] == 38
    assert keys["Closed Hat.wav"] == 42 and keys["Open Hat.wav"] == 46
    synth_ = load_sfz(kit / "Drums.sfz")
    sources = {name: sf.read(path, dtype="float32")[0] for name, path in scanned_kit.items()}
    kick = render(synth_, 36, 110)
    assert likeness(kick, sources["kick"]) > 0.9
    assert likeness(kick, sources["kick"]) > likeness(kick, sources["hard"]) + 0.3
    soft, hard = render(synth_, 38, 30), render(synth_, 38, 120)
    assert likeness(soft, sources["soft"]) > 0.9 > likeness(soft, sources["hard"])
    assert likeness(hard, sources["hard"]) > 0.9 > likeness(hard, sources["soft"])


@pytest.mark.slow
def test_a_chromatic_instrument_plays_in_tune_away_from_its_root(library, scanned_kit,
                                                                 tmp_path: Path) -> None:
    record = library.get(str(scanned_kit["pluck"])).to_json()
    assert record["note"] == "C4"
    kit = tmp_path / "Out" / "Keys"
    report = library.export(f"path:{scanned_kit['pluck'].parent}/*", kit, instrument="sfz")
    assert report.instrument["layout"] == "chromatic"
    synth_ = load_sfz(kit / "Keys.sfz")
    renders = tmp_path / "renders"
    # A fifth up and a fourth down from the root (names without a note in them).
    for name, note in (("up", 67), ("down", 53)):
        write(renders / f"render {name}.wav", render(synth_, note, 100, 1.0))
    assert library.scan([renders]).failed == 0
    heard = {Path(s.path).stem: (s.record["note"], s.record["note_source"])
             for s in library.ls(f"path:{renders}/*")}
    assert heard == {"render up": ("G4", "dsp"), "render down": ("F3", "dsp")}


@pytest.mark.slow
def test_cli_export_as_sfz_and_decentsampler(library, scanned_kit, tmp_path: Path) -> None:
    library.close()
    home = Path(os.environ["SAMPLEMIND_HOME"])
    query = f"path:{scanned_kit['kick'].parent}/*"
    kit = tmp_path / "CLI Kit"
    done = run_cli("export", query, "--to", str(kit), "--as", "decentsampler", "--round-robin",
                   home=home)
    assert done.returncode == 0, done.stderr
    assert "Instrument CLI Kit.dspreset (drums): 5 sample(s) on 4 key(s)." in done.stderr
    assert decentsampler.validate((kit / "CLI Kit.dspreset").read_text("utf-8"), str(kit)) == []
    again = run_cli("export", query, "--to", str(kit), "--as", "decentsampler", home=home)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert "use --force to replace it" in again.stderr  # the core: "allow overwriting"
    wrong = run_cli("export", query, "--to", str(kit), "--round-robin", home=home)
    assert wrong.returncode == 2 and "--as sfz" in wrong.stderr


@pytest.mark.slow
@pytest.mark.asyncio
async def test_post_exports_with_as_puts_the_instrument_in_the_zip(library, scanned_kit, samplemind_home,
                                                                   aiohttp_client) -> None:
    from samplemind.server import ServerConfig, make_app

    client = await aiohttp_client(make_app(samplemind_home, config=ServerConfig(threads=2)))
    query = f"path:{scanned_kit['kick'].parent}/*"
    response = await client.post("/api/v1/exports", json={"query": query, "name": "web kit",
                                                           "as": "sfz", "round_robin": True})
    data = await response.json()
    assert response.status == 201, data
    response = await client.get(data["url"])
    assert response.status == 200
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    manifest = json.loads(archive.read(MANIFEST_NAME))
    assert manifest["instrument"]["file"] == "web_kit.sfz" and len(manifest["items"]) == 5
    unpacked = Path(os.environ["SAMPLEMIND_HOME"]).parent / "unzipped"
    archive.extractall(unpacked)
    synth_ = load_sfz(unpacked / "web_kit.sfz")
    assert {36, 38, 42, 46} == set(synth_.playable_keys)
    for body, words in (({"query": query, "as": "exs"}, "/as must be 'decentsampler' or 'sfz'"),
                        ({"query": query, "round_robin": True}, "shapes an instrument"),
                        ({"query": query, "as": "sfz", "round_robin": "yes"}, "true or false")):
        response = await client.post("/api/v1/exports", json=body)
        assert response.status == 400 and words in (await response.json())["error"], body
