"""Kit export: naming patterns, hostile values, collisions, --force, links, skipped files, zips."""

from __future__ import annotations

import errno
import io
import json
import os
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplemind.analysis.names import filename_hints
from samplemind.errors import SampleMindError, UsageError
from samplemind.export import (
    DEFAULT_PATTERN,
    MANIFEST_NAME,
    MAX_COMPONENT_BYTES,
    ExportReport,
    export_kit,
    plan_export,
    write_zip,
)
from samplemind.music import NOTE_NAMES
from samplemind.scanner import hash_file

from helpers import run_cli, write_hit

UNSAFE = set('\\:*?"<>|')


def record(path: Path | str, sample_id: int = 1, **fields: Any) -> dict[str, Any]:
    """A flat sample record for a file, as the catalog hands it out (only the fields we need)."""
    path = str(path)
    data = {"schema_version": 1, "id": sample_id, "path": path, "name": os.path.basename(path),
            "format": os.path.splitext(path)[1][1:].lower(), "type": "oneshot", "category": None,
            "bpm": None, "key": None, "camelot": None, "note": None, "tags": [],
            "hash": hash_file(path) if os.path.isfile(path) else None}
    data.update(fields)
    return data


def fake(name: str, sample_id: int = 1, **fields: Any) -> dict[str, Any]:
    """A record for a file that need not exist: enough for plan_export, which touches nothing."""
    return record(f"/lib/{name}", sample_id, **fields)


def targets(records: list[dict[str, Any]], pattern: str = DEFAULT_PATTERN) -> list[str]:
    return [item.target for item in plan_export(records, pattern)]


@pytest.fixture
def samples(tmp_path: Path) -> list[dict[str, Any]]:
    """Three real WAVs with a category, bpm and key each."""
    lib = tmp_path / "lib"
    return [
        record(write_hit(lib / "Kicks" / "kick_01.wav", seed=1), 1, category="kick"),
        record(write_hit(lib / "Loops" / "bass loop.wav", freq=110, seed=2), 2, category="bass",
               type="loop", bpm=120.0, key="A minor", camelot="8A"),
        record(write_hit(lib / "Snares" / "snare.wav", freq=200, seed=3), 3, category="snare"),
    ]


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if not path.is_dir())


# --- naming ---------------------------------------------------------------------------------------

def test_default_pattern_is_category_then_file_name() -> None:
    records = [fake("kick_01.wav", 1, category="kick"), fake("mystery.flac", 2)]
    assert targets(records) == ["kick/kick_01.wav", "unknown/mystery.flac"]


def test_custom_pattern_renders_bpm_key_and_missing_values() -> None:
    records = [fake("bass loop.wav", 1, category="bass", bpm=120.0, key="A minor"),
               fake("pad.aiff", 2, category="pad", bpm=92.5, key="F# major"),
               fake("kick.wav", 3, category="kick")]
    assert targets(records, "{category}/{bpm}_{key}_{name}") == [
        "bass/120_Am_bass loop.wav", "pad/92.5_F#maj_pad.aiff", "kick/unknown_unknown_kick.wav"]


def test_format_specs_apply_to_the_raw_value() -> None:
    records = [fake("a.wav", 1, bpm=127.6), fake("b.wav", 2, bpm=None), fake("c.wav", 3, bpm=90.0)]
    assert targets(records, "{bpm:03.0f}/{id:04d}") == ["128/0001.wav", "unknown/0002.wav", "090/0003.wav"]


def test_source_extension_is_always_kept_and_never_doubled() -> None:
    loud = fake("KICK.WAV", 1, category="kick")
    assert targets([loud], "{category}/{stem}") == ["kick/KICK.WAV"]
    assert targets([loud], "{stem}.{ext}") == ["KICK.wav"]  # the spelling the pattern asked for
    assert targets([loud], "{ext}/{stem}") == ["wav/KICK.WAV"]
    assert targets([fake("hat.flac")], "{stem}.wav") == ["hat.wav.flac"]  # never claims another format
    assert targets([fake("noext")], "{category}/{name}") == ["unknown/noext"]


