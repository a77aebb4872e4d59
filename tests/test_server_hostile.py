"""Hostile files and hostile clients against a real server on 127.0.0.1 (issue 16, the server
side): stalled and vanished downloads, name patterns that would burn CPU, catalogued paths
swapped for something else, malformed bodies, and uploads that lie about their size or stop
half way.

Timing: nothing here measures speed. A request that must not be blocked gets a generous
ceiling (CEILING seconds) on a shared, noisy machine; waits are on conditions.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import os
import socket
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
import soundfile as sf
from aiohttp import FormData
from body_cases import invalid_bodies

from samplemind import Library
from samplemind.errors import UsageError
from samplemind.export import plan_export
from samplemind.server import RUNNER_OPTIONS, ServerConfig, make_app
from samplemind.server.body_schema import BodyError, check_body
from samplemind.server.context import CONTEXT
from samplemind.server.downloads import DOWNLOADS
from samplemind.server.routing import ROUTE_TABLE

from helpers import run_cli

pytestmark = pytest.mark.asyncio

CEILING = 10.0  # seconds a request that must not be blocked may take, at most
BIG_BYTES = 8 * 1024 * 1024  # per big file: a zip of them is far larger than socket buffers


def add_rows(home: Path, root: Path, paths: list[Path]) -> list[int]:
    """Catalogue files as a scan lists them (path, root, size, mtime, a roots row), without
    analysis: these tests are about serving, not analysing. Returns their ids."""
    with Library(home) as library, library.catalog.transaction():
        conn = library.catalog.conn
        conn.execute("INSERT OR IGNORE INTO roots (path, added_at, last_scan_at) VALUES (?, '', '')",
                     [str(root)])
        ids = []
        for number, path in enumerate(paths):
            info = os.stat(path)
            cursor = conn.execute(
                "INSERT INTO samples (path, root, name, hash, format, type, category, duration, "
                "sample_rate, size, mtime_ns) VALUES (?, ?, ?, ?, 'wav', 'oneshot', 'kick', 1.0, "
                "8000, ?, ?)",
                [str(path), str(root), path.name, f"{abs(hash(str(path))):032x}{number}",
                 info.st_size, info.st_mtime_ns])
            ids.append(cursor.lastrowid)
    return ids


def write_wav(path: Path, frames: int = 800, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).uniform(-0.5, 0.5, frames).astype(np.float32)
    sf.write(path, noise, 8000, subtype="PCM_16")
    return path


@pytest.fixture
def library_dir(tmp_path: Path) -> tuple[Path, Path, dict[str, int]]:
    """(home, lib folder, ids by name): three big files that do not compress, a small WAV,
    a symlink to another small WAV inside the folder."""
    home, lib = tmp_path / "home", tmp_path / "lib"
    lib.mkdir()
    files = []
    for i in range(3):
        big = lib / f"big_{i}.wav"
        big.write_bytes(np.random.default_rng(i).bytes(BIG_BYTES))
        files.append(big)
    files.append(write_wav(lib / "small.wav", seed=1))
    target = write_wav(lib / "targets" / "real.wav", seed=2)
    link = lib / "link.wav"
    link.symlink_to(target)
    files.append(link)
    Library(home).close()
    ids = add_rows(home, lib, files)
    return home, lib, {path.name: sample_id for path, sample_id in zip(files, ids)}


@pytest.fixture
def server_for(aiohttp_client, aiohttp_server):
    async def make(home: Path, **config):
        app = make_app(home, config=ServerConfig(threads=2, record_cache_mb=0, **config))
        return await aiohttp_client(await aiohttp_server(app, **RUNNER_OPTIONS))  # as serve runs it

    return make


@pytest_asyncio.fixture
async def server(server_for, library_dir):
    return await server_for(library_dir[0])


def assert_error(response_status: int, data: dict, status: int, *words: str) -> None:
    assert response_status == status, data
    assert data["ok"] is False and data["status"] == status and data["error"], data
    for word in words:
        assert word in data["error"], data["error"]


async def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    """Poll until condition() holds; fail naming what did not happen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.05)


async def stalled_socket(client, path: str, headers: str = "") -> socket.socket:
    """A connection that sends a GET and never reads: a tiny receive buffer, non-blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (client.server.host, client.server.port))
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n"
    await loop.sock_sendall(sock, request.encode())
    return sock


@contextlib.asynccontextmanager
async def stalled_downloads(client, path: str, count: int):
    """`count` stalled GETs of `path`, streaming once the context is entered; on leaving,
    their sockets close and every export they held ends."""
    slots = client.app[DOWNLOADS]
    stalled = [await stalled_socket(client, path) for _ in range(count)]
    try:
        await wait_for(lambda: slots.active == count, f"{count} stalled exports streaming")
        yield slots
    finally:
        for sock in stalled:
            sock.close()
    await wait_for(lambda: slots.active == 0, "closed clients end their exports")


async def timed(coroutine):
    """The coroutine's result, failing if it takes over CEILING seconds."""
    return await asyncio.wait_for(coroutine, CEILING)


