"""`samplemind serve` on the command line: --get for scripts, and the loopback rule."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from server_fixtures import build_catalog

from samplemind.server.auth import is_loopback

from helpers import run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_catalog(tmp_path_factory.mktemp("server_cli"))


def test_get_prints_the_body_and_exits_0_on_success(catalog):
    home, _ = catalog
    result = run_cli("serve", "--get", "/api/v1/samples?q=cat:kick&limit=2", home=home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["count"] == 2 and all(s["category"] == "kick" for s in data["samples"])


def test_get_exits_1_on_an_error_status_with_the_json_error(catalog):
    home, _ = catalog
    result = run_cli("serve", "--get", "/api/v1/samples/99999", home=home)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "ok": False, "error": "no sample has id 99999 (samplemind ls shows the ids)", "status": 404}
    assert run_cli("serve", "--get", "api/v1/stats", home=home).returncode == 2


def test_non_loopback_host_is_refused_without_insecure(tmp_path: Path):
    result = run_cli("serve", "--host", "0.0.0.0", home=tmp_path / "home")
    assert result.returncode == 2
    assert "--insecure" in result.stderr and result.stdout == ""


def test_non_loopback_host_is_served_with_accounts_and_logins_required(tmp_path: Path):
    home = tmp_path / "home"
    added = run_cli("token", "add", "ci", "--role", "viewer", home=home)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    env = {**os.environ, "SAMPLEMIND_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "serve", "--host", "0.0.0.0",
                                "--port", "0"], env=env, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
    try:
        line = process.stderr.readline()
        assert re.search(r"serving on http://0\.0\.0\.0:[1-9]\d*/ ", line) and "warning" not in line
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert token.startswith("smt_")


def test_get_answers_even_when_accounts_exist(tmp_path: Path):
    home = tmp_path / "home"
    assert run_cli("token", "add", "ci", "--role", "viewer", home=home).returncode == 0
    result = run_cli("serve", "--get", "/api/v1/stats", home=home)
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["samples"] == 0


def test_insecure_warns_and_serves(tmp_path: Path):
    env = {**os.environ, "SAMPLEMIND_HOME": str(tmp_path / "home")}
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "serve", "--host", "0.0.0.0",
                                "--port", "0", "--insecure"], env=env, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
    try:
        lines = [process.stderr.readline(), process.stderr.readline()]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "warning: --insecure: anyone who can reach 0.0.0.0 gets full admin access" in lines[0]
    assert re.search(r"serving on http://0\.0\.0\.0:[1-9]\d*/ ", lines[1])


def test_loopback_names():
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "example.com", "::"))


def test_upload_names_are_made_safe():
    from samplemind.server.uploads import safe_upload_name

    assert safe_upload_name("../../etc/passwd.wav") == "passwd.wav"
    assert safe_upload_name("C:\\Users\\x\\kick.WAV") == "kick.wav"
    assert safe_upload_name("\u202eevil\x01\x7f.wav") == "evil__.wav"
    assert safe_upload_name("...hidden.wav") == "hidden.wav"
    assert safe_upload_name("nul.wav") == "_nul.wav"
    assert safe_upload_name("?.wav") == "_.wav"
    long = safe_upload_name("\u00e9" * 300 + ".flac")
    assert len(long.encode()) <= 120 and long.endswith(".flac")
    for bad in ("kick.exe", "kick", "", None, "kick.wav.sh", ".wav"):
        with pytest.raises(Exception) as error:
            safe_upload_name(bad)
        assert error.value.http_status in (400, 415)


def test_an_unknown_route_says_where_the_routes_are(tmp_path: Path):
    result = run_cli("serve", "--get", "/api/v1/nope", home=tmp_path / "home")
    assert result.returncode == 1
    body = json.loads(result.stdout)
    assert body["status"] == 404 and "openapi.json" in body["error"]


def test_a_thousand_browsers_connecting_at_once_are_all_taken_in(tmp_path: Path):
    # The kernel completes connections into the listening socket's backlog even while the
    # server is stopped; past it they wait for a SYN retry (1 s, then 3 s). aiohttp used to
    # listen anew with its own backlog of 128, so the 1,024 serve asked for never held.
    import selectors
    import signal
    import socket
    import time

    env = {**os.environ, "SAMPLEMIND_HOME": str(tmp_path / "home")}
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "serve", "--port", "0"],
                               env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True)
    sockets: list[socket.socket] = []
    try:
        port = int(re.search(r"serving on http://127\.0\.0\.1:(\d+)/",
                             process.stderr.readline()).group(1))
        deadline = time.monotonic() + 60
        # Wait until it takes a connection, then stop it from accepting.
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        time.sleep(0.5)  # the probe connection above is accepted and closed
        process.send_signal(signal.SIGSTOP)
        selector = selectors.DefaultSelector()
        wanted = 600
        for _ in range(wanted):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
            sockets.append(client)
            selector.register(client, selectors.EVENT_WRITE)
        connected = 0
        until = time.monotonic() + 20  # far longer than the 1 s SYN retry of a dropped one
        while connected < wanted and time.monotonic() < until:
            for key, _ in selector.select(timeout=0.2):
                selector.unregister(key.fileobj)
                if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    connected += 1
        assert connected == wanted, f"only {connected} of {wanted} connections completed"
    finally:
        for client in sockets:
            client.close()
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=30)