def test_tags_join_and_other_fields_are_available() -> None:
    rec = fake("x.wav", 7, tags=["dark", "808"], note="A1", camelot="8A", type="loop")
    assert targets([rec], "{tags}/{type}_{note}_{camelot}_{id}") == ["dark-808/loop_A1_8A_7.wav"]


@pytest.mark.parametrize("tonic", NOTE_NAMES)
@pytest.mark.parametrize("scale", ["major", "minor"])
def test_key_names_read_back_as_the_same_key_on_a_rescan(tonic: str, scale: str) -> None:
    key = f"{tonic} {scale}"
    (target,) = targets([fake("loop.wav", key=key, bpm=124.0)], "{bpm}_{key}_{name}")
    assert filename_hints("/kit/" + target)["key"] == key


@pytest.mark.parametrize("pattern", [
    "", "   ", "/abs/{name}", "../{name}", "{category}/./{name}", "{nope}/{name}", "{}", "{0}",
    "{name.__class__}", "{tags[0]}", "{name!r}", "{category", "{bpm:.0f}/{category:.0f}",
])
def test_bad_patterns_are_usage_errors(pattern: str, tmp_path: Path, samples: list[dict]) -> None:
    with pytest.raises(UsageError):
        export_kit(samples, tmp_path / "kit", pattern=pattern)
    assert not (tmp_path / "kit").exists()  # refused before anything was written


# --- hostile values ---------------------------------------------------------------------------------

def assert_safe(target: str, depth: int) -> None:
    parts = target.split("/")
    assert len(parts) == depth, target
    for part in parts:
        assert part and not part.startswith(".") and part not in (".", "..")
        assert part == part.strip() and not part.endswith(".")
        assert not UNSAFE & set(part), part
        assert not any(unicodedata.category(char) in ("Cc", "Cs") for char in part)
        assert len(part.encode("utf-8")) <= MAX_COMPONENT_BYTES
        assert part.split(".")[0].upper() not in ("CON", "NUL", "AUX", "PRN", "COM1", "LPT1")
        assert unicodedata.normalize("NFC", part) == part


@pytest.mark.parametrize(("category", "expected_folder"), [
    ("../../etc", "_.._etc"), ("a/b", "a_b"), ("a\\b", "a_b"), ("..", "_"), ("/", "_"),
    ("CON", "_CON"), ("nul.txt", "_nul.txt"), ("", "unknown"), ("  kick. ", "kick"),
    ("bad\x00\x1b[31mname", "bad[31mname"), ("w:h*a?t\"<>|", "w_h_a_t____"),
])
def test_values_never_make_folders_or_escape_the_root(category: str, expected_folder: str) -> None:
    (target,) = targets([fake("kick.wav", category=category)])
    assert target == f"{expected_folder}/kick.wav"
    assert_safe(target, 2)


def test_hostile_file_names() -> None:
    records = [fake("CON.wav", 1), fake("...kick.wav", 2), fake(". .wav", 3), fake("\u202egnp.wav", 4),
               fake("e\u0301te\u0301.wav", 5), fake("ドラム キック.wav", 6)]
    assert targets(records, "{name}") == ["_CON.wav", "kick.wav", "_.wav", "gnp.wav", "\u00e9t\u00e9.wav",
                                          "ドラム キック.wav"]


