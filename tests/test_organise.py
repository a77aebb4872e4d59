"""Queries from the command line, tags, corrections, collections, suggestions, kits and
the watch command, against a real scanned catalog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from samplemind import Library, synth

from audio_fixtures import write_audio
from helpers import REPO, run_cli

SR = 44100


def _write(path: Path, audio: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_audio(path, audio, SR)


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    root = tmp_path / "Pack"
    for i, pitch in enumerate((45, 50, 55, 60)):
        _write(root / "Kicks" / f"Kick_{i:02d}.wav",
               synth.normalize(synth.kick(SR, pitch=pitch, rng=np.random.default_rng(i))))
    for i in range(4):
        _write(root / "Hats" / f"hat_{i:02d}.wav",
               synth.normalize(synth.hihat(SR, rng=np.random.default_rng(10 + i))))
    _write(root / "Loops" / "beat_120bpm.wav", synth.normalize(synth.drum_loop(SR, 120, 2)))
    return root


@pytest.fixture
def home(library: Library, pack: Path) -> Path:
    assert library.scan([pack]).added == 9
    return library.paths.data_dir


def _names(home: Path, query: str) -> list[str]:
    out = run_cli("ls", query, "-f", "json", home=home)
    assert out.returncode == 0, out.stderr
    return [row["name"] for row in json.loads(out.stdout)]


def test_ls_takes_a_query(home: Path):
    assert _names(home, "cat:kick sort:name-") == ["Kick_03.wav", "Kick_02.wav", "Kick_01.wav",
                                                   "Kick_00.wav"]
    assert _names(home, "type:loop bpm:115..125") == ["beat_120bpm.wav"]
    assert _names(home, "kick -name:Kick_00*") == ["Kick_01.wav", "Kick_02.wav", "Kick_03.wav"]
    assert _names(home, "hats limit:2") == ["hat_00.wav", "hat_01.wav"]
    bad = run_cli("ls", "cat:kick bpm:1x0", home=home)
    assert bad.returncode == 2
    assert "bad query" in bad.stderr and "^" in bad.stderr and bad.stdout == ""


def test_tags_by_query_file_folder_and_stdin(home: Path, pack: Path):
    assert run_cli("tag", "add", "cat:kick", "Punchy", "808", home=home).returncode == 0
    assert run_cli("tag", "add", str(pack / "Hats" / "hat_00.wav"), "crisp",
                   "--also", str(pack / "Hats" / "hat_01.wav"), home=home).returncode == 0
    assert run_cli("tag", "add", str(pack / "Loops"), "groove", home=home).returncode == 0
    paths = run_cli("ls", "hat_02 OR nothing", home=home)  # free text: no match, no error
    assert paths.returncode == 0
    piped = run_cli("tag", "add", "-", "piped", home=home,
                    input=str(pack / "Hats" / "hat_03.wav") + "\n")
    assert piped.returncode == 0, piped.stderr
    counts = {row["tag"]: row["count"] for row in
              json.loads(run_cli("tags", "-f", "json", home=home).stdout)}
    assert counts == {"punchy": 4, "808": 4, "crisp": 2, "groove": 1, "piped": 1}
    assert _names(home, "tag:punchy -tag:crisp") == [f"Kick_{i:02d}.wav" for i in range(4)]
    assert _names(home, "punchy") == [f"Kick_{i:02d}.wav" for i in range(4)]  # tags are text
    assert run_cli("tag", "rm", "Kick_00", "punchy", home=home).returncode == 0
    assert len(_names(home, "tag:punchy")) == 3
    # Tags survive a rescan.
    run_cli("scan", str(pack), home=home)
    assert len(_names(home, "tag:punchy")) == 3
    bad = run_cli("tag", "add", "cat:kick", " ", home=home)
    assert bad.returncode == 2


def test_corrections_survive_rescans_and_reanalysis(home: Path, pack: Path):
    kick = str(pack / "Kicks" / "Kick_01.wav")
    out = run_cli("set", kick, "bpm=99", "key=F#m", "category=perc", "-f", "json", home=home)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert (record["bpm"], record["bpm_source"], record["key"], record["camelot"]) == \
        (99.0, "user", "F# minor", "11A")
    assert record["category"] == "perc" and record["category_source"] == "user"
    # New content: the file is analysed again; the corrections stay.
    _write(pack / "Kicks" / "Kick_01.wav",
           synth.normalize(synth.kick(SR, pitch=52, rng=np.random.default_rng(99))))
    os.utime(kick, ns=(time.time_ns(), time.time_ns() + 10**9))
    scan = run_cli("scan", str(pack), "-f", "json", home=home)
    assert json.loads(scan.stdout)["updated"] == 1
    record = json.loads(run_cli("show", kick, "-f", "json", home=home).stdout)
    assert (record["bpm"], record["key"], record["category"]) == (99.0, "F# minor", "perc")
    cleared = json.loads(run_cli("set", kick, "category=auto", "-f", "json", home=home).stdout)
    assert cleared["category"] == "kick" and cleared["category_source"] == "filename"
    for bad in ("bpm=fast", "key=H", "note=C", "type=drone", "loudness=3", "bpm"):
        assert run_cli("set", kick, bad, home=home).returncode == 2, bad


def test_collections_are_saved_queries(home: Path):
    saved = run_cli("collection", "save", "kicks", "cat:kick sort:name-", home=home)
    assert saved.returncode == 0 and "4 samples" in saved.stderr
    assert _names(home, "@kicks limit:1") == ["Kick_03.wav"]
    listed = json.loads(run_cli("collection", "ls", "-f", "json", home=home).stdout)
    assert [(c["name"], c["query"]) for c in listed] == [("kicks", "cat:kick sort:name-")]
    assert run_cli("collection", "save", "bad", "bmp:1", home=home).returncode == 2
    assert run_cli("collection", "save", "loop", "@loop", home=home).returncode == 2
    assert run_cli("collection", "rm", "kicks", home=home).returncode == 0
    gone = run_cli("ls", "@kicks", home=home)
    assert gone.returncode == 2 and "kicks" in gone.stderr


def test_suggestions_learn_from_user_tags_and_write_only_with_apply(home: Path, pack: Path):
    run_cli("tag", "add", str(pack / "Kicks" / "Kick_00.wav"), "boomy",
            "--also", str(pack / "Kicks" / "Kick_01.wav"), home=home)
    run_cli("tag", "add", str(pack / "Hats" / "hat_00.wav"), "sizzle",
            "--also", str(pack / "Hats" / "hat_01.wav"), home=home)
    out = run_cli("suggest", "-k", "2", "-f", "json", home=home)
    assert out.returncode == 0, out.stderr
    suggestions = {(Path(s["path"]).name, s["tag"]): s["confidence"]
                   for s in json.loads(out.stdout)}
    assert ("Kick_02.wav", "boomy") in suggestions and ("hat_02.wav", "sizzle") in suggestions
    assert ("hat_02.wav", "boomy") not in suggestions
    assert ("Kick_02.wav", "sizzle") not in suggestions
    assert all(0.5 <= c <= 1 for c in suggestions.values())
    assert "nothing written" in out.stderr
    assert _names(home, "tag:boomy") == ["Kick_00.wav", "Kick_01.wav"]
    applied = run_cli("suggest", "-k", "2", "--apply", home=home)
    assert applied.returncode == 0
    assert "Kick_02.wav" in _names(home, "tag:boomy")
    tags = {row["tag"]: row["sources"] for row in
            json.loads(run_cli("tags", "-f", "json", home=home).stdout)}
    assert tags["boomy"] == ["suggested", "user"]


def test_export_builds_a_kit_and_a_zip(home: Path, tmp_path: Path):
    kit = tmp_path / "kit"
    out = run_cli("export", "cat:kick", "--to", str(kit), "--pattern", "{category}/{stem}",
                  "--zip", str(tmp_path / "kit.zip"), home=home)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (kit / "kick").iterdir()) == [f"Kick_{i:02d}.wav"
                                                                 for i in range(4)]
    manifest = json.loads((kit / "samplemind-export.json").read_text())
    assert manifest["query"] == "cat:kick" and len(manifest["items"]) == 4
    with zipfile.ZipFile(tmp_path / "kit.zip") as archive:
        assert "kick/Kick_00.wav" in archive.namelist()
    again = run_cli("export", "cat:kick", "--to", str(kit), home=home)
    assert again.returncode == 2 and "--force" in again.stderr
    assert run_cli("export", "cat:kick", "--to", str(kit), "--force", "--link",
                   home=home).returncode == 0
    assert run_cli("export", "cat:kick", home=home).returncode == 2


def test_watch_command_picks_up_a_new_file_and_stops_on_ctrl_c(home: Path, pack: Path):
    env = dict(os.environ, SAMPLEMIND_HOME=str(home), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "watch", str(pack),
                                "--quiet", "0.2", "-f", "jsonl"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        events = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line:
                events.append(json.loads(line))
                if events[-1]["kind"] == "ready":
                    break
        assert events and events[-1]["kind"] == "ready"
        _write(pack / "Hats" / "hat_new.wav",
               synth.normalize(synth.hihat(SR, rng=np.random.default_rng(77))))
        while time.monotonic() < deadline:
            event = json.loads(process.stdout.readline())
            if event["kind"] == "scan" and event["report"]["added"] == 1:
                break
        else:
            pytest.fail("the new file was not scanned")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
        assert "Stopped watching" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert "hat_new.wav" in _names(home, "hat_new")
