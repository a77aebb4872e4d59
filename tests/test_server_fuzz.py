"""Schemathesis over the OpenAPI document: no generated request gets a 5xx, and every
error has the one JSON shape."""

from __future__ import annotations

import asyncio
import shutil
import threading

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from server_fixtures import build_catalog

from samplemind.server import ROUTES, ServerConfig, make_app
from samplemind.server.openapi import build

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

schema = schemathesis.openapi.from_dict(build(ROUTES))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory):
    """A real server on loopback, in a thread, over a private catalog (the fuzz changes it)."""
    base = tmp_path_factory.mktemp("fuzz")
    home, pack = build_catalog(base)
    started = threading.Event()
    state: dict = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        state["loop"] = loop
        app = make_app(home, config=ServerConfig(upload_dir=base / "uploads",
                                                 max_upload_bytes=1024 * 1024))
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        state["port"] = site._server.sockets[0].getsockname()[1]
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(60)
    yield f"http://127.0.0.1:{state['port']}"
    state["loop"].call_soon_threadsafe(state["loop"].stop)
    thread.join(60)
    shutil.rmtree(base, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_5xx(case, base_url):
    response = case.call(base_url=base_url, timeout=30)
    assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body,
                                        response.text[:500])
    if response.status_code >= 400:
        data = response.json()
        assert data["ok"] is False and data["status"] == response.status_code and data["error"]