def test_long_names_are_cut_on_a_character_boundary_keeping_the_extension() -> None:
    long_ascii = fake("k" * 300 + ".wav", 1)
    long_unicode = fake("ü" * 300 + ".flac", 2)
    first, second = targets([long_ascii, long_unicode], "{name}")
    assert first == "k" * (MAX_COMPONENT_BYTES - 4) + ".wav"
    assert second.endswith(".flac") and len(second.encode("utf-8")) <= MAX_COMPONENT_BYTES
    assert second.encode("utf-8").decode("utf-8") == second
    # Two long names that only differ after the cut still get distinct targets, within the cap.
    twins = targets([fake("k" * 300 + "a.wav", 1), fake("k" * 300 + "b.wav", 2)], "{name}")
    assert twins[1] == "k" * (MAX_COMPONENT_BYTES - 6) + "_2.wav"


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(category=st.one_of(st.none(), st.text()), name=st.text(min_size=1),
       bpm=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)))
def test_any_value_gives_a_safe_relative_target(category: str | None, name: str, bpm: float | None) -> None:
    rec = {"id": 1, "path": "/lib/" + name.replace("/", "_") + ".wav", "name": name, "category": category,
           "bpm": bpm, "key": None}
    (target,) = targets([rec], "{category}/{bpm}_{name}")
    assert_safe(target, 2)
    root = "/kit"
    assert os.path.normpath(os.path.join(root, target)).startswith(root + "/")


# --- collisions inside the kit --------------------------------------------------------------------

def test_duplicates_get_numbered_suffixes_in_input_order_ignoring_case() -> None:
    records = [fake("kick.wav", 1, category="kick"), fake("Kick.wav", 2, category="Kick"),
               fake("kick.wav", 3, category="KICK"), fake("kick_2.wav", 4, category="kick"),
               fake(MANIFEST_NAME, 5)]
    assert targets(records) == ["kick/kick.wav", "kick/Kick_2.wav", "kick/kick_3.wav",
                                "kick/kick_2_2.wav", "unknown/samplemind-export.json"]
    assert targets([fake(MANIFEST_NAME)], "{name}") == ["samplemind-export_2.json"]  # the manifest's name
    assert targets(records) == targets(records)  # deterministic


# --- writing a kit folder ----------------------------------------------------------------------------

def test_copy_export_writes_files_and_a_manifest(tmp_path: Path, samples: list[dict]) -> None:
    os.utime(samples[0]["path"], (1_000_000_000, 1_000_000_000))
    kit = tmp_path / "kit"
    seen: list[tuple[int, int, str]] = []
    report = export_kit(samples, kit, pattern="{category}/{bpm}_{key}_{name}", query="type:loop",
                        progress=lambda done, total, target: seen.append((done, total, target)))
    expected = ["bass/120_Am_bass loop.wav", "kick/unknown_unknown_kick_01.wav",
                "snare/unknown_unknown_snare.wav"]
    assert files_under(kit) == sorted(expected + [MANIFEST_NAME])  # no .part left behind
    assert [done for done, _, _ in seen] == [1, 2, 3] and {total for _, total, _ in seen} == {3}
    copied = kit / "kick" / "unknown_unknown_kick_01.wav"
    assert copied.read_bytes() == Path(samples[0]["path"]).read_bytes()
    assert copied.stat().st_mtime == 1_000_000_000  # like shutil.copy2
    assert report.root == str(kit) and report.zip is None and report.manifest == str(kit / MANIFEST_NAME)

    manifest = json.loads((kit / MANIFEST_NAME).read_text("utf-8"))
    assert manifest["schema_version"] == 1 and manifest["created_at"].endswith("Z")
    assert (manifest["query"], manifest["pattern"], manifest["mode"]) == (
        "type:loop", "{category}/{bpm}_{key}_{name}", "copy")
    assert manifest["skipped"] == []
    by_id = {item["id"]: item for item in manifest["items"]}
    first = by_id[1]
    assert first == {"id": 1, "source": samples[0]["path"], "target": "kick/unknown_unknown_kick_01.wav",
                     "mode": "copy", "size": copied.stat().st_size, "hash": samples[0]["hash"]}
    assert report.to_json()["items"] == manifest["items"]
    json.dumps(report.to_json())


