"""Issue 16, the CLI side: hostile file names and careless users must not break the library.

Each test drives the real CLI (a subprocess or typer's runner) on real files and a real catalog;
the account test runs a real `samplemind serve` on loopback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers import run_cli

PASSWORD = "correct horse battery"


# -- defect 4: an account added while the server runs closes open access at once ---------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _request(url: str, method: str = "GET") -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _wait_until(check, what: str, ceiling: float = 60.0):
    deadline = time.monotonic() + ceiling
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def loopback_server(tmp_path: Path):
    """(base url, home) of a real `samplemind serve` on 127.0.0.1 with no accounts."""
    home = tmp_path / "home"
    port = _free_port()
    env = {**os.environ, "SAMPLEMIND_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _request(base + "/health/live")[0] == 200, "the server to start")
        yield base, home
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_account_added_while_serving_closes_open_access_at_once(loopback_server) -> None:
    base, home = loopback_server
    assert _request(base + "/api/v1/me") == (200, {"ok": True, "user": "local", "role": "admin",
                                                  "via": "local", "open_access": True})
    added = run_cli("user", "add", "alice", "--role", "admin", "--password-stdin", home=home,
                    input=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "now asks every request to log in" in added.stderr
    # No restart: the very next request needs a login, a read as much as a delete.
    status, body = _request(base + "/api/v1/samples/49", method="DELETE")
    assert status == 401 and body["ok"] is False
    assert _request(base + "/api/v1/me")[0] == 401
    # Removing the last account reopens a loopback server, as the README says.
    removed = run_cli("user", "rm", "alice", home=home)
    assert removed.returncode == 0, removed.stderr
    assert "open to everyone on this machine again" in removed.stderr
    assert _request(base + "/api/v1/me")[1]["open_access"] is True
    # A token counts as much as an account.
    token = run_cli("token", "add", "ci", "--role", "viewer", home=home)
    assert token.returncode == 0, token.stderr
    assert _request(base + "/api/v1/me")[0] == 401
    request = urllib.request.Request(base + "/api/v1/me",
                                     headers={"Authorization": f"Bearer {token.stdout.strip()}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert json.loads(answer.read())["via"] == "token"


# -- defect 6: validate, then write: a collection its own check refuses is never saved ---------


def _collections(home: Path) -> dict[str, str]:
    listed = run_cli("collection", "ls", "-f", "json", home=home)
    assert listed.returncode == 0, listed.stderr
    return {c["name"]: c["query"] for c in json.loads(listed.stdout)}


def test_a_collection_that_makes_a_cycle_is_not_saved(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_cli("collection", "save", "colb", "cat:kick", home=home).returncode == 0
    assert run_cli("collection", "save", "cola", "@colb", home=home).returncode == 0
    cycle = run_cli("collection", "save", "colb", "@cola", home=home)
    assert cycle.returncode == 2 and "refers to itself" in cycle.stderr
    assert _collections(home) == {"colb": "cat:kick", "cola": "@colb"}  # both still usable
    assert run_cli("ls", "@cola", home=home).returncode == 0


def test_too_many_sort_keys_is_a_query_error_and_nothing_is_saved(tmp_path: Path) -> None:
    home = tmp_path / "home"
    many = "sort:" + ",".join(["bpm"] * 1100)
    saved = run_cli("collection", "save", "that", many, home=home)
    assert saved.returncode == 2 and "too many sort keys" in saved.stderr
    assert "^" in saved.stderr and "ORDER BY" not in saved.stderr
    assert _collections(home) == {}
    listed = run_cli("ls", "sort:" + ",".join(["bpm"] * 2000), home=home)
    assert listed.returncode == 2, listed.stderr
    assert "too many sort keys" in listed.stderr and "^" in listed.stderr
    served = run_cli("serve", "--get", "/api/v1/samples?q=sort:" + ",".join(["bpm"] * 2000),
                     home=home)
    assert served.returncode == 1 and json.loads(served.stdout)["status"] == 400
    assert run_cli("ls", "sort:" + ",".join(["bpm", "key-"] * 16), home=home).returncode == 0


def test_saving_a_collection_that_breaks_one_using_it_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    twenty = ",".join(["bpm"] * 20)
    assert run_cli("collection", "save", "inner", "cat:kick", home=home).returncode == 0
    assert run_cli("collection", "save", "outer", f"@inner sort:{twenty}", home=home).returncode == 0
    # inner alone is fine, but outer would then ask for 40 sort keys
    broken = run_cli("collection", "save", "inner", f"cat:kick sort:{twenty} -tag:x", home=home)
    assert broken.returncode == 2 and "would break @outer" in broken.stderr
    assert _collections(home)["inner"] == "cat:kick"


def test_a_collection_sqlite_refuses_is_not_saved(tmp_path: Path, monkeypatch) -> None:
    from samplemind import Library, query
    from samplemind.errors import QueryError

    monkeypatch.setattr(query, "MAX_SORT_KEYS", 100_000)  # past our limit: SQLite's own check
    with Library(tmp_path / "home", jobs=1) as library:
        with pytest.raises(QueryError, match="the database refuses it"):
            library.save_collection("that", "sort:" + ",".join(["key"] * 1100))  # 2 terms each
        assert library.collections() == []


# -- defect 10: an alias path is the same root, not a second copy of the library --------------


def _paths(home: Path) -> list[str]:
    listed = run_cli("ls", "-f", "paths", home=home)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.splitlines()


def test_symlinked_and_aliased_paths_are_the_same_root(tmp_path: Path) -> None:
    from helpers import write_library

    real = tmp_path / "real"
    write_library(real, 3)
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    home = tmp_path / "home"
    first = run_cli("scan", str(real), "-f", "json", home=home)
    assert first.returncode == 0, first.stderr
    again = run_cli("scan", str(tmp_path / "alias"), f"/proc/self/root{real}", str(real) + "/",
                    "-f", "json", home=home)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["roots"] == [str(real)] and report["added"] == 0 and report["unchanged"] == 3
    paths = _paths(home)
    assert len(paths) == 3 and all(path.startswith(str(real) + "/") for path in paths)


def test_a_catalog_with_alias_roots_is_brought_in_line_at_the_next_scan(
        tmp_path: Path, monkeypatch) -> None:
    from helpers import write_library

    from samplemind import Library, roots

    real = tmp_path / "real"
    write_library(real, 3)
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    home = tmp_path / "home"
    with Library(home, jobs=1) as library:
        # What an older samplemind wrote: roots as typed, every file catalogued twice.
        monkeypatch.setattr(roots, "resolve_root", lambda path: os.path.abspath(path))
        library.scan([real])
        library.scan([alias])
        assert library.count() == 6
        twin = library.get(str(alias / "Kicks" / "hit_001.wav"))
        library.catalog.add_tags([twin.id], ["mine"])
        monkeypatch.undo()
        report = library.scan([alias])
        assert report.removed == 3 and report.added == 0
        assert sorted(s.path for s in library.ls()) == sorted(
            str(p) for p in real.rglob("*.wav"))
        assert library.get(str(real / "Kicks" / "hit_001.wav")).to_json()["tags"] == ["mine"]
        stored = [row[0] for row in library.catalog.query("SELECT path FROM roots")]
        assert stored == [str(real)]
        assert library.catalog.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
