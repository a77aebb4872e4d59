"""samplemind serve: the HTTP API against a real app over a real scanned catalog."""

from __future__ import annotations

import asyncio
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import FormData, web
from server_fixtures import build_catalog, copy_home, private_pack, wait_job

from samplemind import Library
from samplemind.models import CORRECTABLE_FIELDS, RECORD_FIELDS, SCHEMA_VERSION
from samplemind.server import ROUTE_ROLES, ROUTES, ServerConfig, make_app

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(home, pack): the demo pack scanned once for this module; tests only read it."""
    return build_catalog(tmp_path_factory.mktemp("server"))


@pytest.fixture
def home(catalog: tuple[Path, Path]) -> Path:
    return catalog[0]


@pytest.fixture
def pack(catalog: tuple[Path, Path]) -> Path:
    return catalog[1]


@pytest.fixture
def client_for(aiohttp_client):
    """Make a test client for an app over a home, with optional config."""

    async def make(home: Path, **config):
        return await aiohttp_client(make_app(home, config=ServerConfig(**config)))

    return make


@pytest_asyncio.fixture
async def client(client_for, home: Path):
    return await client_for(home)


@pytest.fixture
def own_home(catalog: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the catalog, for tests that change it."""
    return copy_home(catalog[0], tmp_path / "own")


def assert_error(data: dict, status: int) -> None:
    assert data["ok"] is False and data["status"] == status and data["error"]


async def ids_of(client, query: str) -> list[int]:
    response = await client.get("/api/v1/samples", params={"q": query, "limit": "1000"})
    assert response.status == 200
    return [s["id"] for s in (await response.json())["samples"]]


# -- samples: list, one, pagination, ETag, gzip ---------------------------------------------


@pytest.mark.slow
async def test_list_pages_through_every_sample_with_a_cursor(client):
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "10", **({"cursor": cursor} if cursor else {})}
        data = await (await client.get("/api/v1/samples", params=params)).json()
        assert data["schema_version"] == 1 and data["count"] == len(data["samples"]) <= 10
        seen.extend(sample["id"] for sample in data["samples"])
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 48 and pages == 5
    everything = await (await client.get("/api/v1/samples", params={"limit": "1000"})).json()
    assert [s["id"] for s in everything["samples"]] == seen  # same order as one big page


@pytest.mark.slow
async def test_query_and_its_limit_apply_across_pages(client):
    kicks = await ids_of(client, "cat:kick")
    assert kicks
    first = await (await client.get("/api/v1/samples",
                                    params={"q": "cat:kick", "limit": "1"})).json()
    assert [s["id"] for s in first["samples"]] == kicks[:1] and first["next_cursor"]
    rest = await (await client.get("/api/v1/samples", params={
        "q": "cat:kick", "limit": "100", "cursor": first["next_cursor"]})).json()
    assert [s["id"] for s in rest["samples"]] == kicks[1:]
    capped = await ids_of(client, "cat:kick limit:2")
    assert capped == kicks[:2]
    # A query's limit caps the whole listing, page by page.
    first = await (await client.get("/api/v1/samples", params={
        "q": "sort:name- limit:5", "limit": "3", "total": "true"})).json()
    second = await (await client.get("/api/v1/samples", params={
        "q": "sort:name- limit:5", "limit": "3", "cursor": first["next_cursor"]})).json()
    names = [s["name"] for s in first["samples"] + second["samples"]]
    assert first["total"] == 5 and len(names) == 5 and second["next_cursor"] is None
    assert names == sorted(names, reverse=True)
    assert "total" not in second  # only when asked


async def test_total_counts_the_whole_query(client):
    kicks = await ids_of(client, "cat:kick")
    data = await (await client.get("/api/v1/samples", params={
        "q": "cat:kick", "limit": "1", "total": "true"})).json()
    assert data["total"] == len(kicks) and data["count"] == 1
    everything = await (await client.get("/api/v1/samples", params={"total": "1"})).json()
    assert everything["total"] == 48


async def test_bad_cursor_limit_and_query_are_400(client):
    for params in ({"cursor": "garbage!"}, {"limit": "0"}, {"limit": "x"}, {"limit": "100000"},
                   {"q": "bmp:120"}, {"q": "cat:kick", "cursor": "eyJvIjoxLCJxIjoiIn0"}):
        response = await client.get("/api/v1/samples", params=params)
        assert response.status == 400, params
        assert_error(await response.json(), 400)


async def test_one_sample_has_the_full_record(client, pack: Path):
    data = await (await client.get("/api/v1/samples/1")).json()
    assert data["id"] == 1 and data["schema_version"] == 1
    assert data["path"].startswith(str(pack)) and "tags" in data and "peaks" not in data