def test_existing_files_refuse_the_whole_export_unless_forced(tmp_path: Path, samples: list[dict]) -> None:
    kit = tmp_path / "kit"
    (kit / "snare").mkdir(parents=True)
    (kit / "snare" / "snare.wav").write_bytes(b"mine")
    with pytest.raises(UsageError, match=r"snare\.wav already exists.*allow overwriting"):
        export_kit(samples, kit)
    assert files_under(kit) == ["snare/snare.wav"]  # nothing written, nothing replaced
    assert (kit / "snare" / "snare.wav").read_bytes() == b"mine"

    report = export_kit(samples, kit, force=True)
    assert len(report.items) == 3
    assert (kit / "snare" / "snare.wav").read_bytes() == Path(samples[2]["path"]).read_bytes()
    # A second export into the same folder collides with every file and the manifest.
    with pytest.raises(UsageError, match=r"and 3 more"):
        export_kit(samples, kit)


def test_a_file_in_the_way_of_a_folder_or_a_kit_that_is_a_file_is_refused(
        tmp_path: Path, samples: list[dict]) -> None:
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "kick").write_text("a file named like a folder")
    with pytest.raises(UsageError, match="in the way"):
        export_kit(samples, tmp_path / "kit", force=True)
    (tmp_path / "plain").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        export_kit(samples, tmp_path / "plain", force=True)


def test_exporting_onto_the_sources_themselves_is_refused_even_with_force(
        tmp_path: Path, samples: list[dict]) -> None:
    before = {rec["path"]: Path(rec["path"]).read_bytes() for rec in samples}
    for mode in ("copy", "symlink"):
        with pytest.raises(UsageError, match="one of the files being exported"):
            export_kit(samples, tmp_path / "lib", pattern="Kicks/{name}", mode=mode, force=True)
    assert {path: Path(path).read_bytes() for path in before} == before
    assert not Path(samples[0]["path"]).is_symlink()


def test_link_makes_hard_links_on_one_file_system(tmp_path: Path, samples: list[dict]) -> None:
    kit = tmp_path / "kit"
    report = export_kit(samples, kit, mode="link")
    linked = kit / "kick" / "kick_01.wav"
    assert linked.stat().st_ino == Path(samples[0]["path"]).stat().st_ino and not linked.is_symlink()
    assert {item.mode for item in report.items} == {"hardlink"}
    manifest = json.loads((kit / MANIFEST_NAME).read_text("utf-8"))
    assert manifest["mode"] == "link" and {item["mode"] for item in manifest["items"]} == {"hardlink"}
    assert manifest["items"][0]["hash"] == samples[0]["hash"]
    # Refreshing the kit over its own hard links (rename is a no-op there) leaves no temp files.
    export_kit(samples, kit, mode="link", force=True)
    assert files_under(kit) == sorted([MANIFEST_NAME, "bass/bass loop.wav", "kick/kick_01.wav",
                                       "snare/snare.wav"])


