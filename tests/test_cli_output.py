"""What commands write: every --format value a command lists is one it honours, piped tables
have no trailing spaces, and serve says where its UI and API are."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import typer

from samplemind.cli import app, main
from samplemind.clidocs import load_cli
from samplemind.output import Format

from helpers import run_cli

CEILING = 120  # seconds: a generous bound on waits for a process, never a speed check

# Commands whose every --format value this test runs against a scanned pack, with the words after
# the command (ID: the id of a sample; PACK: the pack's folder; KIT: a fresh folder).
RUN = {
    ("ls",): [], ("show",): ["ID"], ("stats",): [], ("doctor",): [], ("tags",): [],
    ("set",): ["ID", "bpm=120"], ("suggest",): [], ("similar",): ["ID"], ("dupes",): [],
    ("map",): [], ("review",): [], ("scan",): ["PACK"], ("export",): ["", "--to", "KIT"],
    ("cache", "stats"): [], ("index", "status"): [], ("index", "rebuild"): [],
    ("collection", "ls"): [], ("user", "ls"): [], ("token", "ls"): [], ("fav", "ls"): [],
}
# Commands that are only parsed here, and why.
PARSE_ONLY = {
    ("demo",): "writes and scans a 48-file pack (tests/test_demo.py runs it); it lists with ls's writer",
    ("describe",): "needs Ollama (tests/test_ai_describe.py runs it against a fake model)",
    ("watch",): "runs until Ctrl-C (tests/test_watch.py reads its jsonl)",
}


def _format_options() -> dict[tuple[str, ...], list[str]]:
    """Every command that takes --format, with the values it lists (as completion reads them)."""
    return {command.path: list(option.choices) for command in load_cli().walk()
            for option in command.options if "--format" in option.names}


def test_every_command_with_a_format_is_checked_here() -> None:
    """A new command with --format must join RUN (or, with a reason, PARSE_ONLY)."""
    assert set(_format_options()) == set(RUN) | set(PARSE_ONLY)


def test_every_listed_format_parses_and_nothing_else_does() -> None:
    root = typer.main.get_command(app)
    for path, values in _format_options().items():
        command = root
        for word in path:
            command = command.commands[word]
        assert values and set(values) <= {f.value for f in Format}, path
        for value in values:  # what --help lists, the parser takes, as a Format
            words = ["x"] * sum(1 for p in command.params if p.param_type_name == "argument"
                                and p.required)
            context = command.make_context(path[-1], [*words, "--format", value.upper()])
            assert context.params["fmt"] is Format(value), (path, value)
        for value in {f.value for f in Format} - set(values):  # and refuses the rest
            with pytest.raises(typer.BadParameter, match=f"'{value}' is not one of"):
                command.make_context(path[-1], [*words, "--format", value])


def _honoured(fmt: str, out: str, where: str) -> None:
    """out is what fmt promises."""
    if fmt == "json":
        json.loads(out)
    elif fmt == "jsonl":
        lines = out.splitlines()
        assert all(isinstance(json.loads(line), dict) for line in lines), where
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows and len(rows[0]) > 1, f"{where}: no CSV header"
        assert all(len(row) == len(rows[0]) for row in rows), f"{where}: ragged CSV"
    elif fmt == "paths":
        assert all(os.path.isfile(line) for line in out.splitlines()), where
    else:  # a table for people: not JSON, no padding at the ends of lines (stdout is a pipe)
        assert out.strip(), f"{where}: an empty table"
        with pytest.raises(ValueError):
            json.loads(out)
        padded = [line for line in out.splitlines() if line != line.rstrip()]
        assert not padded, f"{where}: trailing spaces: {padded[:3]}"


@pytest.mark.slow
def test_every_format_value_of_every_command_is_honoured(pack_home: Path, pack: Path,
                                                         tmp_path: Path) -> None:
    sample_id = None
    failures = []
    for path, values in sorted(_format_options().items()):
        if path in PARSE_ONLY:
            continue
        for value in values:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                if sample_id is None:
                    assert main(["ls", "-f", "json"]) == 0
                    sample_id = str(json.loads(out.getvalue())[0]["id"])
                    out.seek(0)
                    out.truncate()
                words = [{"ID": sample_id, "PACK": str(pack),
                          "KIT": str(tmp_path / f"kit-{'-'.join(path)}-{value}")}.get(w, w)
                         for w in RUN[path]]
                code = main([*path, *words, "--format", value])
            where = f"samplemind {' '.join(path)} --format {value}"
            if code != 0:
                failures.append(f"{where}: exit {code}")
                continue
            try:
                _honoured(value, out.getvalue(), where)
            except (AssertionError, ValueError, pytest.fail.Exception) as exc:
                failures.append(f"{where}: {exc}\n{out.getvalue()[:300]}")
    assert not failures, "\n".join(failures)


def test_a_piped_table_has_no_trailing_spaces(tmp_path: Path) -> None:
    """The table writer itself, on a real pipe (a child process's stdout)."""
    program = ("from samplemind.output import Format, write_rows\n"
               "write_rows([{'tag': 'kick', 'count': 12, 'sources': 'user'},"
               " {'tag': 'a-much-longer-tag', 'count': 1, 'sources': ''}], Format.table,"
               " ('tag', 'count', 'sources'))\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=CEILING)
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 3, result.stderr
    assert lines[1].startswith("kick ") and lines[1].endswith("user")
    assert all(line == line.rstrip() for line in lines), lines


# -- serve says where it is --------------------------------------------------------------------


def _serve_announcement(home: Path, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "SAMPLEMIND_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "serve", "--port", "0", *extra],
                               env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + CEILING
    # The last line says how to log in (two lines when it goes on after a ';').
    while time.monotonic() < deadline and not (
            any(line.startswith("  log in:") for line in lines) and not lines[-1].endswith(";")):
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    return process, lines


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=CEILING) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
def test_serve_prints_the_ui_and_api_addresses_and_how_to_log_in(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process, lines = _serve_announcement(home)
    try:
        text = "\n".join(lines)
        ui = re.search(r"web UI:\s+(http://127\.0\.0\.1:(\d+)/)$", text, re.M)
        api = re.search(r"API:\s+(http://127\.0\.0\.1:(\d+)/api/v1)\b", text, re.M)
        assert ui and api and ui[2] == api[2] != "0", text  # the port it really got
        status, page = _get(ui[1])
        assert status == 200 and "<html" in page.lower()
        status, body = _get(api[1] + "/stats")
        assert status == 200 and json.loads(body)["samples"] == 0
        assert "open to this machine until samplemind user add" in text
    finally:
        process.terminate()
        process.wait(timeout=CEILING)

    assert run_cli("token", "add", "ci", home=home).returncode == 0
    process, lines = _serve_announcement(home)
    try:
        text = "\n".join(lines)
        api = re.search(r"API:\s+(http://127\.0\.0\.1:\d+/api/v1)\b", text)
        assert api, text
        assert _get(api[1] + "/stats")[0] == 401  # the login it describes is really needed
        assert "log in:  in the web UI with an account" in text
        assert "Authorization: Bearer" in text and "samplemind user add NAME" in text
    finally:
        process.terminate()
        process.wait(timeout=CEILING)


@pytest.mark.parametrize("value", ["csv", "paths"])
def test_dupes_actions_refuse_a_listing_format(value: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """dupes lists groups in every format; what --move-to/--delete/--undo did is a report."""
    manifest = tmp_path / "manifest.json"
    assert main(["dupes", "--undo", str(manifest), "--format", value]) == 2
    assert "report as table (on stderr), json or jsonl" in capsys.readouterr().err