async def test_missing_and_malformed_ids_are_404(client):
    for path in ("/api/v1/samples/99999", "/api/v1/samples/abc", "/api/v1/samples/-1",
                 "/api/v1/samples/99999999999999999999999", "/api/v1/samples/99999/similar",
                 "/api/v1/samples/99999/peaks", "/api/v1/samples/99999/audio"):
        response = await client.get(path)
        assert response.status == 404, path
        assert_error(await response.json(), 404)


async def test_etag_gives_304_when_nothing_changed(client):
    for path in ("/api/v1/samples/1", "/api/v1/samples?q=cat:kick", "/api/v1/samples/1/peaks"):
        first = await client.get(path)
        etag = first.headers["ETag"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status == 304 and await again.read() == b""
        other = await client.get(path, headers={"If-None-Match": 'W/"something-else"'})
        assert other.status == 200


async def test_large_bodies_are_gzipped_when_asked(client):
    zipped = await client.get("/api/v1/samples?limit=20", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert (await zipped.json())["count"] == 20  # the client decompresses
    plain = await client.get("/api/v1/samples?limit=20", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    small = await client.get("/health/live", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers


# -- similar, peaks, dupes, map, figures ---------------------------------------------------------


async def test_similar_returns_k_hits_with_filters(client):
    data = await (await client.get("/api/v1/samples/1/similar", params={"k": "5"})).json()
    hits = data["hits"]
    assert len(hits) == 5 and 1 not in [h["id"] for h in hits]
    assert all(0 <= h["score"] <= 1 for h in hits)
    loops = await (await client.get("/api/v1/samples/1/similar",
                                    params={"k": "3", "type": "loop"})).json()
    assert all(h["type"] == "loop" for h in loops["hits"])
    weighted = await client.get("/api/v1/samples/1/similar",
                                params={"aspect": "timbre=2,pitch=0", "q": "-cat:kick"})
    assert weighted.status == 200
    for params in ({"k": "0"}, {"aspect": "nonsense=3"}, {"type": "drums"}, {"q": "bmp:1"}):
        response = await client.get("/api/v1/samples/1/similar", params=params)
        assert response.status == 400, params
        assert_error(await response.json(), 400)


async def test_peaks_are_min_max_pairs(client):
    data = await (await client.get("/api/v1/samples/1/peaks")).json()
    assert data["buckets"] == len(data["peaks"]) > 0
    assert all(-1.01 <= low <= high <= 1.01 for low, high in data["peaks"])


async def test_dupes_map_tags_stats_index_failures_cache(client):
    dupes = await (await client.get("/api/v1/dupes", params={"threshold": "1"})).json()
    assert "groups" in dupes
    points = (await (await client.get("/api/v1/map")).json())["points"]
    assert len(points["id"]) == 48 and {"x", "y", "id", "category"} <= set(points)
    assert "tags" in await (await client.get("/api/v1/tags")).json()
    stats = await (await client.get("/api/v1/stats")).json()
    assert stats["samples"] == 48
    assert (await (await client.get("/api/v1/index")).json())["count"] == 48
    assert (await (await client.get("/api/v1/failures")).json())["failures"] == []
    assert (await (await client.get("/api/v1/cache")).json())["entries"] >= 48
    assert (await client.get("/api/v1/suggestions")).status == 200
    bad = await client.get("/api/v1/dupes", params={"threshold": "99"})
    assert bad.status == 400


# -- audio with Range ------------------------------------------------------------------------------


async def _wav(client) -> tuple[int, bytes]:
    sample = (await (await client.get("/api/v1/samples", params={"q": "fmt:wav limit:1"})).json())
    record = sample["samples"][0]
    return record["id"], Path(record["path"]).read_bytes()


async def test_audio_whole_file_with_type_and_accept_ranges(client):
    sample_id, data = await _wav(client)
    response = await client.get(f"/api/v1/samples/{sample_id}/audio")
    assert response.status == 200
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "audio/wav"
    assert int(response.headers["Content-Length"]) == len(data)
    assert await response.read() == data
    head = await client.head(f"/api/v1/samples/{sample_id}/audio")
    assert head.status == 200 and int(head.headers["Content-Length"]) == len(data)
    etag = response.headers["ETag"]
    cached = await client.get(f"/api/v1/samples/{sample_id}/audio", headers={"If-None-Match": etag})
    assert cached.status == 304


async def test_audio_ranges_first_bytes_suffix_open_ended(client):
    sample_id, data = await _wav(client)
    size = len(data)
    url = f"/api/v1/samples/{sample_id}/audio"
    for header, first, last in (("bytes=0-99", 0, 99), ("bytes=-100", size - 100, size - 1),
                                ("bytes=1000-", 1000, size - 1),
                                (f"bytes=10-{size + 500}", 10, size - 1)):
        response = await client.get(url, headers={"Range": header})
        assert response.status == 206, header
        assert response.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert await response.read() == data[first:last + 1]
    stale = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status == 200 and len(await stale.read()) == size
    since = await client.get(url, headers={"If-Modified-Since": response.headers["Last-Modified"]})
    assert since.status == 304


async def test_audio_several_ranges_are_multipart_byteranges(client):
    sample_id, data = await _wav(client)
    size = len(data)
    url = f"/api/v1/samples/{sample_id}/audio"
    response = await client.get(url, headers={"Range": "bytes=0-1, 100-199, -10"})
    assert response.status == 206 and "Content-Range" not in response.headers
    mime, _, boundary = response.headers["Content-Type"].partition("; boundary=")
    assert mime == "multipart/byteranges" and boundary
    body = await response.read()
    assert int(response.headers["Content-Length"]) == len(body)
    # RFC 9110 14.6 / RFC 2046 5.1: parts between "--boundary" lines, "--boundary--" at the end.
    segments = (b"\r\n" + body).split(b"\r\n--" + boundary.encode())
    assert segments[0] == b"" and segments[-1] == b"--\r\n"
    parts = []
    for segment in segments[1:-1]:
        head, _, content = segment.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((fields["Content-Range"], fields["Content-Type"], content))
    assert parts == [(f"bytes 0-1/{size}", "audio/wav", data[0:2]),
                     (f"bytes 100-199/{size}", "audio/wav", data[100:200]),
                     (f"bytes {size - 10}-{size - 1}/{size}", "audio/wav", data[-10:])]
    # Overlapping or touching ranges are merged: one part, a plain 206.
    merged = await client.get(url, headers={"Range": "bytes=0-9,5-19,20-29"})
    assert merged.status == 206 and merged.headers["Content-Range"] == f"bytes 0-29/{size}"
    assert await merged.read() == data[:30]
    # Parts outside the file are left out; none inside is a 416.
    partly = await client.get(url, headers={"Range": f"bytes=0-3,{size + 10}-"})
    assert partly.status == 206 and await partly.read() == data[:4]
    outside = await client.get(url, headers={"Range": f"bytes={size}-,{size + 5}-"})
    assert outside.status == 416
    # Malformed, not bytes, or a scan of the file in many parts: ignored, the whole file.
    many = ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(17))
    for header in ("bytes=5-1", "items=0-1", "bytes=a-b", f"bytes={many}"):
        whole = await client.get(url, headers={"Range": header})
        assert whole.status == 200 and await whole.read() == data, header


async def test_audio_unsatisfiable_range_is_416(client):
    sample_id, data = await _wav(client)
    response = await client.get(f"/api/v1/samples/{sample_id}/audio",
                                headers={"Range": f"bytes={len(data)}-"})
    assert response.status == 416
    assert response.headers["Content-Range"] == f"bytes */{len(data)}"
    assert_error(await response.json(), 416)


async def test_audio_of_a_file_gone_from_disk_is_404(client_for, catalog, tmp_path: Path):
    home, folder = private_pack(*catalog, tmp_path, ["Bass/bass_A1.wav"])
    client = await client_for(home)
    sample_id = (await ids_of(client, f"path:{folder}"))[0]
    (folder / "bass_A1.wav").unlink()
    response = await client.get(f"/api/v1/samples/{sample_id}/audio")
    assert response.status == 404
    assert "gone from disk" in (await response.json())["error"]


# -- export ------------------------------------------------------------------------------------------


async def test_export_streams_a_zip_kit_with_a_manifest(client):
    kicks = await ids_of(client, "cat:kick")
    response = await client.get("/api/v1/export", params={"q": "cat:kick", "name": "my kit"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert 'filename="my_kit.zip"' in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    names = archive.namelist()
    assert "samplemind-export.json" in names
    manifest = json.loads(archive.read("samplemind-export.json"))
    assert sorted(item["id"] for item in manifest["items"]) == sorted(kicks)
    assert archive.testzip() is None


async def test_export_errors_before_the_first_byte_are_json(client):
    for params, status in (({"q": "cat:nothing-like-this"}, 404), ({"q": "bmp:1"}, 400),
                           ({"pattern": "/abs/{name}"}, 400)):
        response = await client.get("/api/v1/export", params=params)
        assert response.status == status, params
        assert_error(await response.json(), status)


# -- tags, corrections, collections, forget -------------------------------------------------------------


async def test_tags_add_and_remove_by_ids_and_query(client_for, own_home: Path):
    client = await client_for(own_home)
    kicks = await ids_of(client, "cat:kick")
    response = await client.post("/api/v1/tags", json={"ids": kicks[:2], "tags": ["dark"]})
    assert response.status == 200 and (await response.json())["samples"] == 2
    assert await ids_of(client, "tag:dark") == kicks[:2]
    response = await client.post("/api/v1/tags", json={"query": "cat:kick", "tags": ["punchy"]})
    assert (await response.json())["samples"] == len(kicks)
    tags = {t["tag"]: t["count"] for t in (await (await client.get("/api/v1/tags")).json())["tags"]}
    assert tags["dark"] == 2 and tags["punchy"] == len(kicks)
    await client.post("/api/v1/tags", json={"ids": kicks[:1], "tags": ["dark"], "remove": True})
    assert await ids_of(client, "tag:dark") == kicks[1:2]
    for body in ({"tags": ["x"]}, {"ids": [1], "query": "a", "tags": ["x"]}, {"ids": [1]},
                 {"ids": ["1"], "tags": ["x"]}, {"ids": [1], "tags": []}, {"ids": [99999], "tags": ["x"]}):
        response = await client.post("/api/v1/tags", json=body)
        assert response.status in (400, 404), body
        assert_error(await response.json(), response.status)


async def test_set_corrects_fields_with_source_user(client_for, own_home: Path):
    client = await client_for(own_home)
    response = await client.patch("/api/v1/samples/1", json={"bpm": 123, "category": "fx"})
    data = await response.json()
    assert response.status == 200 and data["bpm"] == 123 and data["bpm_source"] == "user"
    assert data["category"] == "fx"
    for body in ({"path": "/etc/passwd"}, {}, {"bpm": [1]}, {"key": "H minor"}, {"bpm": True}):
        response = await client.patch("/api/v1/samples/1", json=body)
        assert response.status == 400, body
        assert_error(await response.json(), 400)
    cleared = await (await client.patch("/api/v1/samples/1", json={"bpm": None})).json()
    assert cleared["bpm_source"] != "user"
    # Every correctable field of the core's one list, chord too (the UI offers it), and the UI
    # reads the list from the server.
    schema = await (await client.get("/api/v1/schema")).json()
    assert schema["correctable"] == list(CORRECTABLE_FIELDS) and "chord" in schema["correctable"]
    assert schema["fields"] == list(RECORD_FIELDS) and schema["schema_version"] == SCHEMA_VERSION
    chord = await (await client.patch("/api/v1/samples/1", json={"chord": "Am7"})).json()
    assert chord["chord_source"] == "user", chord
    refused = await (await client.patch("/api/v1/samples/1", json={"path": "x", "zz": 1})).json()
    assert "/path, /zz" in refused["error"] and "chord" in refused["error"]


async def test_collections_save_list_use_delete(client_for, own_home: Path):
    client = await client_for(own_home)
    saved = await client.put("/api/v1/collections/kicks", json={"query": "cat:kick"})
    assert saved.status == 200 and (await saved.json())["count"] > 0
    names = [c["name"] for c in (await (await client.get("/api/v1/collections")).json())["collections"]]
    assert names == ["kicks"]
    assert await ids_of(client, "@kicks") == await ids_of(client, "cat:kick")
    assert (await client.put("/api/v1/collections/bad", json={"query": "bmp:1"})).status == 400
    assert (await client.delete("/api/v1/collections/kicks")).status == 200
    assert (await client.delete("/api/v1/collections/kicks")).status == 404


async def test_forget_keeps_the_file_and_file_delete_needs_allow_delete(client_for, catalog,
                                                                         tmp_path: Path):
    home, folder = private_pack(*catalog, tmp_path, ["Bass/bass_A1.wav", "Bass/bass_C2.flac"])
    client = await client_for(home)
    first, second = await ids_of(client, f"path:{folder}")
    assert (await client.delete(f"/api/v1/samples/{first}")).status == 200
    assert (await client.get(f"/api/v1/samples/{first}")).status == 404
    assert len(list(folder.iterdir())) == 2  # the file stays
    refused = await client.delete(f"/api/v1/samples/{second}/file")
    assert refused.status == 403 and "--allow-delete" in (await refused.json())["error"]
    allowed = await client_for(home, allow_delete=True)
    response = await allowed.delete(f"/api/v1/samples/{second}/file")
    assert response.status == 200 and (await response.json())["file_deleted"] is True
    assert not (folder / "bass_C2.flac").exists()


# -- scans, uploads, jobs --------------------------------------------------------------------------------


async def test_scans_only_under_known_roots_or_scan_roots(client_for, catalog, tmp_path: Path):
    home, folder = private_pack(*catalog, tmp_path, ["Bass/bass_A1.wav"])
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    client = await client_for(home)
    for body, status in (({"paths": [str(outside)]}, 403), ({"paths": ["relative/dir"]}, 400),
                         ({"paths": [str(folder / "nope")]}, 404), ({"paths": []}, 400),
                         ({"paths": [str(folder / ".." / "elsewhere")]}, 403), ({}, 400),
                         ({"paths": "/"}, 400), ({"paths": ["/"]}, 403)):
        response = await client.post("/api/v1/scans", json=body)
        assert response.status == status, body
        assert_error(await response.json(), status)
    (outside / "x").symlink_to(folder)  # a link into a root is fine; one out of it is not
    response = await client.post("/api/v1/scans", json={"paths": [str(folder)]})
    assert response.status == 202 and response.headers["Location"].startswith("/api/v1/jobs/")
    job = await wait_job(client, (await response.json())["id"])
    assert job["status"] == "done" and job["result"]["seen"] == 1
    rooted = await client_for(home, scan_roots=(str(outside),))
    response = await rooted.post("/api/v1/scans", json={"paths": [str(outside)]})
    assert response.status == 202


async def test_upload_is_stored_sanitised_and_analysed(client_for, own_home: Path, pack: Path,
                                                      tmp_path: Path):
    uploads = tmp_path / "uploads"
    client = await client_for(own_home, upload_dir=uploads)
    data = (pack / "Bass" / "bass_A1.wav").read_bytes()
    form = FormData(quote_fields=False)  # as browsers send names: not percent-encoded
    form.add_field("file", data, filename="../../etc/\u202eevil:.WAV",
                   content_type="audio/wav")
    form.add_field("file", data, filename="CON.wav", content_type="audio/wav")
    form.add_field("comment", "ignored")
    response = await client.post("/api/v1/uploads", data=form)
    assert response.status == 202, await response.text()
    job = await wait_job(client, (await response.json())["id"])
    assert job["status"] == "done", job
    names = sorted(path.name for path in uploads.iterdir())
    assert names == ["_CON.wav", "evil_.wav"]
    assert all(entry["id"] for entry in job["result"]["files"])
    sample = await (await client.get(f"/api/v1/samples/{job['result']['files'][0]['id']}")).json()
    assert sample["path"].startswith(str(uploads))
    again = FormData()
    again.add_field("file", data, filename="evil_.wav")
    job = await wait_job(client, (await (await client.post("/api/v1/uploads", data=again)).json())["id"])
    assert job["result"]["files"][0]["name"] == "evil__2.wav"  # never replaces a file


async def test_bad_uploads_are_refused_or_fail_cleanly(client_for, own_home: Path, tmp_path: Path):
    uploads = tmp_path / "uploads"
    client = await client_for(own_home, upload_dir=uploads, max_upload_bytes=20_000)
    cases = [("evil.exe", b"MZ" * 10, 415), ("empty.wav", b"", 400),
             ("big.wav", b"\0" * 30_000, 413)]
    for name, data, status in cases:
        form = FormData()
        form.add_field("file", data, filename=name)
        response = await client.post("/api/v1/uploads", data=form)
        assert response.status == status, name
        assert_error(await response.json(), status)

    async def chunks():  # no Content-Length: the limit is enforced while streaming
        yield b"x" * 10

    streamed = await client.post("/api/v1/uploads", data=chunks(),
                                 headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert streamed.status == 400
    big = FormData()
    big.add_field("file", io.BytesIO(b"\0" * 40_000), filename="big2.wav")
    response = await client.post("/api/v1/uploads", data=big, chunked=True)
    assert response.status == 413
    assert (await client.post("/api/v1/uploads", json={"a": 1})).status == 415
    assert list(uploads.iterdir()) == []  # nothing left behind, no partial files
    not_audio = FormData()
    not_audio.add_field("file", b"this is not audio at all" * 10, filename="fake.wav")
    response = await client.post("/api/v1/uploads", data=not_audio)
    assert response.status == 202
    job = await wait_job(client, (await response.json())["id"])
    assert job["status"] == "failed" and "fake.wav" in job["error"]
    assert job["result"]["files"][0]["id"] is None
    assert list(uploads.iterdir()) == []
    assert (await (await client.get("/api/v1/failures")).json())["failures"] == []
    assert (await client.get("/health/live")).status == 200  # still serving


async def test_jobs_are_listed_and_unknown_ones_are_404(client_for, catalog, tmp_path: Path):
    home, folder = private_pack(*catalog, tmp_path, ["Bass/bass_A1.wav"])
    client = await client_for(home)
    job = await (await client.post("/api/v1/scans", json={"paths": [str(folder)]})).json()
    await wait_job(client, job["id"])
    listed = (await (await client.get("/api/v1/jobs")).json())["jobs"]
    assert [j["id"] for j in listed] == [job["id"]] and listed[0]["kind"] == "scan"
    assert listed[0]["progress"]["phase"] == "done"
    assert (await client.get("/api/v1/jobs/nope")).status == 404
    cancelled = await client.delete(f"/api/v1/jobs/{job['id']}")
    assert cancelled.status == 202 and (await cancelled.json())["status"] == "done"


# -- WebSocket -----------------------------------------------------------------------------------------------


async def _events(ws, until, timeout: float = 60.0) -> list[dict]:
    seen: list[dict] = []
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive_json()
            seen.append(message)
            if until(message, seen):
                return seen


async def test_ws_reports_scan_job_progress_and_added_samples(client_for, catalog, tmp_path: Path):
    home, folder = private_pack(*catalog, tmp_path, ["Bass/bass_A1.wav"])
    client = await client_for(home, poll_interval=0.2)
    ws = await client.ws_connect("/api/v1/ws")
    hello = await ws.receive_json()
    assert hello["type"] == "hello" and hello["data"]["generation"] >= 1
    source = catalog[1] / "Drums" / "Kicks"
    for path in source.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    job = await (await client.post("/api/v1/scans", json={"paths": [str(folder)]})).json()
    events = await _events(ws, lambda m, seen: any(e["type"] == "samples.added" for e in seen)
                           and any(e["type"] == "job" and e["data"]["status"] == "done"
                                   for e in seen))
    job_events = [e["data"] for e in events if e["type"] == "job"]
    assert all(e["id"] == job["id"] for e in job_events)
    assert any(e["progress"]["phase"] in ("hashing", "analysing") for e in job_events)
    added = [i for e in events if e["type"] == "samples.added" for i in e["data"]["ids"]]
    assert sorted(added) == sorted(await ids_of(client, "cat:kick path:mine"))
    await ws.close()


@pytest.mark.slow
async def test_ws_sees_changes_made_by_another_process(client_for, catalog, tmp_path: Path):
    home, folder = private_pack(*catalog, tmp_path, ["Bass/bass_A1.wav"])
    client = await client_for(home, poll_interval=0.2)
    ws = await client.ws_connect("/api/v1/ws")
    await ws.receive_json()  # hello
    (folder / "copy.wav").write_bytes((folder / "bass_A1.wav").read_bytes()[:-2000])
    (folder / "bass_A1.wav").unlink()

    def other_scan() -> None:
        with Library(home, jobs=1) as other:  # a CLI scan, as far as the server can tell
            other.scan([folder])

    await asyncio.get_running_loop().run_in_executor(None, other_scan)
    events = await _events(ws, lambda m, seen: {"samples.added", "samples.removed"}
                           <= {e["type"] for e in seen})
    added = [i for e in events if e["type"] == "samples.added" for i in e["data"]["ids"]]
    assert (await (await client.get(f"/api/v1/samples/{added[0]}")).json())["name"] == "copy.wav"
    before = await ids_of(client, "copy")
    await client.post("/api/v1/tags", json={"ids": before, "tags": ["fresh"]})
    # The other process's last commits (its consensus, its lessons) may still be unannounced
    # when the tag lands (the watcher looks every QUICK_LOOK): one event may carry both.
    events = await _events(ws, lambda m, seen: m["type"] == "samples.updated"
                           and set(before) <= set(m["data"]["ids"]))
    assert set(before) <= set(events[-1]["data"]["ids"])
    await ws.close()


async def test_ws_origin_is_checked(client_for, home: Path):
    client = await client_for(home, allow_origins=("https://ui.example",))
    host = f"{client.host}:{client.port}"
    for origin in (f"http://{host}", "https://ui.example", None):
        ws = await client.ws_connect("/api/v1/ws", headers={"Origin": origin} if origin else {})
        assert (await ws.receive_json())["type"] == "hello"
        await ws.close()
    for origin in ("http://evil.example", "null", f"http://{host}.evil.example"):
        response = await client.get("/api/v1/ws", headers={
            "Origin": origin, "Connection": "Upgrade", "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert response.status == 403, origin
        assert_error(await response.json(), 403)


# -- guards ------------------------------------------------------------------------------------------


async def test_host_header_is_checked(client_for, home: Path):
    client = await client_for(home, allow_hosts=("studio.lan",))
    for host in ("localhost", "127.0.0.1:8000", "[::1]:9", "studio.lan:8000", "LOCALHOST"):
        assert (await client.get("/health/live", headers={"Host": host})).status == 200, host
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "studio.lan.x"):
        response = await client.get("/api/v1/stats", headers={"Host": host})
        assert response.status == 403, host
        assert_error(await response.json(), 403)
    anything = await client_for(home, allow_hosts=("*",))
    assert (await anything.get("/health/live", headers={"Host": "x.example"})).status == 200


async def test_cross_site_writes_are_refused(client_for, own_home: Path):
    client = await client_for(own_home)
    response = await client.post("/api/v1/tags", json={"ids": [1], "tags": ["x"]},
                                 headers={"Origin": "http://evil.example"})
    assert response.status == 403
    same = await client.post("/api/v1/tags", json={"ids": [1], "tags": ["x"]},
                             headers={"Origin": f"http://{client.host}:{client.port}"})
    assert same.status == 200
    read = await client.get("/api/v1/stats", headers={"Origin": "http://evil.example"})
    assert read.status == 200  # reads are not writes; the browser keeps the answer from the page


async def test_bad_requests_are_json_errors_never_5xx(client):
    cases = [
        client.post("/api/v1/tags", data=b"{not json", headers={"Content-Type": "application/json"}),
        client.post("/api/v1/tags", data=b"[1, 2]", headers={"Content-Type": "application/json"}),
        client.post("/api/v1/tags", data=b"tags=x"),
        client.post("/api/v1/tags", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                    headers={"Content-Type": "application/json"}),
        client.put("/api/v1/samples/1", json={}),
        client.get("/api/v1/samples", params={"q": "\x00"}),
        client.get("/api/v1/samples", params={"q": "x" * 5000}),
    ]
    statuses = []
    for request in cases:
        response = await request
        statuses.append(response.status)
        assert_error(await response.json(), response.status)
    assert statuses == [400, 400, 415, 413, 405, 400, 400]


# -- operations ---------------------------------------------------------------------------------------------


async def test_health_and_metrics(client):
    assert (await (await client.get("/health/live")).json()) == {"ok": True}
    ready = await (await client.get("/health/ready")).json()
    assert ready["ok"] and set(ready["checks"]) == {"catalog", "index", "cache"}
    await client.get("/api/v1/samples/1")
    await client.get("/api/v1/samples/99999")
    text = await (await client.get("/metrics")).text()
    assert 'samplemind_http_requests_total{method="GET",route="sample_get",status="200"} 1.0' in text
    assert 'samplemind_http_requests_total{method="GET",route="sample_get",status="404"} 1.0' in text
    assert 'samplemind_http_request_duration_seconds_bucket{le="+Inf",route="sample_get"} 2.0' in text
    for name in ("samplemind_ws_clients 0.0", "samplemind_jobs_active 0.0",
                 "samplemind_catalog_samples 48.0", "# TYPE samplemind_feature_cache_hits_total counter",
                 "# TYPE samplemind_feature_cache_misses_total counter",
                 "# TYPE samplemind_record_cache_hits_total counter",
                 "# TYPE samplemind_job_duration_seconds histogram"):
        assert name in text


async def test_openapi_lists_every_route_with_its_role(client, aiohttp_client, home: Path):
    from samplemind.accounts import AccountStore
    from samplemind.server import auth

    def roles_in(doc):
        operations = {(method.upper(), path): op for path, item in doc["paths"].items()
                      for method, op in item.items()}
        return {(method, path): (op["operationId"], op["x-samplemind-role"])
                for (method, path), op in operations.items()}

    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    listed = roles_in(doc)
    for route in ROUTES:
        assert listed[(route.method, route.path)] == (route.name, ROUTE_ROLES[route.name])
    assert ("POST", "/api/v1/login") not in listed  # no account layer: no login route
    # With the account layer its routes are in the same table, so in the document.
    store = AccountStore(home)
    secured = await aiohttp_client(make_app(home, security=lambda app: auth.install_security(
        app, store, route_roles=ROUTE_ROLES, open_access=True)))
    listed = roles_in(await (await secured.get("/api/v1/openapi.json")).json())
    for route in [*ROUTES, *auth.ROUTES]:
        assert listed[(route.method, route.path)] == (route.name, route.role)
    assert {name: role for name, role in listed.values() if name.startswith("auth_")} == {
        "auth_login": "public", "auth_logout": "public", "auth_me": "viewer"}  # me: any signed-in role
    store.close()
    # Reads are for viewers, changes for editors; the exceptions are declared here.
    reads_by_post = {"ask", "export_create"}  # POST only for its body: they change nothing
    editor_reads = {"review_next"}  # a review question is asked of someone who may answer it
    public_posts = {"auth_login", "auth_logout"}  # before (and after) there is a user
    own_stars = {"favourite_add", "favourite_remove"}  # one's own favourites: no one else sees them
    for route in [*ROUTES, *auth.ROUTES]:
        expected = {"GET": {"viewer", "public"}}.get(route.method, {"editor", "admin"})
        if route.name in reads_by_post:
            expected = {"viewer"}
        elif route.name in editor_reads:
            expected = {"editor"}
        elif route.name in public_posts:
            expected = {"public"}
        elif route.name in own_stars:
            expected = {"viewer"}
        assert route.role in expected, route.name
    assert ROUTE_ROLES["sample_delete_file"] == "admin"
    assert ROUTE_ROLES["health_live"] == "public"


async def test_security_hook_can_add_middlewares_and_routes(aiohttp_client, home: Path):
    seen: list[str | None] = []

    def security(app: web.Application) -> None:
        @web.middleware
        async def check(request, handler):
            seen.append(ROUTE_ROLES.get(request.match_info.route.name))
            return await handler(request)

        async def login(request):
            return web.json_response({"ok": True})

        app.middlewares.append(check)
        app.router.add_post("/api/v1/login", login, name="login")

    client = await aiohttp_client(make_app(home, security=security))
    assert (await client.get("/api/v1/samples/1")).status == 200
    assert (await client.post("/api/v1/login")).status == 200
    assert seen == ["viewer", None]


async def test_a_request_never_names_a_file(client, pack: Path):
    # Only ids reach files: path-like ids and traversal attempts are plain 404s.
    for path in ("/api/v1/samples/..%2F..%2Fetc%2Fpasswd/audio", "/api/v1/samples/%2Fetc%2Fpasswd",
                 f"/api/v1/samples/{os.fspath(pack)}/audio"):
        assert (await client.get(path)).status == 404


async def test_ws_events_of_every_frame_size_arrive_whole_and_in_order(client):
    from samplemind.server.context import CONTEXT

    ws = await client.ws_connect("/api/v1/ws")
    assert (await ws.receive_json())["type"] == "hello"
    hub = client.server.app[CONTEXT].hub
    sizes = [0, 100, 125, 126, 1000, 65535, 65536, 200_000]  # the three length encodings
    for size in sizes:
        hub.publish("test", {"text": "é" * (size // 2)})
    for size in sizes:
        message = await ws.receive_json(timeout=60)
        assert message == {"type": "test", "data": {"text": "é" * (size // 2)}}
    await ws.close()


async def test_ws_a_client_too_far_behind_is_dropped(client):
    import base64
    import socket

    from samplemind.server.context import CONTEXT

    # A client that completes the handshake and then never reads.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", client.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{client.port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    listening = await client.ws_connect("/api/v1/ws")
    await listening.receive_json()
    hub = client.server.app[CONTEXT].hub
    slow = None
    for _ in range(400):  # up to 24 MB unread: the kernel's buffers fill, then ours
        slow = next((c for c in hub.clients if c.transport.get_write_buffer_size()), slow)
        hub.publish("bulk", {"blob": "x" * 60_000})
        await listening.receive_json(timeout=60)  # the reader keeps up
        if len(hub.clients) < 2:
            break
    assert slow is not None and slow.overflowed and slow not in hub.clients
    hub.publish("after", {"n": 1})
    assert (await listening.receive_json(timeout=60))["type"] == "after"
    writer.close()
    await listening.close()


async def test_a_stopped_change_watcher_returns_without_being_cancelled() -> None:
    """The server's shutdown stops its change poller with a flag as well as a cancel: on
    Python 3.11 wait_for can swallow a cancel that lands with its timeout, and a teardown
    then hung for 300 s polling (seen once in CI)."""
    import asyncio

    from samplemind.server.events import ChangeWatcher

    watcher = ChangeWatcher(pool=None, hub=None, interval=0.01)  # type: ignore[arg-type]
    task = asyncio.create_task(watcher.run())  # each tick fails (no pool) and goes on
    await asyncio.sleep(0.05)
    assert not task.done()
    watcher.stop()
    await asyncio.wait_for(task, 60)  # a generous ceiling: it returns by itself
    assert task.done() and not task.cancelled()


async def test_a_failing_change_check_is_logged_once_an_interval(caplog) -> None:
    """A catalog the watcher cannot read is said once per `interval`, not at every quick look
    (20 a second; found by review20)."""
    import asyncio
    import time

    from samplemind.server.events import QUICK_LOOK, ChangeWatcher

    watcher = ChangeWatcher(pool=None, hub=None, interval=0.5)  # type: ignore[arg-type]
    assert QUICK_LOOK < watcher.interval
    started = time.monotonic()
    task = asyncio.create_task(watcher.run())  # each look fails (no pool)
    await asyncio.sleep(1.2)
    watcher.stop()
    await asyncio.wait_for(task, 60)
    elapsed = time.monotonic() - started
    logged = [r for r in caplog.records if "could not check the catalog" in r.getMessage()]
    assert 1 <= len(logged) <= elapsed / watcher.interval + 1, (len(logged), elapsed)