def test_link_falls_back_to_an_absolute_symlink_across_file_systems(
        tmp_path: Path, samples: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    def cross_device(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    kit = tmp_path / "kit"
    report = export_kit(samples, kit, mode="link")
    linked = kit / "kick" / "kick_01.wav"
    assert linked.is_symlink() and os.readlink(linked) == samples[0]["path"]
    assert os.path.isabs(os.readlink(linked)) and linked.read_bytes() == Path(samples[0]["path"]).read_bytes()
    assert {item.mode for item in report.items} == {"symlink"}
    manifest = json.loads((kit / MANIFEST_NAME).read_text("utf-8"))
    assert {item["mode"] for item in manifest["items"]} == {"symlink"}


def test_symlink_mode_and_other_link_errors(tmp_path: Path, samples: list[dict],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    report = export_kit(samples, tmp_path / "kit", mode="symlink")
    assert {item.mode for item in report.items} == {"symlink"}

    def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", no_space)  # not a "try a symlink" error: the item is skipped
    report = export_kit(samples[:1], tmp_path / "kit2", mode="link")
    assert report.items == []
    assert report.skipped == [(samples[0]["path"], "cannot export: No space left on device")]


def test_missing_and_odd_sources_are_skipped_and_the_export_goes_on(
        tmp_path: Path, samples: list[dict]) -> None:
    gone = record(tmp_path / "lib" / "gone.wav", 9, category="kick")
    folder = record(tmp_path / "lib" / "Kicks", 10)
    no_path = {"id": 11, "name": "orphan.wav", "path": None}
    # The missing file does not take "kick_01.wav"'s name away: it is dropped before naming.
    report = export_kit([gone, folder, no_path, *samples], tmp_path / "kit")
    assert [item.sample_id for item in report.items] == [1, 2, 3]
    assert report.skipped == [(gone["path"], "file not found"), (folder["path"], "not a regular file"),
                              ("orphan.wav", "the record has no path")]
    manifest = json.loads((tmp_path / "kit" / MANIFEST_NAME).read_text("utf-8"))
    assert manifest["skipped"][0] == {"source": gone["path"], "reason": "file not found"}
    assert report.to_json()["exported"] == 3


def test_source_that_cannot_be_opened_is_skipped(tmp_path: Path, samples: list[dict],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def guarded_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) == samples[0]["path"]:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    # The same as chmod 000, but also when the tests run as root. Sources are opened with
    # os.open (without blocking, export.open_regular), no longer with the builtin open.
    monkeypatch.setattr(os, "open", guarded_open)
    report = export_kit(samples, tmp_path / "kit", zip_path=tmp_path / "kit.zip")
    assert report.skipped == [(samples[0]["path"], "cannot read: Permission denied")]
    assert [item.sample_id for item in report.items] == [2, 3]


def test_a_kit_folder_that_cannot_be_created_is_an_error(tmp_path: Path, samples: list[dict]) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SampleMindError, match="cannot create the folder"):
        export_kit(samples, tmp_path / "file" / "kit")


def test_a_copy_that_fails_halfway_leaves_no_file_behind(
        tmp_path: Path, samples: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EIO, "Input/output error")

    # After the bytes, before the rename: the copy takes its times from the opened source.
    monkeypatch.setattr(os, "utime", broken)
    report = export_kit(samples, tmp_path / "kit")
    assert report.items == [] and len(report.skipped) == 3
    assert files_under(tmp_path / "kit") == [MANIFEST_NAME]  # no half file, no .part


def test_destination_and_mode_are_checked(tmp_path: Path, samples: list[dict]) -> None:
    with pytest.raises(UsageError, match="say where to export: a folder, a zip file or both"):
        export_kit(samples, None)
    with pytest.raises(UsageError, match="mode"):
        export_kit(samples, tmp_path / "kit", mode="move")
    assert not (tmp_path / "kit").exists()


# --- zips ---------------------------------------------------------------------------------------

def test_zip_export_holds_the_files_and_the_manifest(tmp_path: Path, samples: list[dict]) -> None:
    mp3 = tmp_path / "lib" / "hat.mp3"
    mp3.write_bytes(Path(samples[0]["path"]).read_bytes())  # the exporter never decodes: bytes will do
    records = [*samples, record(mp3, 4, category="hihat")]
    out = tmp_path / "out" / "kit.zip"
    report = export_kit(records, None, zip_path=out, query="cat:kick")
    assert report.root is None and report.zip == str(out) and report.manifest == MANIFEST_NAME
    assert os.listdir(out.parent) == ["kit.zip"]  # written under a temp name, then renamed
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["kick/kick_01.wav", "bass/bass loop.wav", "snare/snare.wav",
                                      "hihat/hat.mp3", MANIFEST_NAME]
        assert archive.getinfo("kick/kick_01.wav").compress_type == zipfile.ZIP_DEFLATED
        assert archive.getinfo("hihat/hat.mp3").compress_type == zipfile.ZIP_STORED
        assert archive.read("snare/snare.wav") == Path(samples[2]["path"]).read_bytes()
        manifest = json.loads(archive.read(MANIFEST_NAME))
    assert manifest["mode"] == "zip" and manifest["query"] == "cat:kick"
    assert [item["target"] for item in manifest["items"]] == archive.namelist()[:-1]
    assert [item["hash"] for item in manifest["items"]] == [rec["hash"] for rec in records]
    assert {item.mode for item in report.items} == {"zip"}

    with pytest.raises(UsageError, match="kit.zip already exists"):
        export_kit(records, None, zip_path=out)
    export_kit(records[:1], None, zip_path=out, force=True)
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["kick/kick_01.wav", MANIFEST_NAME]


def test_folder_and_zip_together(tmp_path: Path, samples: list[dict]) -> None:
    kit, out = tmp_path / "kit", tmp_path / "kit.zip"
    report = export_kit(samples, kit, mode="link", zip_path=out)
    assert {item.mode for item in report.items} == {"hardlink"}
    assert report.manifest == str(kit / MANIFEST_NAME) and report.zip == str(out)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        inner = json.loads(archive.read(MANIFEST_NAME))
    assert sorted(names) == files_under(kit)
    assert {item["mode"] for item in inner["items"]} == {"zip"}


def test_write_zip_streams_into_any_binary_file_object(tmp_path: Path, samples: list[dict]) -> None:
    buffer = io.BytesIO()
    gone = record(tmp_path / "gone.wav", 9)
    report = write_zip([*samples, gone], buffer, "{type}/{name}", query="q")
    assert isinstance(report, ExportReport) and report.root is None and report.zip is None
    assert report.skipped == [(gone["path"], "file not found")]
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        assert archive.namelist() == ["oneshot/kick_01.wav", "loop/bass loop.wav", "oneshot/snare.wav",
                                      MANIFEST_NAME]
        assert json.loads(archive.read(MANIFEST_NAME))["skipped"] == [
            {"source": gone["path"], "reason": "file not found"}]

    class Pipe(io.RawIOBase):
        """A write-only stream that cannot seek or tell, like an HTTP response body."""

        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, chunk: bytes) -> int:  # type: ignore[override]
            self.data += chunk
            return len(chunk)

    pipe = Pipe()
    write_zip(samples, pipe)
    with zipfile.ZipFile(io.BytesIO(bytes(pipe.data))) as archive:
        assert archive.testzip() is None
        assert archive.read("kick/kick_01.wav") == Path(samples[0]["path"]).read_bytes()


# -- the export command -----------------------------------------------------------------


@pytest.mark.slow
def test_export_builds_a_kit_and_a_zip(pack_home: Path, tmp_path: Path):
    kit = tmp_path / "kit"
    out = run_cli("export", "cat:kick", "--to", str(kit), "--pattern", "{category}/{stem}",
                  "--zip", str(tmp_path / "kit.zip"), home=pack_home)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (kit / "kick").iterdir()) == [f"Kick_{i:02d}.wav"
                                                                 for i in range(4)]
    manifest = json.loads((kit / "samplemind-export.json").read_text())
    assert manifest["query"] == "cat:kick" and len(manifest["items"]) == 4
    with zipfile.ZipFile(tmp_path / "kit.zip") as archive:
        assert "kick/Kick_00.wav" in archive.namelist()
    again = run_cli("export", "cat:kick", "--to", str(kit), home=pack_home)
    assert again.returncode == 2 and "--force" in again.stderr
    assert run_cli("export", "cat:kick", "--to", str(kit), "--force", "--link",
                   home=pack_home).returncode == 0
    assert run_cli("export", "cat:kick", home=pack_home).returncode == 2