# -- defect 2: stalled downloads ----------------------------------------------------------------


@pytest.mark.slow
async def test_stalled_exports_do_not_block_audio_uploads_or_other_exports(server_for, library_dir):
    home, lib, ids = library_dir
    client = await server_for(home, max_downloads_each=8, write_timeout=600)
    async with stalled_downloads(client, "/api/v1/export?q=", 6) as slots:
        # Audio of every kind of file, several times, each well within the ceiling.
        for _ in range(3):
            for name in ("small.wav", "big_0.wav", "link.wav"):
                response = await timed(client.get(f"/api/v1/samples/{ids[name]}/audio"))
                body = await timed(response.read())
                assert response.status == 200 and len(body) == os.path.getsize(lib / name)
        # An upload's file writes are not queued behind the zips either.
        upload_dir = Path(client.app[CONTEXT].upload_dir)
        form = FormData()
        form.add_field("file", (lib / "small.wav").read_bytes(), filename="up.wav")
        response = await timed(client.post("/api/v1/uploads", data=form))
        assert response.status == 202, await response.text()
        assert any(p.suffix == ".wav" for p in upload_dir.iterdir())
        # Another export from a client that reads completes: no export thread is held.
        response = await timed(client.get("/api/v1/export", params={"q": f"id:{ids['small.wav']}"}))
        archive = zipfile.ZipFile(io.BytesIO(await timed(response.read())))
        assert archive.testzip() is None and "kick/small.wav" in archive.namelist()
        assert slots.active == 6  # the stalled ones are still there, still stalled


async def test_downloads_over_the_per_user_bound_are_refused_with_503(server_for, library_dir):
    home, _, _ = library_dir
    client = await server_for(home, max_downloads_each=2, write_timeout=600)
    async with stalled_downloads(client, "/api/v1/export", 2):
        response = await timed(client.get("/api/v1/export"))
        assert_error(response.status, await response.json(), 503, "downloads streaming")
        assert response.headers["Retry-After"].isdigit()


@pytest.mark.slow
async def test_a_client_that_reads_nothing_is_dropped_after_the_write_timeout(server_for,
                                                                             library_dir):
    home, lib, ids = library_dir
    client = await server_for(home, write_timeout=1)
    slots = client.app[DOWNLOADS]
    stalled = await stalled_socket(client, "/api/v1/export")
    also = await stalled_socket(client, f"/api/v1/samples/{ids['big_0.wav']}/audio")
    try:
        await wait_for(lambda: slots.active == 1, "the export streaming")
        await wait_for(lambda: slots.active == 0, "the stalled export dropped")
        # The server closed both connections: reading them to the end finds EOF or a reset.
        for sock in (stalled, also):
            sock.setblocking(True)
            sock.settimeout(30)
            received = 0
            try:
                while chunk := await asyncio.to_thread(sock.recv, 1 << 20):
                    received += len(chunk)
            except ConnectionResetError:
                pass
            assert received < BIG_BYTES * 3  # cut short: never the whole body
    finally:
        stalled.close()
        also.close()


async def test_a_client_that_leaves_stops_the_export(server, library_dir):
    slots = server.app[DOWNLOADS]
    sock = await stalled_socket(server, "/api/v1/export")
    await wait_for(lambda: slots.active == 1, "the export streaming")
    sock.close()
    await wait_for(lambda: slots.active == 0, "the export stopped after its client left")


# -- defect 3: name patterns --------------------------------------------------------------------


async def test_pattern_widths_and_precisions_are_bounded(server, library_dir):
    _, _, ids = library_dir
    for pattern, words in (("{name:>10000000}", "width"), ("{name:>9999999999999}", "width"),
                           ("{bpm:.1000f}", "precision"), ("{name:{x}}", "format spec"),
                           ("{name}" * 300, "too long")):
        response = await timed(server.get("/api/v1/export", params={"pattern": pattern}))
        assert_error(response.status, await response.json(), 400, words)
        response = await timed(server.post("/api/v1/exports",
                                           json={"query": "", "pattern": pattern}))
        assert_error(response.status, await response.json(), 400, words)
    # A value the spec cannot format is a 400 too, even when Python says OverflowError.
    response = await timed(server.get("/api/v1/export", params={
        "q": f"id:{ids['big_0.wav']}", "pattern": "{size:c}"}))
    assert_error(response.status, await response.json(), 400, "cannot format {size:c}")
    response = await timed(server.get("/api/v1/export", params={
        "q": f"id:{ids['small.wav']}", "pattern": "{name:_>255}{name:_>255}/{bpm:_^255}"}))
    names = zipfile.ZipFile(io.BytesIO(await response.read())).namelist()
    assert response.status == 200 and len(names) == 2  # the file and the manifest
    folder, file = next(name for name in names if "/" in name).split("/")
    assert folder == "_" * 120 and file == "unknown.wav"  # cut to 120 bytes, not rendered on


