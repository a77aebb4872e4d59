"""Tags, corrections, collections and suggestions from the command line, against a real
scanned catalog (the small pack of tests/conftest.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from samplemind import synth

from audio_fixtures import write_audio
from helpers import ls_names, run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

SR = 44100


def test_tags_by_query_file_folder_and_stdin(pack_home: Path, pack: Path):
    assert run_cli("tag", "add", "cat:kick", "Punchy", "808", home=pack_home).returncode == 0
    assert run_cli("tag", "add", str(pack / "Hats" / "hat_00.wav"), "crisp",
                   "--also", str(pack / "Hats" / "hat_01.wav"), home=pack_home).returncode == 0
    assert run_cli("tag", "add", str(pack / "Loops"), "groove", home=pack_home).returncode == 0
    paths = run_cli("ls", "hat_02 OR nothing", home=pack_home)  # free text: no match, no error
    assert paths.returncode == 0
    piped = run_cli("tag", "add", "-", "piped", home=pack_home,
                    input=str(pack / "Hats" / "hat_03.wav") + "\n")
    assert piped.returncode == 0, piped.stderr
    counts = {row["tag"]: row["count"] for row in
              json.loads(run_cli("tags", "-f", "json", home=pack_home).stdout)}
    assert counts == {"punchy": 4, "808": 4, "crisp": 2, "groove": 1, "piped": 1}
    assert ls_names(pack_home, "tag:punchy -tag:crisp") == [f"Kick_{i:02d}.wav" for i in range(4)]
    assert ls_names(pack_home, "punchy") == [f"Kick_{i:02d}.wav" for i in range(4)]  # tags are text
    assert run_cli("tag", "rm", "Kick_00", "punchy", home=pack_home).returncode == 0
    assert len(ls_names(pack_home, "tag:punchy")) == 3
    # Tags survive a rescan.
    run_cli("scan", str(pack), home=pack_home)
    assert len(ls_names(pack_home, "tag:punchy")) == 3
    bad = run_cli("tag", "add", "cat:kick", " ", home=pack_home)
    assert bad.returncode == 2


def test_corrections_survive_rescans_and_reanalysis(pack_home: Path, pack: Path):
    kick = str(pack / "Kicks" / "Kick_01.wav")
    out = run_cli("set", kick, "bpm=99", "key=F#m", "category=perc", "-f", "json", home=pack_home)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert (record["bpm"], record["bpm_source"], record["key"], record["camelot"]) == \
        (99.0, "user", "F# minor", "11A")
    assert record["category"] == "perc" and record["category_source"] == "user"
    # New content: the file is analysed again; the corrections stay.
    write_audio(pack / "Kicks" / "Kick_01.wav",
                synth.normalize(synth.kick(SR, pitch=52, rng=np.random.default_rng(99))))
    os.utime(kick, ns=(time.time_ns(), time.time_ns() + 10**9))
    scan = run_cli("scan", str(pack), "-f", "json", home=pack_home)
    assert json.loads(scan.stdout)["updated"] == 1
    record = json.loads(run_cli("show", kick, "-f", "json", home=pack_home).stdout)
    assert (record["bpm"], record["key"], record["category"]) == (99.0, "F# minor", "perc")
    cleared = json.loads(run_cli("set", kick, "category=auto", "-f", "json", home=pack_home).stdout)
    assert cleared["category"] == "kick" and cleared["category_source"] == "filename"
    for bad in ("bpm=fast", "key=H", "note=C", "type=drone", "loudness=3", "bpm"):
        assert run_cli("set", kick, bad, home=pack_home).returncode == 2, bad


def test_collections_are_saved_queries(pack_home: Path):
    saved = run_cli("collection", "save", "kicks", "cat:kick sort:name-", home=pack_home)
    assert saved.returncode == 0 and "4 samples" in saved.stderr
    assert ls_names(pack_home, "@kicks limit:1") == ["Kick_03.wav"]
    listed = json.loads(run_cli("collection", "ls", "-f", "json", home=pack_home).stdout)
    assert [(c["name"], c["query"]) for c in listed] == [("kicks", "cat:kick sort:name-")]
    assert run_cli("collection", "save", "bad", "bmp:1", home=pack_home).returncode == 2
    assert run_cli("collection", "save", "loop", "@loop", home=pack_home).returncode == 2
    assert run_cli("collection", "rm", "kicks", home=pack_home).returncode == 0
    gone = run_cli("ls", "@kicks", home=pack_home)
    assert gone.returncode == 2 and "kicks" in gone.stderr


def test_suggestions_learn_from_user_tags_and_write_only_with_apply(pack_home: Path, pack: Path):
    run_cli("tag", "add", str(pack / "Kicks" / "Kick_00.wav"), "boomy",
            "--also", str(pack / "Kicks" / "Kick_01.wav"), home=pack_home)
    run_cli("tag", "add", str(pack / "Hats" / "hat_00.wav"), "sizzle",
            "--also", str(pack / "Hats" / "hat_01.wav"), home=pack_home)
    out = run_cli("suggest", "-k", "2", "-f", "json", home=pack_home)
    assert out.returncode == 0, out.stderr
    suggestions = {(Path(s["path"]).name, s["tag"]): s["confidence"]
                   for s in json.loads(out.stdout)}
    assert ("Kick_02.wav", "boomy") in suggestions and ("hat_02.wav", "sizzle") in suggestions
    assert ("hat_02.wav", "boomy") not in suggestions
    assert ("Kick_02.wav", "sizzle") not in suggestions
    assert all(0.5 <= c <= 1 for c in suggestions.values())
    assert "nothing written" in out.stderr
    assert ls_names(pack_home, "tag:boomy") == ["Kick_00.wav", "Kick_01.wav"]
    applied = run_cli("suggest", "-k", "2", "--apply", home=pack_home)
    assert applied.returncode == 0
    assert "Kick_02.wav" in ls_names(pack_home, "tag:boomy")
    tags = {row["tag"]: row["sources"] for row in
            json.loads(run_cli("tags", "-f", "json", home=pack_home).stdout)}
    assert tags["boomy"] == ["suggested", "user"]
