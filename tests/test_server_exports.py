"""Two-step zip exports (POST /api/v1/exports, then GET the URL it answers) against a real
server on 127.0.0.1 over a real catalog of small audio files."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
import soundfile as sf

from samplemind import Library
from samplemind.accounts import AccountStore
from samplemind.server import ROUTE_ROLES, ServerConfig, make_app
from samplemind.server.auth import COOKIE_NAME, CSRF_HEADER, install_security
from samplemind.server.exports import EXPORTS, MAX_IDS, ExportStore

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

COUNT = 1400  # kicks and snares alternate: 700 kicks with scattered ids
PASSWORD = "correct horse battery"


def tiny_library(base: Path, count: int) -> Path:
    """A catalog home of `count` short WAV files, kick and snare in turn, in ten folders.
    The rows are written straight into the catalog (no analysis: fast), as a scan would
    list them; the files are real, so exports read them."""
    home, folder = base / "home", base / "lib"
    rows = []
    for i in range(count):
        path = folder / f"Pack{i % 10}" / f"hit_{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        tone = np.sin(np.arange(64) * (0.05 + i * 1e-4)).astype(np.float32)
        sf.write(path, tone, 8000, subtype="PCM_16")
        rows.append((str(path), str(folder), path.name, f"{i:032x}", "oneshot",
                     "kick" if i % 2 == 0 else "snare", 64 / 8000))
    with Library(home) as library:
        with library.catalog.transaction():
            library.catalog.conn.executemany(
                "INSERT INTO samples (path, root, name, hash, format, type, category, duration, "
                "sample_rate) VALUES (?, ?, ?, ?, 'wav', ?, ?, ?, 8000)", rows)
    return home


def id_term(ids: list[int]) -> str:
    """The id: query the web UI used to build (runs of ids as ranges)."""
    ordered, parts, i = sorted(ids), [], 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(f"{ordered[i]}..{ordered[j]}" if j > i else str(ordered[i]))
        i = j + 1
    return "id:" + ",".join(parts)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_library(tmp_path_factory.mktemp("exports"), COUNT)


@pytest.fixture(scope="module")
def ids(home: Path) -> dict[str, list[int]]:
    """Sample ids by category, in id order."""
    with Library(home) as library:
        return {category: sorted(s.id for s in library.ls(f"cat:{category}"))
                for category in ("kick", "snare")}


@pytest.fixture(scope="module")
def paths(home: Path) -> dict[int, str]:
    """Every sample's path by id."""
    with Library(home) as library:
        return {s.id: s.path for s in library.ls()}


@pytest.fixture
def client_for(aiohttp_client):
    async def make(home: Path, store: ExportStore | None = None, security=None):
        app = make_app(home, config=ServerConfig(threads=2, record_cache_mb=0), security=security)
        if store is not None:
            app[EXPORTS] = store
        return await aiohttp_client(app)

    return make


@pytest_asyncio.fixture
async def client(client_for, home: Path):
    return await client_for(home)


def assert_error(data: dict, status: int, *words: str) -> None:
    assert data["ok"] is False and data["status"] == status and data["error"], data
    for word in words:
        assert word in data["error"], data["error"]


async def create(client, body: dict, status: int = 201, headers: dict | None = None) -> dict:
    response = await client.post("/api/v1/exports", json=body, headers=headers)
    data = await response.json()
    assert response.status == status, data
    if status == 201:
        assert response.headers["Location"] == data["url"]
    return data


