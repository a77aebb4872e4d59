"""The web UI's static routes: a fixed whitelist of package files, right content types,
ETag revalidation, gzip, security headers; public, but behind the Host and Origin guards."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
import pytest_asyncio

from samplemind.accounts import AccountStore
from samplemind.server import ROUTE_ROLES, ROUTES, ServerConfig, make_app
from samplemind.server.auth import install_security
from samplemind.server.routes_ui import UI_FILES

from helpers import REPO

UI_FOLDER = REPO / "samplemind" / "server" / "ui"


@pytest_asyncio.fixture
async def client(aiohttp_client, samplemind_home: Path):
    return await aiohttp_client(make_app(samplemind_home, config=ServerConfig(record_cache_mb=0)))


@pytest.mark.asyncio
async def test_the_page_and_its_files_are_served_with_their_types(client) -> None:
    page = await client.get("/")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    html = await page.text()
    assert '<script type="module" src="/ui/app.js">' in html
    for name, content_type in UI_FILES.items():
        response = await client.get(f"/ui/{name}")
        assert response.status == 200, name
        assert response.headers["Content-Type"] == content_type
        assert await response.read() == (UI_FOLDER / name).read_bytes()
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.asyncio
async def test_every_file_the_page_loads_is_whitelisted_and_nothing_else_is_served(client) -> None:
    # Every import and link in the UI names a whitelisted file, and every file is shipped.
    assert sorted(UI_FILES) == sorted(p.name for p in UI_FOLDER.iterdir() if p.is_file())
    for path in UI_FOLDER.iterdir():
        text = path.read_text()
        for name in re.findall(r"""(?:from\s+|import\s*\(|href=|src=)["'](?:\./|/ui/)([\w.-]+)["']""", text):
            assert name in UI_FILES, (path.name, name)
    for path in ("/ui/../app.py", "/ui/%2e%2e/app.py", "/ui/routes_ui.py", "/ui/", "/ui/ui/app.js",
                 "/ui/APP.JS", "/ui/app.js.map", "/ui/..%2F..%2Fpyproject.toml", "/index.html"):
        response = await client.get(path)
        assert response.status == 404, path
        assert (await response.json())["ok"] is False


@pytest.mark.asyncio
async def test_etag_revalidation_and_gzip(client) -> None:
    first = await client.get("/ui/app.js", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    assert await first.read() == (UI_FOLDER / "app.js").read_bytes()  # the client unzips it
    etag = first.headers["ETag"]
    again = await client.get("/ui/app.js", headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""
    head = await client.head("/")
    assert head.status == 200 and head.headers["ETag"]


@pytest.mark.asyncio
async def test_the_page_forbids_foreign_scripts_and_framing(client) -> None:
    headers = (await client.get("/")).headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["X-Frame-Options"] == "DENY"
    # no inline script or style in the page: everything comes from the whitelisted files
    html = (UI_FOLDER / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers


@pytest.mark.asyncio
async def test_the_host_guard_applies_to_the_ui(client) -> None:
    response = await client.get("/", headers={"Host": "evil.example"})
    assert response.status == 403


@pytest.mark.slow
@pytest.mark.asyncio
async def test_ui_routes_are_public_even_with_accounts(aiohttp_client, samplemind_home: Path) -> None:
    store = AccountStore(samplemind_home)
    store.add_user("alice", "correct horse battery", "viewer")
    app = make_app(samplemind_home, config=ServerConfig(record_cache_mb=0),
                   security=lambda app: install_security(app, store, route_roles=ROUTE_ROLES,
                                                         open_access=False))
    client = await aiohttp_client(app)
    assert (await client.get("/")).status == 200  # the login page loads
    assert (await client.get("/ui/app.js")).status == 200
    assert (await client.get("/api/v1/samples")).status == 401  # the data does not
    assert {ROUTE_ROLES["ui_index"], ROUTE_ROLES["ui_file"]} == {"public"}
    store.close()


def test_the_ui_is_package_data() -> None:
    # A non-editable install ships the UI: pyproject's package-data covers every file.
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["samplemind"]
    for name in UI_FILES:
        assert any(fnmatch(f"server/ui/{name}", pattern) for pattern in patterns), name
    assert any(route.name == "ui_index" and route.path == "/" for route in ROUTES)
