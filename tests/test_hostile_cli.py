"""Issue 16, the CLI side: hostile file names and careless users must not break the library.

Each test drives the real CLI (a subprocess or typer's runner) on real files and a real catalog;
the account test runs a real `samplemind serve` on loopback.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from samplemind import Library, query, roots
from samplemind.errors import QueryError
from samplemind.server.http import encode
from samplemind.textsafe import escape_undecodable, printable

from helpers import run_cli, write_hit, write_library

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

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
    real = tmp_path / "real"
    write_library(real, 3)
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    home = tmp_path / "home"
    with Library(home, jobs=1) as library:
        # What an older samplemind wrote: roots as typed, every file catalogued twice (and
        # no row taken over by the same file's real path: scan._leads_to).
        monkeypatch.setattr(roots, "resolve_root", lambda path: os.path.abspath(path))
        monkeypatch.setattr("samplemind.scan._leads_to", lambda *args: False)
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


# -- defects 8 and 9: output is always valid, and a file name cannot drive the terminal -------

CONTROL_NAME = b"ctrl\x01\x1b[31m.wav"
BAD_UTF8_NAME = b"bad_\xff.wav"


@pytest.fixture
def hostile_names(tmp_path: Path) -> tuple[Path, Path]:
    """(home, folder): a folder with a good WAV, one named with control characters, and one
    whose name is not UTF-8; scanned."""

    folder = tmp_path / "lib"
    write_hit(folder / "good.wav")
    data = write_hit(tmp_path / "other.wav", freq=90).read_bytes()
    for name in (CONTROL_NAME, BAD_UTF8_NAME):
        with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
            handle.write(data)
    home = tmp_path / "home"
    assert run_cli("scan", str(folder), home=home).returncode == 0
    return home, folder


def _run_bytes(*args: str, home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "SAMPLEMIND_HOME": str(home), **(env or {})}
    return subprocess.run([sys.executable, "-m", "samplemind", *args], capture_output=True,
                          env=environment, timeout=300)


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_scan_json_is_valid_utf8_and_each_warning_is_said_once(hostile_names, locale) -> None:
    home, folder = hostile_names
    # Two spellings of one folder: its skipped file is still one warning.
    result = _run_bytes("scan", str(folder), str(folder) + "/", "--format", "json", home=home,
                        env={"LC_ALL": locale, "LANG": locale})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.decode("utf-8"))  # strict: any raw 0xff fails here
    bad = os.path.join(str(folder), "bad_\\xff.wav")
    assert report["warnings"] == [{
        "path": bad, "path_b64": base64.b64encode(
            os.path.join(os.fsencode(folder), BAD_UTF8_NAME)).decode(),
        "error": "the file name is not valid UTF-8; rename the file"}]
    stderr = result.stderr.decode("utf-8")
    assert stderr.count("bad_\\xff.wav") == 1
    jsonl = _run_bytes("scan", str(folder), "--format", "jsonl", home=home)
    assert json.loads(jsonl.stdout.decode("utf-8"))["warnings"][0]["path"] == bad


def test_file_names_cannot_put_control_characters_on_the_terminal(hostile_names) -> None:
    home, folder = hostile_names
    listed = _run_bytes("ls", home=home)
    assert listed.returncode == 0
    assert b"\x1b" not in listed.stdout and b"\x01" not in listed.stdout
    assert b"ctrl\\x01\\x1b[31m.wav" in listed.stdout
    shown = _run_bytes("show", os.path.join(str(folder), "ctrl\x01\x1b[31m.wav"), home=home)
    assert b"\x1b" not in shown.stdout and b"ctrl\\x01\\x1b[31m.wav" in shown.stdout
    missing = _run_bytes("show", os.path.join(str(folder), "gone\x1b[2J.wav"), home=home)
    assert missing.returncode != 0 and b"\x1b" not in missing.stderr
    assert b"gone\\x1b[2J.wav" in missing.stderr
    # JSON and CSV keep the name exactly (JSON escapes it its own way).
    records = [json.loads(line) for line in _run_bytes("ls", "-f", "jsonl", home=home).stdout.splitlines()]
    assert {r["name"] for r in records} == {"good.wav", "ctrl\x01\x1b[31m.wav"}


def test_table_on_a_terminal_escapes_control_characters(hostile_names) -> None:
    home, _ = hostile_names
    leader, follower = pty.openpty()
    environment = {**os.environ, "SAMPLEMIND_HOME": str(home), "TERM": "xterm"}
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "ls"], stdout=follower,
                               stderr=follower, stdin=subprocess.DEVNULL, env=environment)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other end closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    assert b"ctrl\\x01\\x1b[31m.wav" in output
    assert b"\x1b[31m" not in output and b"\x01" not in output


def test_server_json_escapes_undecodable_bytes() -> None:
    body = json.loads(encode({"warnings": [{"path": "/x/bad_\udcff.wav", "error": "e"}]}))
    assert body["warnings"][0]["path"] == "/x/bad_\\xff.wav"
    assert base64.b64decode(body["warnings"][0]["path_b64"]) == b"/x/bad_\xff.wav"


def test_printable_escapes() -> None:
    assert printable("a\x1b[31mb\x7f\u202ec\td\n") == "a\\x1b[31mb\\x7f\\u202ec\\td\\n"
    assert printable("two\nlines\x07", keep_newlines=True) == "two\nlines\\x07"
    assert printable("bad_\udcff.wav") == "bad_\\xff.wav"
    assert printable("Kick – Ünïcode 🥁.wav") == "Kick – Ünïcode 🥁.wav"
    assert escape_undecodable("ok\x1b\udcfe") == "ok\x1b\\xfe"


# -- defect 12: a cache folder replaced by a file ----------------------------------------------


@pytest.mark.parametrize("blocked", ["cache/features", "cache"])
def test_a_file_in_place_of_the_cache_folder(tmp_path: Path, blocked: str) -> None:
    home, folder = tmp_path / "home", tmp_path / "lib"
    write_hit(folder / "one.wav")
    assert run_cli("scan", str(folder), home=home).returncode == 0

    shutil.rmtree(home / blocked)
    (home / blocked).write_text("not a folder")
    write_hit(folder / "two.wav", freq=90)
    # A scan with new files carries on without the cache, and says so once.
    scanned = run_cli("scan", str(folder), "-f", "json", home=home)
    assert scanned.returncode == 0, scanned.stderr
    report = json.loads(scanned.stdout)
    assert report["added"] == 1 and report["failed"] == 0
    assert [w["path"] for w in report["warnings"]] == [str(home / "cache" / "features")]
    assert scanned.stderr.count("cannot be used") == 1 and "cache clear" in scanned.stderr
    doctor = run_cli("doctor", "-f", "json", home=home)
    assert json.loads(doctor.stdout)["cache"]["ok"] is False
    # The fix doctor suggests works, and the cache is back in use.
    cleared = run_cli("cache", "clear", home=home)
    assert cleared.returncode == 0, cleared.stderr
    assert (home / "cache" / "features").is_dir()
    assert json.loads(run_cli("doctor", "-f", "json", home=home).stdout)["cache"]["ok"] is True
    write_hit(folder / "three.wav", freq=130)
    again = json.loads(run_cli("scan", str(folder), "-f", "json", home=home).stdout)
    assert again["added"] == 1 and again["warnings"] == []
    stats = json.loads(run_cli("cache", "stats", "-f", "json", home=home).stdout)
    assert stats["entries"] == 1


def test_a_folder_named_through_a_link_selects_its_files(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write_library(real, 2)
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    with Library(tmp_path / "home", jobs=1) as library:
        library.scan([alias])
        assert len(list(library.ls(under=str(alias)))) == 2
        assert len(list(library.ls(under=str(real / "Kicks")))) == 1
        assert library.get(str(alias / "Kicks" / "hit_001.wav")).path.startswith(str(real))


def test_dupes_table_escapes_control_characters(hostile_names) -> None:
    home, folder = hostile_names
    shutil.copy(os.path.join(os.fsencode(folder), CONTROL_NAME), folder / "copy.wav")
    assert run_cli("scan", str(folder), home=home).returncode == 0
    listed = _run_bytes("dupes", home=home)
    assert listed.returncode == 0, listed.stderr
    assert b"ctrl\\x01\\x1b[31m.wav" in listed.stdout and b"\x1b" not in listed.stdout


def test_a_name_with_a_newline_stays_on_its_line_in_messages(tmp_path: Path) -> None:
    folder, home = tmp_path / "lib", tmp_path / "home"
    folder.mkdir()
    (folder / "fake\nScanned 0 files.wav").write_bytes(b"RIFF not really audio" * 10)
    result = _run_bytes("scan", str(folder), home=home)
    assert result.returncode == 3
    lines = result.stderr.decode("utf-8").splitlines()
    assert any("fake\\nScanned 0 files.wav" in line for line in lines)
    assert not any(line.startswith("Scanned 0 files.wav") for line in lines)


def test_a_server_scan_of_an_alias_path_adds_nothing(loopback_server, tmp_path: Path) -> None:
    base, home = loopback_server
    real = tmp_path / "real"
    write_library(real, 2)
    assert run_cli("scan", str(real), home=home).returncode == 0
    request = urllib.request.Request(
        base + "/api/v1/scans", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"paths": [f"/proc/self/root{real}"]}).encode())
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 202
        job_id = json.loads(answer.read())["id"]

    def finished():
        job = _request(f"{base}/api/v1/jobs/{job_id}")[1]
        return job if job.get("status") in ("done", "failed", "cancelled") else None

    job = _wait_until(finished, "the scan job", ceiling=120)
    assert job["status"] == "done" and job["result"]["added"] == 0, job
    assert _request(base + "/api/v1/samples")[1]["count"] == 2


# -- the second review: one file is one row, files checked when exported, paths and roots ------


def _tags(library: Library, sample_id: int) -> set[str]:
    return set(library.get(sample_id).to_json()["tags"])


def test_a_symlinked_folder_inside_a_library_is_catalogued_once_and_keeps_its_tags(
        tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write_library(lib / "real", 2)
    (lib / "alias").symlink_to(lib / "real", target_is_directory=True)  # walked before "real"
    with Library(tmp_path / "home", jobs=1) as library:
        assert library.scan([lib]).added == 2
        assert all(s.path.startswith(str(lib / "real") + "/") for s in library.ls())
        again = library.scan([lib / "alias"])  # the same root, resolved: nothing new
        assert again.added == 0 and library.count() == 2
        sample = library.get(str(lib / "real" / "Kicks" / "hit_001.wav"))
        library.tag([sample.id], ["precious"])
        library.set(sample.id, {"bpm": "123"})
        rescan = library.scan([lib])
        assert (rescan.added, rescan.moved, rescan.removed) == (0, 0, 0)
        assert library.count() == 2 and "precious" in _tags(library, sample.id)
        assert library.get(sample.id).to_json()["bpm"] == 123


def test_a_file_catalogued_under_two_paths_is_merged_not_dropped(tmp_path: Path,
                                                                  monkeypatch) -> None:
    from samplemind import scan as scan_module

    lib = tmp_path / "lib"
    write_library(lib / "real", 2)
    (lib / "alias").symlink_to(lib / "real", target_is_directory=True)
    alias_path = str(lib / "alias" / "Kicks" / "hit_001.wav")
    with Library(tmp_path / "home", jobs=1) as library:
        # What an older samplemind did: every link followed, an alias row beside the real one.
        monkeypatch.setattr(scan_module, "reached_from", lambda *args: False, raising=False)
        monkeypatch.setattr(scan_module, "_leads_to", lambda *args: False, raising=False)
        library.scan([lib])
        library.scan([lib / "alias"])
        assert library.count() == 4
        real = library.get(str(lib / "real" / "Kicks" / "hit_001.wav"))
        twin = library.catalog.scalar("SELECT id FROM samples WHERE path = ?", [alias_path])
        library.tag([real.id], ["precious"])
        library.set(real.id, {"bpm": "123"})
        library.tag([twin], ["noted"])
        monkeypatch.undo()
        report = library.scan([lib])
        assert report.added == 0 and library.count() == 2
        assert all(s.path.startswith(str(lib / "real") + "/") for s in library.ls())
        assert _tags(library, real.id) >= {"precious", "noted"}
        assert library.get(real.id).to_json()["bpm"] == 123
        assert library.catalog.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_folder_linked_from_outside_keeps_one_row_when_its_real_folder_is_scanned(
        tmp_path: Path) -> None:
    other, lib = tmp_path / "other", tmp_path / "lib"
    write_library(other, 2)
    write_hit(lib / "own.wav", freq=300)
    (lib / "ext").symlink_to(other, target_is_directory=True)
    with Library(tmp_path / "home", jobs=1) as library:
        assert library.scan([lib]).added == 3
        linked = library.get(str(lib / "ext" / "Kicks" / "hit_001.wav"))
        assert linked.path == str(lib / "ext" / "Kicks" / "hit_001.wav")  # outside every root
        library.tag([linked.id], ["precious"])
        report = library.scan([other])  # now its real folder is a root: the row takes that path
        assert report.added == 0 and library.count() == 3
        assert library.get(linked.id).path == str(other / "Kicks" / "hit_001.wav")
        again = library.scan([lib])  # the link is no longer followed: nothing is lost
        assert (again.added, again.removed) == (0, 0) and library.count() == 3
        assert "precious" in _tags(library, linked.id)


def test_export_never_copies_what_a_catalogued_path_leads_to_now(tmp_path: Path) -> None:
    lib, home = tmp_path / "lib", tmp_path / "home"
    swapped = write_hit(lib / "a.wav", seed=1)
    fifo = write_hit(lib / "b.wav", freq=90, seed=2)
    grown = write_hit(lib / "c.wav", freq=120, seed=3)
    kept = write_hit(lib / "keep.wav", freq=150, seed=4)
    assert run_cli("scan", str(lib), home=home).returncode == 0
    # A secret of the same size and mtime: only "under a scanned root" can tell it apart.
    scanned = swapped.stat()
    secret = tmp_path / "secret.txt"
    secret.write_bytes((b"s3cret!" * scanned.st_size)[:scanned.st_size])
    os.utime(secret, ns=(scanned.st_atime_ns, scanned.st_mtime_ns))
    swapped.unlink()
    swapped.symlink_to(secret)
    fifo.unlink()
    os.mkfifo(fifo)  # opening it must not block the export
    with grown.open("ab") as handle:
        handle.write(b"\0" * 64)
    kit, out, only_zip = tmp_path / "kit", tmp_path / "kit.zip", tmp_path / "only.zip"
    for args, zips in ((("--to", str(kit), "--zip", str(out)), [out]),
                       (("--zip", str(only_zip)), [only_zip])):
        result = run_cli("export", "", *args, home=home, timeout=120)
        assert result.returncode == 3, result.stderr
        warned = [line for line in result.stderr.splitlines() if "skipped" in line]
        assert len(warned) == 3, result.stderr
        for zipped in zips:
            with zipfile.ZipFile(zipped) as archive:
                names = archive.namelist()
                manifest = json.loads(archive.read("samplemind-export.json"))
                assert not any(b"s3cret!" in archive.read(name) for name in names)
            assert [os.path.basename(name) for name in names if name.endswith(".wav")] == ["keep.wav"]
            reasons = {item["source"]: item["reason"] for item in manifest["skipped"]}
            assert set(reasons) == {str(swapped), str(fifo), str(grown)}
            assert "outside the scanned folders" in reasons[str(swapped)]
            assert "regular file" in reasons[str(fifo)]
            assert "changed since it was scanned" in reasons[str(grown)]
    copied = [path for path in kit.rglob("*") if path.is_file() and path.suffix == ".wav"]
    assert [path.name for path in copied] == ["keep.wav"]
    assert copied[0].read_bytes() == kept.read_bytes()
    kit_manifest = json.loads((kit / "samplemind-export.json").read_text("utf-8"))
    assert len(kit_manifest["skipped"]) == 3


def test_paths_that_are_not_text_are_a_usage_error_that_names_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good = write_hit(tmp_path / "good" / "g.wav")
    assert run_cli("scan", str(good.parent), home=home).returncode == 0
    bad_folder = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff")
    os.mkdir(bad_folder)
    bad_file = Path(bad_folder) / "x.wav"
    shutil.copy(good, bad_file)
    for args in (("show", str(bad_file)), ("similar", str(bad_file)),
                 ("set", str(bad_file), "bpm=120"), ("tag", "add", str(bad_file), "x"),
                 ("scan", bad_folder)):
        result = _run_bytes(*args, home=home)
        stderr = result.stderr.decode("utf-8")  # valid UTF-8: the byte is escaped
        assert result.returncode == 2, (args, stderr)
        assert stderr.count("\n") == 1 and stderr.startswith("error: "), (args, stderr)
        assert "bad\\xff" in stderr and "Unicode" not in stderr, (args, stderr)
    result = run_cli("export", "", "--to", "/proc/self", home=home)
    assert result.returncode == 2, result.stderr
    assert "(choose another --to)" in result.stderr, result.stderr  # the core: another folder
    assert result.stderr.startswith("error: cannot write in /proc/self") and \
        result.stderr.count("\n") == 1 and "Errno" not in result.stderr, result.stderr


def test_only_folders_and_audio_files_become_roots(tmp_path: Path) -> None:
    from samplemind.errors import NotFound, UsageError

    home = tmp_path / "home"
    text = tmp_path / "secret.txt"
    text.write_text("not audio")
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)  # an audio name, but not a file
    for target in ("/dev/null", str(text), str(fifo), "/etc", "/"):
        result = run_cli("scan", target, home=home)
        assert result.returncode == 2, (target, result.stderr)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    stats = json.loads(run_cli("stats", "-f", "json", home=home).stdout)
    assert stats["roots"] == []
    with Library(home, jobs=1) as library:
        with pytest.raises(UsageError) as refused:  # 400 over HTTP
            library.scan([text])
        assert refused.value.http_status == 400
        with pytest.raises(NotFound):
            library.scan([tmp_path / "nowhere"])
        write_hit(tmp_path / "one.wav")
        assert library.scan([tmp_path / "one.wav"]).added == 1  # an audio file is a root
        assert library.stats()["roots"] == [str(tmp_path / "one.wav")]


def _server_scan(base: str, paths: list[str]) -> tuple[int, dict]:
    """POST /api/v1/scans and wait for the job: (status of the POST, the job or the error)."""
    request = urllib.request.Request(
        base + "/api/v1/scans", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"paths": paths}).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, job_id = answer.status, json.loads(answer.read())["id"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())

    def finished():
        job = _request(f"{base}/api/v1/jobs/{job_id}")[1]
        return job if job.get("status") in ("done", "failed", "cancelled") else None

    return status, _wait_until(finished, "the scan job", ceiling=120)


def test_a_server_scan_of_a_symlinked_folder_in_a_root_adds_nothing_and_loses_nothing(
        loopback_server, tmp_path: Path) -> None:
    base, home = loopback_server
    lib = tmp_path / "lib"
    write_library(lib / "real", 2)
    (lib / "alias").symlink_to(lib / "real", target_is_directory=True)
    assert run_cli("scan", str(lib), home=home).returncode == 0
    sample = json.loads(run_cli("show", str(lib / "real" / "Kicks" / "hit_001.wav"), "-f", "json",
                                home=home).stdout)
    assert run_cli("tag", "add", str(sample["id"]), "precious", home=home).returncode == 0
    status, job = _server_scan(base, [str(lib / "alias")])
    assert status == 202 and job["status"] == "done" and job["result"]["added"] == 0, job
    assert _request(base + "/api/v1/samples")[1]["count"] == 2
    again = json.loads(run_cli("scan", str(lib), "-f", "json", home=home).stdout)
    assert (again["added"], again["moved"], again["removed"]) == (0, 0, 0)
    shown = json.loads(run_cli("show", str(sample["id"]), "-f", "json", home=home).stdout)
    assert shown["tags"] == ["precious"]


def test_a_server_scan_of_a_file_that_is_not_audio_stores_no_root(loopback_server,
                                                                  tmp_path: Path) -> None:
    base, home = loopback_server
    lib = tmp_path / "lib"
    write_library(lib, 1)
    (lib / "notes.txt").write_text("not audio")
    assert run_cli("scan", str(lib), home=home).returncode == 0
    status, answer = _server_scan(base, [str(lib / "notes.txt")])
    # Refused at once (400) with the scan's own sentence; never a root.
    assert status == 400, answer
    assert "audio extension" in answer["error"], answer
    stats = json.loads(run_cli("stats", "-f", "json", home=home).stdout)
    assert stats["roots"] == [str(lib)]


def test_roots_an_older_version_stored_that_are_not_folders_are_forgotten(tmp_path: Path) -> None:
    lib, away = tmp_path / "lib", tmp_path / "unmounted"
    write_library(lib, 1)
    text = tmp_path / "secret.txt"
    text.write_text("not audio")
    with Library(tmp_path / "home", jobs=1) as library:
        with library.catalog.transaction():  # what `scan /dev/null` and friends stored before
            for root in ("/dev/null", "/etc", str(text), str(away)):
                library.catalog.note_root(root)
        library.scan([lib])
        # Refused ones go; a root that is not there now (a drive unplugged) stays.
        assert library.stats()["roots"] == sorted([str(lib), str(away)])