@pytest.mark.slow
async def test_the_cli_refuses_the_same_patterns_with_exit_2(library_dir, tmp_path: Path):
    home = library_dir[0]
    result = run_cli("export", f"id:{library_dir[2]['small.wav']}", "--to", str(tmp_path / "kit"),
                     "--pattern", "{name:>10000000}", home=home, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "width" in result.stderr and "at most 255" in result.stderr
    assert not (tmp_path / "kit").exists()


async def test_a_cross_site_page_cannot_start_an_export(server, library_dir):
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        response = await timed(server.get("/api/v1/export", headers=headers))
        assert_error(response.status, await response.json(), 403)
    response = await timed(server.get("/api/v1/export", params={"q": f"id:{library_dir[2]['small.wav']}"},
                                      headers={"Sec-Fetch-Site": "same-origin"}))
    assert response.status == 200
    await response.read()


# -- defect 5: files checked when served --------------------------------------------------------


async def export_manifest(client, query: str) -> tuple[dict, zipfile.ZipFile]:
    response = await timed(client.get("/api/v1/export", params={"q": query}))
    assert response.status == 200, await response.text()
    archive = zipfile.ZipFile(io.BytesIO(await timed(response.read())))
    return json.loads(archive.read("samplemind-export.json")), archive


async def test_a_symlink_swapped_to_a_secret_is_not_served(server, library_dir, tmp_path: Path):
    _, lib, ids = library_dir
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"TOP SECRET " * 10)
    link = lib / "link.wav"
    response = await timed(server.get(f"/api/v1/samples/{ids['link.wav']}/audio"))
    assert response.status == 200  # as scanned: served
    await response.read()
    os.utime(secret, ns=(os.stat(link).st_atime_ns, os.stat(link).st_mtime_ns))
    link.unlink()
    link.symlink_to(secret)
    response = await timed(server.get(f"/api/v1/samples/{ids['link.wav']}/audio"))
    body = await response.read()
    assert response.status in (403, 409) and b"SECRET" not in body
    assert json.loads(body)["ok"] is False
    # Same size and mtime as scanned, and still refused: it leads outside the scanned folder.
    secret.write_bytes(b"S" * os.path.getsize(lib / "targets" / "real.wav"))
    os.utime(secret, ns=(0, os.stat(lib / "targets" / "real.wav").st_mtime_ns))
    response = await timed(server.get(f"/api/v1/samples/{ids['link.wav']}/audio"))
    assert_error(response.status, await response.json(), 403, "outside the scanned folders")
    manifest, archive = await export_manifest(server, f"id:{ids['link.wav']}")
    assert not manifest["items"] and manifest["skipped"]
    assert all(b"SSSS" not in archive.read(name) for name in archive.namelist())


async def test_a_file_changed_since_the_scan_answers_409(server, library_dir):
    _, lib, ids = library_dir
    with open(lib / "small.wav", "ab") as handle:
        handle.write(b"\0" * 16)
    response = await timed(server.get(f"/api/v1/samples/{ids['small.wav']}/audio"))
    assert_error(response.status, await response.json(), 409, "changed since it was scanned",
                 "rescan")
    manifest, _ = await export_manifest(server, f"id:{ids['small.wav']}")
    assert not manifest["items"] and "rescan" in manifest["skipped"][0]["reason"]


async def test_a_fifo_in_place_of_a_file_blocks_no_thread(server, library_dir):
    _, lib, ids = library_dir
    (lib / "small.wav").unlink()
    os.mkfifo(lib / "small.wav")
    (lib / "targets" / "real.wav").unlink()
    os.mkfifo(lib / "targets" / "real.wav")  # and behind the symlink
    for _ in range(4):  # more than the request threads: none of them may be stuck in open()
        for name in ("small.wav", "link.wav"):
            response = await timed(server.get(f"/api/v1/samples/{ids[name]}/audio"))
            assert_error(response.status, await response.json(), 409, "no longer a regular file")
    manifest, _ = await export_manifest(server, f"id:{ids['small.wav']},{ids['link.wav']}")
    assert not manifest["items"] and len(manifest["skipped"]) == 2
    for path in ("/api/v1/samples", "/api/v1/stats"):
        assert (await timed(server.get(path))).status == 200