async def fetch_zip(client, url: str, headers: dict | None = None) -> tuple[zipfile.ZipFile, str]:
    response = await client.get(url, headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    assert archive.testzip() is None
    return archive, response.headers["Content-Disposition"]


def exported(archive: zipfile.ZipFile) -> tuple[list[int], list[str]]:
    """(ids in the manifest, audio entries)."""
    manifest = json.loads(archive.read("samplemind-export.json"))
    audio = [name for name in archive.namelist() if name != "samplemind-export.json"]
    return [item["id"] for item in manifest["items"]], audio


# -- making and fetching ----------------------------------------------------------------------


async def test_post_ids_then_get_streams_exactly_those_samples(client, ids, paths):
    chosen = [ids["kick"][3], ids["snare"][0], ids["kick"][10]]
    data = await create(client, {"ids": chosen, "name": "my kit", "pattern": "{category}/{stem}.{ext}"})
    assert data["ok"] is True and data["count"] == 3
    assert data["expires_in"] == 600 and data["uses"] >= 1 and data["name"] == "my_kit.zip"
    assert data["url"].startswith("/api/v1/exports/") and len(data["url"]) > 50
    archive, disposition = await fetch_zip(client, data["url"])
    assert 'filename="my_kit.zip"' in disposition
    manifest_ids, audio = exported(archive)
    assert sorted(manifest_ids) == sorted(chosen)
    assert sorted(audio) == sorted(f"{'kick' if i in ids['kick'] else 'snare'}/{Path(paths[i]).name}"
                                   for i in chosen)


async def test_a_selection_far_over_the_query_limit_exports_whole(client, ids, paths):
    kicks = ids["kick"]  # every other sample: no runs to shorten the id: query
    assert len(kicks) == COUNT // 2
    assert len(id_term(kicks)) > 2900  # the server takes 2000 characters
    too_long = await client.get("/api/v1/export", params={"q": id_term(kicks)})
    assert too_long.status == 400  # the old way cannot say it
    data = await create(client, {"ids": list(reversed(kicks)) + kicks[:5]})  # repeats count once
    assert data["count"] == len(kicks)
    archive, disposition = await fetch_zip(client, data["url"])
    assert 'filename="samplemind-kit.zip"' in disposition
    manifest_ids, audio = exported(archive)
    assert manifest_ids == sorted(kicks, key=paths.__getitem__)  # in path order, each once
    assert len(audio) == len(kicks)
    assert all(name.startswith("kick/") for name in audio)


async def test_a_query_instead_of_ids(client, ids):
    data = await create(client, {"query": "cat:snare", "name": "snares"})
    assert data["count"] == len(ids["snare"])
    archive, _ = await fetch_zip(client, data["url"])
    manifest = json.loads(archive.read("samplemind-export.json"))
    assert manifest["query"] == "cat:snare"
    assert sorted(item["id"] for item in manifest["items"]) == ids["snare"]


async def test_a_url_serves_a_few_downloads_then_is_gone(client_for, home, ids):
    client = await client_for(home, ExportStore(max_uses=2))
    data = await create(client, {"ids": ids["kick"][:2]})
    head = await client.head(data["url"])  # a HEAD does not use it up
    assert head.status == 200 and head.headers["Content-Type"] == "application/zip"
    for _ in range(2):  # a browser may try again
        archive, _ = await fetch_zip(client, data["url"])
        assert len(exported(archive)[0]) == 2
    response = await client.get(data["url"])
    assert response.status == 404
    assert_error(await response.json(), 404, "no such export")


async def test_unknown_and_expired_tokens_are_404(client_for, home, ids):
    now = [1000.0]
    store = ExportStore(lifetime=5, clock=lambda: now[0])
    client = await client_for(home, store)
    for token in ("nope", "x" * 43, "..%2F..%2Fetc"):
        response = await client.get(f"/api/v1/exports/{token}")
        assert response.status == 404, token
        assert_error(await response.json(), 404, "no such export", "export again")
    data = await create(client, {"ids": ids["kick"][:1]})
    assert data["expires_in"] == 5
    now[0] += 4.9
    assert (await client.head(data["url"])).status == 200
    now[0] += 0.2
    response = await client.get(data["url"])
    assert response.status == 404
    assert_error(await response.json(), 404, "expired")
    assert len(store) == 0


async def test_the_oldest_pending_export_makes_room(client_for, home, ids):
    client = await client_for(home, ExportStore(max_pending=2))
    urls = [(await create(client, {"ids": [i]}))["url"] for i in ids["kick"][:3]]
    assert (await client.get(urls[0])).status == 404
    for url in urls[1:]:
        assert (await client.get(url)).status == 200


# -- bad requests --------------------------------------------------------------------------------


async def test_bad_bodies_are_json_errors(client, ids):
    post = "/api/v1/exports"
    response = await client.post(post, data="ids=1,2", headers={"Content-Type": "text/plain"})
    assert response.status == 415
    assert_error(await response.json(), 415, "JSON")
    response = await client.post(post, data="{ids: [1", headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert_error(await response.json(), 400, "not valid JSON")
    for body, words in (
            ([1, 2], "the body must be an object"),
            ({}, "either"),
            ({"ids": [1], "query": "cat:kick"}, "either"),
            ({"ids": "1,2,3"}, "/ids must be a list"),
            ({"ids": {"1": 1}}, "/ids must be a list"),
            ({"ids": None}, "/ids must be a list"),
            ({"ids": []}, "/ids must not be empty"),
            ({"ids": [1, -2]}, "/ids/1 must be at least 1, not -2"),
            ({"ids": [0]}, "/ids/0 must be at least 1"),
            ({"ids": ["1"]}, "/ids/0 must be a whole number, not '1'"),
            ({"ids": [1.5]}, "1.5"),
            ({"ids": [True]}, "True"),
            ({"ids": [2**63]}, "/ids/0 must be at most"),
            ({"ids": list(range(1, MAX_IDS + 2))}, "/ids has too many items"),
            ({"ids": [1], "name": 7}, "/name must be a string"),
            ({"ids": [1], "name": "n" * 101}, "too long"),
            ({"ids": [1], "pattern": "/abs/{name}"}, "relative"),
            ({"ids": [1], "pattern": "{nope}"}, "unknown field {nope}"),
            ({"ids": [1], "pattern": "{}"}, "placeholder"),
            ({"query": "bmp:1"}, ""),
            ({"query": "x" * 2001}, "too long"),
            ({"ids": [1], "format": "tar"}, "/format is not a field")):
        response = await client.post(post, json=body)
        assert response.status == 400, body
        assert_error(await response.json(), 400, words)


async def test_unknown_ids_are_refused_with_how_many(client, ids):
    selection = [ids["kick"][0], 999_999, ids["snare"][0], 888_888]
    data = await create(client, {"ids": selection}, status=404)
    assert_error(data, 404, "2 of the 4 selected ids are not in the catalog", "999999", "888888")
    data = await create(client, {"query": "cat:nothing-like-this"}, status=404)
    assert_error(data, 404, "no samples match")


async def test_cross_site_posts_are_refused(client, ids):
    response = await client.post("/api/v1/exports", json={"ids": ids["kick"][:1]},
                                 headers={"Origin": "https://evil.example"})
    assert response.status == 403


async def test_openapi_declares_both_routes(client):
    doc = await (await client.get("/api/v1/openapi.json")).json()
    create_op = doc["paths"]["/api/v1/exports"]["post"]
    assert create_op["x-samplemind-role"] == "viewer" and "201" in create_op["responses"]
    assert create_op["requestBody"]["content"]["application/json"]["schema"]["properties"]["ids"][
        "maxItems"] == MAX_IDS
    download = doc["paths"]["/api/v1/exports/{token}"]["get"]
    assert download["x-samplemind-role"] == "viewer"
    assert "application/zip" in download["responses"]["200"]["content"]
    assert [p["name"] for p in download["parameters"]] == ["token"]


# -- accounts ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(data folder, a viewer API token): alice and bob are viewers (hashing is slow: once)."""
    folder = tmp_path_factory.mktemp("accounts")
    with AccountStore(folder) as store:
        store.add_user("alice", PASSWORD, "viewer")
        store.add_user("bob", PASSWORD, "viewer")
        token = store.add_token("script", "viewer")
    return folder, token


@pytest_asyncio.fixture
async def account_client(client_for, home: Path, accounts):
    store = AccountStore(accounts[0])
    client = await client_for(home, security=lambda app: install_security(
        app, store, route_roles=ROUTE_ROLES, open_access=False))
    yield client
    store.close()


async def log_in(client, name: str) -> dict[str, str]:
    """The headers a browser of this user sends on a write: session cookie, Origin, CSRF."""
    response = await client.post("/api/v1/login", json={"name": name, "password": PASSWORD})
    assert response.status == 200, await response.text()
    url = client.make_url("/")
    headers = {"Cookie": f"{COOKIE_NAME}={response.cookies[COOKIE_NAME].value}",
               "Origin": f"{url.scheme}://{url.host}:{url.port}",
               CSRF_HEADER: (await response.json())["csrf_token"]}
    client.session.cookie_jar.clear()
    return headers


async def test_with_accounts_csrf_is_needed_and_the_url_is_the_users_own(account_client, ids, accounts):
    client = account_client
    body = {"ids": ids["snare"][:4]}
    assert (await client.post("/api/v1/exports", json=body)).status == 401
    alice = await log_in(client, "alice")
    without_csrf = {key: value for key, value in alice.items() if key != CSRF_HEADER}
    response = await client.post("/api/v1/exports", json=body, headers=without_csrf)
    assert response.status == 403
    assert_error(await response.json(), 403, CSRF_HEADER)
    response = await client.post("/api/v1/exports", json=body,
                                 headers={**alice, "Origin": "https://evil.example"})
    assert response.status == 403
    data = await create(client, body, headers=alice)

    cookie_only = {"Cookie": alice["Cookie"]}  # what the browser's download sends
    bob = {"Cookie": (await log_in(client, "bob"))["Cookie"]}
    script = {"Authorization": f"Bearer {accounts[1]}"}
    for someone_else in (bob, script, {}):
        response = await client.get(data["url"], headers=someone_else)
        assert response.status == (401 if not someone_else else 404), someone_else
        if someone_else:
            assert_error(await response.json(), 404, "no such export")
    archive, _ = await fetch_zip(client, data["url"], headers=cookie_only)
    assert sorted(exported(archive)[0]) == ids["snare"][:4]

    # an API token makes and fetches its own, without CSRF (no cookie involved)
    data = await create(client, {"query": "cat:kick limit:3"}, headers=script)
    assert data["count"] == 3
    assert (await client.get(data["url"], headers=cookie_only)).status == 404
    archive, _ = await fetch_zip(client, data["url"], headers=script)
    assert len(exported(archive)[0]) == 3


async def test_one_owner_cannot_push_out_the_others():
    store = ExportStore(max_pending=32, max_each=8)
    theirs = store.add(("user", "ana"), ids=None, query="cat:kick", name="k", pattern="{name}",
                       count=1)
    mine = [store.add(("user", "bo"), ids=None, query="", name="x", pattern="{name}", count=1)
            for _ in range(40)]
    assert store.find(theirs.token, ("user", "ana")) is theirs
    assert len(store) == 1 + 8
    assert store.find(mine[-1].token, ("user", "bo")) is mine[-1]
    assert store.find(mine[0].token, ("user", "bo")) is None  # its oldest made room
