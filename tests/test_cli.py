"""The CLI contract: exit codes, JSON on stdout, people's messages on stderr, quiet pipes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from samplemind.models import RECORD_FIELDS, SCHEMA_VERSION

from helpers import REPO, run_cli, wait_for_rows, write_hit, write_library

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out


@pytest.fixture
def scanned(samplemind_home: Path, tmp_path: Path) -> Path:
    """A library of 6 one-shots, scanned through the CLI."""
    lib = tmp_path / "lib"
    write_library(lib, 6)
    result = run_cli("scan", "--jobs", "2", str(lib), home=samplemind_home)
    assert result.returncode == 0, result.stderr
    return lib


def test_scan_summary_goes_to_stderr_and_stdout_stays_empty(samplemind_home: Path,
                                                            tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 3)
    result = run_cli("scan", str(tmp_path / "lib"), home=samplemind_home)
    assert result.returncode == 0
    assert result.stdout == ""
    assert "3 added" in result.stderr and "0 failed" in result.stderr


def test_json_records_follow_the_contract(scanned: Path, samplemind_home: Path) -> None:
    result = run_cli("ls", "--format", "json", home=samplemind_home)
    assert result.returncode == 0 and result.stderr == ""
    records = json.loads(result.stdout)
    assert len(records) == 6
    for record in records:
        assert list(record) == list(RECORD_FIELDS)
        assert record["schema_version"] == SCHEMA_VERSION
        assert isinstance(record["id"], int) and os.path.isabs(record["path"])
        for number in ("duration", "sample_rate", "channels", "size", "loudness_lufs", "peak_db"):
            assert isinstance(record[number], (int, float)), number
        assert record["type"] in ("loop", "oneshot")
        assert isinstance(record["tags"], list)
        for field in ("type", "bpm", "key", "note", "category"):
            if record[field] is None:
                assert record[f"{field}_source"] is None
            else:
                assert record[f"{field}_source"] in ("dsp", "metadata", "filename", "user")
                assert 0.0 <= record[f"{field}_confidence"] <= 1.0


def test_jsonl_csv_and_paths_agree(scanned: Path, samplemind_home: Path) -> None:
    lines = run_cli("ls", "-f", "jsonl", home=samplemind_home).stdout.splitlines()
    csv_rows = run_cli("ls", "-f", "csv", home=samplemind_home).stdout.splitlines()
    paths = run_cli("ls", "-f", "paths", home=samplemind_home).stdout.splitlines()
    assert len(lines) == len(paths) == len(csv_rows) - 1 == 6
    assert csv_rows[0].split(",") == list(RECORD_FIELDS)
    assert [json.loads(line)["path"] for line in lines] == paths


def test_filters_and_show(scanned: Path, samplemind_home: Path) -> None:
    kicks = run_cli("ls", "-f", "paths", "--limit", "2", home=samplemind_home).stdout.split()
    assert len(kicks) == 2
    shown = json.loads(run_cli("show", kicks[0], "-f", "json", home=samplemind_home).stdout)
    assert shown["path"] == kicks[0]
    by_id = json.loads(run_cli("show", str(shown["id"]), "-f", "json", home=samplemind_home).stdout)
    assert by_id == shown
    table = run_cli("show", kicks[0], home=samplemind_home).stdout
    assert "loudness_lufs" in table and shown["name"] in table


def test_stats_and_cache_stats(scanned: Path, samplemind_home: Path) -> None:
    figures = json.loads(run_cli("stats", "-f", "json", home=samplemind_home).stdout)
    assert figures["samples"] == 6 and figures["by_format"] == {"wav": 6}
    cache = json.loads(run_cli("cache", "stats", "-f", "json", home=samplemind_home).stdout)
    assert cache["entries"] == 6
    cleared = run_cli("cache", "clear", home=samplemind_home)
    assert cleared.returncode == 0 and "Removed 6" in cleared.stderr
    cache = json.loads(run_cli("cache", "stats", "-f", "json", home=samplemind_home).stdout)
    assert cache["entries"] == 0


@pytest.mark.parametrize("args, code, message", [
    (["show", "999"], 1, "no sample has id 999"),
    (["show", "/no/such/file.wav"], 1, "not in the catalog"),
    (["ls", "--bpm", "130..120"], 2, "--bpm is wrong: bad range '130..120' for bpm: 130 is more"),
    (["ls", "--bpm", "nan"], 2, "--bpm is wrong: bad number 'nan'"),
    (["scan", "/definitely/not/here"], 1, "no such file or folder"),
    (["ls", "--bpm", "fast"], 2, "--bpm is wrong: bad number 'fast'"),
    (["ls", "--key", "H minor"], 2, "--key is wrong: unknown key 'H minor'"),
    (["ls", "--format", "xml"], 2, "xml"),
    (["frobnicate"], 2, "No such command"),
])
def test_exit_codes_for_errors(samplemind_home: Path, args: list[str], code: int,
                               message: str) -> None:
    result = run_cli(*args, home=samplemind_home)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_exit_3_when_some_files_failed(samplemind_home: Path, tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 2)
    (tmp_path / "lib" / "broken.flac").write_bytes(b"fLaC" + os.urandom(300))
    result = run_cli("scan", str(tmp_path / "lib"), home=samplemind_home)
    assert result.returncode == 3
    assert "broken.flac" in result.stderr and "2 added" in result.stderr


def test_no_decoder_chatter_reaches_the_terminal(samplemind_home: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write_hit(lib / "fine.wav")
    (lib / "junk.mp3").write_bytes(b"ID3" + os.urandom(2000))
    (lib / "junk.ogg").write_bytes(b"OggS" + os.urandom(2000))
    result = run_cli("scan", str(lib), home=samplemind_home)
    assert result.returncode == 3
    for line in result.stderr.splitlines():
        assert not line.startswith(("[", "Input #", "  Stream")), line
    assert "@ 0x" not in result.stderr and "INFO" not in result.stderr


def test_broken_pipe_exits_quietly(scanned: Path, samplemind_home: Path) -> None:
    env = dict(os.environ, SAMPLEMIND_HOME=str(samplemind_home))
    pipeline = (f"{sys.executable} -m samplemind ls -f jsonl | head -c 10 >/dev/null; "
                "echo ${PIPESTATUS[0]}")
    result = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, env=env)
    assert result.stdout.strip() == "0"
    assert result.stderr == ""


def test_ctrl_c_exits_130_and_keeps_what_was_analysed(samplemind_home: Path,
                                                       tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 40)
    env = dict(os.environ, SAMPLEMIND_HOME=str(samplemind_home),
               SAMPLEMIND_FAULT_INJECT="hang:hit_039.wav")  # keeps the scan busy
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "scan", "-j", "1",
                                str(tmp_path / "lib")], env=env, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    assert wait_for_rows(samplemind_home / "library.db") > 0
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    resumed = run_cli("scan", "--format", "json", str(tmp_path / "lib"), home=samplemind_home)
    report = json.loads(resumed.stdout)
    assert report["added"] + report["unchanged"] == 40
    assert report["analysed"] < 40  # the rest was kept


def test_help_for_every_command() -> None:
    from typer.main import get_command

    from samplemind.cli import app

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for path, command in walk(get_command(app), []):
        assert command.help, f"no help text for {' '.join(path) or 'samplemind'}"
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"
        result = run_cli(*path, "--help")
        assert result.returncode == 0 and "Usage" in result.stdout


def test_python_dash_m_and_version() -> None:
    result = subprocess.run([sys.executable, "-m", "samplemind", "--version"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and result.stdout.startswith("samplemind ")


def test_file_names_with_markup_are_shown_as_written(samplemind_home: Path,
                                                     tmp_path: Path) -> None:
    write_hit(tmp_path / "lib" / "[red]hard.wav")
    assert run_cli("scan", str(tmp_path / "lib"), home=samplemind_home).returncode == 0
    assert "[red]hard.wav" in run_cli("ls", home=samplemind_home).stdout
    shown = run_cli("show", str(tmp_path / "lib" / "[red]hard.wav"), home=samplemind_home)
    assert str(tmp_path / "lib" / "[red]hard.wav") in shown.stdout


def test_scanning_a_folder_without_audio_says_so(samplemind_home: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("hello")
    result = run_cli("scan", str(tmp_path / "docs"), home=samplemind_home)
    assert result.returncode == 0 and "No audio files found" in result.stderr