# -- defect 7: malformed requests are 400, never 500 -------------------------------------------


async def test_malformed_bodies_are_400_in_the_one_error_shape(server, library_dir):
    deep = b"[" * 100_000
    posts = ["/api/v1/scans", "/api/v1/ask", "/api/v1/suggestions", "/api/v1/exports",
             "/api/v1/tags", "/api/v1/describe"]
    for path in posts:
        for body in (deep, b'{"a":' * 50_000, b'{"x": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}"):
            response = await timed(server.post(path, data=body,
                                               headers={"Content-Type": "application/json"}))
            assert_error(response.status, await response.json(), 400)
    cases = [("/api/v1/scans", b'{"paths": ["/tmp/x\\ud800"]}', "surrogate"),
             ("/api/v1/ask", b'{"words": "\\ud800", "use_model": false}', "surrogate"),
             ("/api/v1/suggestions", b'{"k": 1e400}', "infinity"),
             ("/api/v1/suggestions", b'{"k": NaN}', ""),
             ("/api/v1/tags", b'{"tags": ["\xff\xfe"], "query": ""}', "UTF-8")]
    for path, body, words in cases:
        response = await timed(server.post(path, data=body,
                                           headers={"Content-Type": "application/json"}))
        assert_error(response.status, await response.json(), 400, words)


async def test_every_body_is_checked_against_its_routes_schema(server):
    """Each route with a JSON body refuses what its schema refuses (a wrong type, a missing
    or unknown field, out of range, too long) with 400 naming the field by JSON pointer,
    before the handler runs; the refusal is the one the schema the OpenAPI document shows
    makes."""
    doc = await (await server.get("/api/v1/openapi.json")).json()
    routes = [route for route in server.app[ROUTE_TABLE] if route.body is not None]
    assert {route.name for route in routes} >= {
        "sample_set", "tags_apply", "collection_save", "suggestions_apply", "ask",
        "describe_start", "export_create", "scans_start", "review_answer"}
    # A misspelt field is refused, never ignored ({"remvoe": true} would add the tags).
    assert [route.name for route in routes if route.body.get("additionalProperties") is not False
            and not route.own_body] == []
    for route in routes:
        documented = doc["paths"][route.path][route.method.lower()]["requestBody"]
        assert documented["content"]["application/json"]["schema"] == json.loads(
            json.dumps(route.body)), route.name
        path = route.path.replace("{id}", "1").replace("{name}", "x")
        for body, pointer in invalid_bodies(route.body):
            with pytest.raises(BodyError) as refused:  # the schema object itself refuses it
                check_body(route.body_check, body)
            response = await timed(server.request(route.method, path, json=body))
            data = await response.json()
            assert_error(response.status, data, 400, pointer)
            assert data["error"] == str(refused.value), (route.name, body)


def invalid_query_texts(schema: dict) -> list[str]:
    """Texts a query parameter's schema refuses."""
    kind = schema["type"]
    texts = {"integer": ["x", "1.5", " 7", "1_000", "\u0663", "1" * 5000],
             "number": ["x", "nan", "inf", " 1", "0_5", "\u0663", "1e99999"],
             "boolean": ["maybe"], "string": ["a\x00b"]}[kind]
    if "minimum" in schema:
        texts.append(str(schema["minimum"] - 1))
    if "maximum" in schema:
        texts.append(str(schema["maximum"] + 1))
    if "exclusiveMinimum" in schema:
        texts.append(str(schema["exclusiveMinimum"]))
    if "enum" in schema:
        texts.append("z" + schema["enum"][0])
    if "maxLength" in schema:
        texts.append("é" * (schema["maxLength"] + 1))
    return texts


async def test_every_query_parameter_is_checked_against_its_routes_schema(server):
    """Each query parameter is read by its declared schema, the one the OpenAPI document
    shows: a text of the wrong type, out of range or too long is 400 naming the parameter,
    before the handler runs, and a value at the schema's limit is taken."""
    doc = await (await server.get("/api/v1/openapi.json")).json()
    routes = [route for route in server.app[ROUTE_TABLE]
              if any(param.where == "query" for param in route.params)]
    assert {route.name for route in routes} >= {
        "samples_list", "sample_similar", "dupes", "map", "map_ids", "suggestions", "facets",
        "export_zip", "review_next"}
    for route in routes:
        documented = {param["name"]: param["schema"] for param in
                      doc["paths"][route.path][route.method.lower()].get("parameters", [])
                      if param["in"] == "query"}
        path = route.path.replace("{id}", "1")
        for param in (param for param in route.params if param.where == "query"):
            assert documented[param.name] == json.loads(json.dumps(param.schema)), route.name
            for text in invalid_query_texts(param.schema):
                with pytest.raises(UsageError) as refused:  # the declared schema refuses it
                    route.query_reader({param.name: text})
                assert str(refused.value).startswith(f"{param.name} "), str(refused.value)
                response = await timed(server.get(path, params={param.name: text}))
                assert response.content_type == "application/json", (route.name, param.name)
                data = await response.json()
                assert_error(response.status, data, 400)
                assert data["error"] == str(refused.value), (route.name, param.name, text)
            if "maxLength" in param.schema and "enum" not in param.schema:
                # The longest allowed text, all of it non-ASCII, reaches the app.
                longest = "é" * param.schema["maxLength"]
                assert route.query_reader({param.name: longest})[param.name] == longest
                response = await timed(server.get(path, params={param.name: longest}))
                assert response.content_type in ("application/json", "application/zip")
                if response.status >= 400:  # the handler's own refusal (an aspect, a query)
                    error = (await response.json())["error"]
                    assert not error.startswith(param.name + " is too long"), error
                await response.read()


async def test_the_longest_well_formed_request_line_fits_the_servers_limit():
    """Every route's query parameters at their schema's maxLength, percent-encoded at 12
    bytes a character (4-byte UTF-8), fit the request line `serve` accepts."""
    from samplemind.server import ROUTES
    from samplemind.server.app import MAX_REQUEST_LINE

    for route in ROUTES:
        query = [(param.name, param.schema.get("maxLength", 40)) for param in route.params
                 if param.where == "query"]
        line = (len(route.method) + len(route.path) + 64 + 30  # path ids, " HTTP/1.1"
                + sum(len(name) + 2 + 12 * longest for name, longest in query))
        assert line <= MAX_REQUEST_LINE, route.name


async def test_a_long_unknown_path_is_a_short_404(server):
    response = await timed(server.get("/api/v1/" + "x" * 60_000))
    data = await response.json()
    assert_error(response.status, data, 404, "no such route")
    assert len(data["error"]) < 400


async def test_bounded_aspect_weights_and_odd_query_text(server, library_dir):
    _, _, ids = library_dir
    sample = ids["small.wav"]
    for aspect in ("timbre=1e308,pitch=1e308", "timbre=-1", "timbre=nan", "timbre=inf",
                   ",".join(["timbre=1"] * 100)):
        response = await timed(server.get(f"/api/v1/samples/{sample}/similar",
                                          params={"aspect": aspect}))
        assert_error(response.status, await response.json(), 400, "aspect" if "," in aspect
                     and "1e308" not in aspect else "weight")
    # Undecodable or surrogate text in a query string is never a 500.
    for raw in ("q=%ED%A0%80", "q=%FF%FE", "q=cat%3Akick%00", "cursor=%ED%A0%80"):
        response = await timed(server.get(f"/api/v1/samples?{raw}"))
        assert response.status < 500, await response.text()


@pytest.mark.slow
async def test_the_cli_refuses_huge_aspect_weights_with_exit_2(library_dir):
    home, lib, _ = library_dir
    result = run_cli("similar", str(lib / "small.wav"), "--aspect", "timbre=1e308,pitch=1e308",
                     home=home, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "at most" in result.stderr or "from 0 to 100" in result.stderr


# -- defect 12: uploads ------------------------------------------------------------------------


def multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"XyZzY") -> bytes:
    """A multipart/form-data body from (part headers, content) pairs, bytes as they are."""
    out = b""
    for headers, content in parts:
        out += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


async def chunked(data: bytes):
    """A body without Content-Length: only what is read can be counted."""
    for start in range(0, len(data), 256 * 1024):
        yield data[start:start + 256 * 1024]


async def test_form_fields_count_toward_the_upload_limit(server_for, library_dir):
    home, lib, _ = library_dir
    client = await server_for(home, max_upload_bytes=1024 * 1024)
    upload_dir = Path(client.app[CONTEXT].upload_dir)
    body = multipart([(b'Content-Disposition: form-data; name="notes"', b"x" * (3 * 1024 * 1024)),
                      (b'Content-Disposition: form-data; name="file"; filename="a.wav"',
                       (lib / "small.wav").read_bytes())])
    response = await timed(client.post(
        "/api/v1/uploads", data=chunked(body),
        headers={"Content-Type": "multipart/form-data; boundary=XyZzY"}))
    assert_error(response.status, await response.json(), 413, "form fields")
    assert list(upload_dir.iterdir()) == []
    many = multipart([(b'Content-Disposition: form-data; name="f%d"' % i, b"1") for i in range(500)])
    response = await timed(client.post("/api/v1/uploads", data=many,
                                       headers={"Content-Type": "multipart/form-data; boundary=XyZzY"}))
    assert_error(response.status, await response.json(), 400, "too many parts")


async def test_an_upload_name_of_raw_bytes_is_taken_and_answered_as_json(server, library_dir):
    _, lib, _ = library_dir
    body = multipart([(b'Content-Disposition: form-data; name="file"; filename="\xff\xfe.wav"',
                       (lib / "small.wav").read_bytes())])
    response = await timed(server.post("/api/v1/uploads", data=body,
                                       headers={"Content-Type": "multipart/form-data; boundary=XyZzY"}))
    data = await response.json()
    assert response.status == 202, data
    assert data["params"]["files"][0].endswith(".wav")
    assert data["params"]["files"][0].encode("utf-8")  # valid UTF-8: no surrogates


async def test_an_interrupted_upload_leaves_nothing_behind(server, library_dir):
    _, lib, _ = library_dir
    upload_dir = Path(server.app[CONTEXT].upload_dir)
    head = multipart([(b'Content-Disposition: form-data; name="file"; filename="half.wav"',
                       (lib / "big_0.wav").read_bytes())])
    request = (b"POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: multipart/form-data; boundary=XyZzY\r\n"
               b"Content-Length: %d\r\n\r\n" % len(head))
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, (server.server.host, server.server.port))
    await loop.sock_sendall(sock, request + head[:len(head) // 2])  # then the client is gone
    await wait_for(lambda: any(upload_dir.iterdir()), "the upload begun on disk")
    sock.close()
    await wait_for(lambda: not any(upload_dir.iterdir()), "the half upload removed")
    jobs = await (await timed(server.get("/api/v1/jobs"))).json()
    assert jobs["jobs"] == []


@pytest.mark.slow
async def test_naming_every_file_alike_costs_linear_time() -> None:
    """A pattern that names every file alike ("x") numbers them x, x_2, x_3, ...; each name
    is found without trying every number below it again (50,000 records took quadratic time,
    over a billion tries). The ceiling is generous: the linear planner needs about a second."""
    records = [{"id": i, "path": f"/lib/{i}.wav", "name": f"{i}.wav"} for i in range(50_000)]
    started = time.process_time()
    targets = [item.target for item in plan_export(records, "x")]
    assert time.process_time() - started < 60
    assert targets[:3] == ["x.wav", "x_2.wav", "x_3.wav"] and targets[-1] == "x_50000.wav"
    assert len(set(targets)) == len(targets)


async def test_head_of_an_export_checks_it_but_sends_no_zip(server):
    response = await timed(server.head("/api/v1/export"))
    assert response.status == 200 and response.headers["Content-Type"] == "application/zip"
    assert await response.read() == b""
    response = await timed(server.head("/api/v1/export", params={"pattern": "{name:>999}"}))
    assert response.status == 400


# -- the second review: F4-F12 ------------------------------------------------------------------


def all_strings(value):
    """Every string in decoded JSON, keys too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_strings(item)


async def test_websocket_events_are_valid_utf8_with_b64_siblings(server_for, library_dir,
                                                                 tmp_path: Path):
    """F4: a job event about a file name of raw bytes is encoded like every HTTP answer:
    valid UTF-8 (\\xff written out) with a path_b64 sibling, never a lone surrogate."""
    home = library_dir[0]
    folder = tmp_path / "latin1"
    folder.mkdir()
    raw_name = os.fsencode(folder) + b"/n\xff.wav"
    with open(raw_name, "wb") as handle:
        handle.write((library_dir[1] / "small.wav").read_bytes())
    client = await server_for(home, scan_roots=(str(folder),))
    ws = await client.ws_connect("/api/v1/ws")
    try:
        texts = [(await timed(ws.receive())).data]  # hello
        response = await timed(client.post("/api/v1/scans", json={"paths": [str(folder)]}))
        assert response.status == 202, await response.text()
        job_id = (await response.json())["id"]
        done = None
        while done is None:
            text = (await asyncio.wait_for(ws.receive(), 120)).data
            texts.append(text)
            event = json.loads(text)
            if (event["type"] == "job" and event["data"]["id"] == job_id
                    and event["data"]["status"] in ("done", "failed", "cancelled")):
                done = event["data"]
    finally:
        await ws.close()
    for text in texts:
        decoded = json.loads(text)
        for string in all_strings(decoded):
            string.encode("utf-8")  # a lone surrogate raises here
    warnings = [w for w in done["result"]["warnings"] if isinstance(w, dict) and "path" in w]
    assert warnings, done["result"]
    assert warnings[0]["path"].endswith("n\\xff.wav")
    assert base64.b64decode(warnings[0]["path_b64"]) == raw_name
    # The same job over HTTP says the same.
    answer = await (await timed(client.get(f"/api/v1/jobs/{job_id}"))).json()
    assert answer["result"]["warnings"] == done["result"]["warnings"]


async def bound_get(client, path: str, source: str):
    """GET from another loopback source address (127.0.0.x), reading the whole body."""
    import aiohttp

    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"http://{client.server.host}:{client.server.port}{path}"
        async with session.get(url) as response:
            return response.status, await response.read()


async def test_open_access_bounds_downloads_per_client_address(library_dir, aiohttp_client,
                                                               tmp_path: Path):
    """F5: without accounts everyone is the local admin; the per-user bound is per client
    address then, so stalled sockets from one address do not block another's zips."""
    from samplemind.accounts import AccountStore
    from samplemind.server.app import ROUTE_ROLES
    from samplemind.server.auth import install_security

    home, _, ids = library_dir
    store = AccountStore(tmp_path / "accounts")
    app = make_app(home, config=ServerConfig(threads=2, record_cache_mb=0,
                                             max_downloads_each=2, write_timeout=600),
                   security=lambda app: install_security(app, store, route_roles=ROUTE_ROLES,
                                                         open_access=True))
    client = await aiohttp_client(app)
    async with stalled_downloads(client, "/api/v1/export", 2):
        status, body = await timed(bound_get(client, "/api/v1/export?q=id:"
                                             f"{ids['small.wav']}", "127.0.0.2"))
        assert status == 200, body[:300]
        assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
        status, body = await timed(bound_get(client, "/api/v1/export", "127.0.0.1"))
        assert status == 503, body[:300]
        assert "downloads streaming" in json.loads(body)["error"]


async def test_only_same_origin_or_no_fetch_site_may_start_an_export(server_for, library_dir):
    """F7: a page on another port of localhost is same-site, not same-origin: refused."""
    home, _, ids = library_dir
    client = await server_for(home, allow_origins=("http://localhost:3000",))
    query = {"q": f"id:{ids['small.wav']}"}
    created = await (await timed(client.post("/api/v1/exports", json={"query": query["q"]}))).json()
    for site in ("same-site", "cross-site", "SAME-SITE", "bogus"):
        for path, params in (("/api/v1/export", query), (created["url"], None)):
            response = await timed(client.get(path, params=params,
                                              headers={"Sec-Fetch-Site": site}))
            assert_error(response.status, await response.json(), 403, "Sec-Fetch-Site")
    for headers in ({}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"},
                    {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:3000"},
                    {"Sec-Fetch-Site": "same-site", "Referer": "http://localhost:3000/ui/x"}):
        response = await timed(client.get("/api/v1/export", params=query, headers=headers))
        assert response.status == 200, (headers, await response.text())
        await response.read()
    response = await timed(client.get(created["url"], headers={"Sec-Fetch-Site": "same-origin"}))
    assert response.status == 200
    await response.read()
    # A Referer of a foreign page does not help.
    response = await timed(client.get("/api/v1/export", params=query, headers={
        "Sec-Fetch-Site": "same-site", "Referer": "http://localhost:9999/evil"}))
    assert response.status == 403


async def test_an_origin_or_referer_that_is_no_url_is_refused_not_a_500(server):
    for headers in ({"Sec-Fetch-Site": "same-site", "Referer": "http://["},
                    {"Origin": "http://["}):
        response = await timed(server.get("/api/v1/export", headers=headers))
        assert_error(response.status, await response.json(), 403)
    response = await timed(server.post("/api/v1/tags", json={"query": "", "tags": ["x"]},
                                       headers={"Origin": "http://["}))
    assert_error(response.status, await response.json(), 403)


async def test_a_swapped_symlink_does_not_tell_where_it_points(server, library_dir,
                                                               tmp_path: Path):
    """F10: the 403 names the sample, not the target of the link."""
    _, lib, ids = library_dir
    real = lib / "targets" / "real.wav"
    secret = tmp_path / "secret" / "big.bin"
    secret.parent.mkdir()
    secret.write_bytes(b"S" * os.path.getsize(real))
    os.utime(secret, ns=(0, os.stat(real).st_mtime_ns))
    (lib / "link.wav").unlink()
    (lib / "link.wav").symlink_to(secret)
    response = await timed(server.get(f"/api/v1/samples/{ids['link.wav']}/audio"))
    data = await response.json()
    assert_error(response.status, data, 403, "outside the scanned folders")
    assert str(secret.parent) not in data["error"] and "big.bin" not in data["error"]
    manifest, _ = await export_manifest(server, f"id:{ids['link.wav']}")
    assert "big.bin" not in json.dumps(manifest)


def loud_records(caplog) -> list:
    """Log records a client can cause that would flood a log: warnings or worse, or any
    record with a traceback."""
    return [record for record in caplog.records
            if record.levelno >= logging.WARNING or record.exc_info]


@pytest_asyncio.fixture
async def served(library_dir):
    """The app run as `samplemind serve` runs it (web.run_app's runner: a handler is not
    cancelled when its client leaves, it sees the lost connection); yields (host, port, app).
    aiohttp's test server cancels handlers instead, which hides what serve logs."""
    from aiohttp import web

    app = make_app(library_dir[0], config=ServerConfig(threads=2, record_cache_mb=0))
    runner = web.AppRunner(app, access_log=None, handler_cancellation=False, **RUNNER_OPTIONS)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield host, port, app
    finally:
        await runner.cleanup()


async def raw_get(host: str, port: int, target: str) -> bytes:
    """Send one GET as bytes and read the answer until the server closes."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                 .encode())
    answer = await timed(reader.read())
    writer.close()
    return answer


async def test_a_client_that_leaves_mid_upload_logs_no_traceback(served, library_dir, caplog):
    """F11: a dropped upload is not a server error: at most one quiet line, no traceback."""
    caplog.set_level(logging.DEBUG)
    host, port, app = served
    lib = library_dir[1]
    upload_dir = Path(app[CONTEXT].upload_dir)
    head = multipart([(b'Content-Disposition: form-data; name="file"; filename="half.wav"',
                       (lib / "big_0.wav").read_bytes())])
    request = (b"POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: multipart/form-data; boundary=XyZzY\r\n"
               b"Content-Length: %d\r\n\r\n" % len(head))
    loop = asyncio.get_running_loop()
    for _ in range(3):
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await loop.sock_sendall(sock, request + head[:len(head) // 2])
        await wait_for(lambda: any(upload_dir.iterdir()), "the upload begun on disk")
        sock.close()
        await wait_for(lambda: not any(upload_dir.iterdir()), "the half upload removed")
    # The server still answers, and said nothing loud about the three clients that left.
    assert b" 200 " in (await raw_get(host, port, "/api/v1/stats")).split(b"\r\n")[0]
    assert loud_records(caplog) == [], [r.getMessage() for r in loud_records(caplog)]
    assert [r for r in caplog.records if "client" in r.getMessage()
            and r.name.startswith("samplemind")], "no line at all about the clients that left"


async def test_an_overlong_request_line_is_a_quiet_400(served, caplog):
    """F11: a URL over aiohttp's 8,190-byte line limit is answered 400 and logged without a
    traceback. (The body is aiohttp's own plain text: it offers no hook for parse errors.)"""
    caplog.set_level(logging.DEBUG)
    host, port, _ = served
    for _ in range(3):
        answer = await raw_get(host, port, "/api/v1/samples?q=" + "a" * 9000)
        assert b" 400 " in answer.split(b"\r\n")[0], answer[:200]
    assert b" 200 " in (await raw_get(host, port, "/api/v1/stats")).split(b"\r\n")[0]
    assert loud_records(caplog) == [], [r.getMessage() for r in loud_records(caplog)]


async def test_upload_names_lose_every_control_and_invisible_character(server, library_dir):
    """F12: Unicode categories Cc, Cf, Zl, Zp are removed from upload names (C1 controls such
    as U+0085, zero-width spaces, soft hyphens, line separators, bidi controls)."""
    _, lib, _ = library_dir
    upload_dir = Path(server.app[CONTEXT].upload_dir)
    sent = "b\u0085x\u0080y\u200bz\u00ad\u2028w\u2029\u202ev\u2066u\ufeff\u009f.wav"
    body = multipart([(b'Content-Disposition: form-data; name="file"; filename="'
                       + sent.encode("utf-8") + b'"', (lib / "small.wav").read_bytes())])
    response = await timed(server.post(
        "/api/v1/uploads", data=body,
        headers={"Content-Type": "multipart/form-data; boundary=XyZzY"}))
    data = await response.json()
    assert response.status == 202, data
    assert data["params"]["files"] == ["bxyzwvu.wav"]
    assert [p.name for p in upload_dir.iterdir() if not p.name.startswith(".")] == ["bxyzwvu.wav"]

