"""Schemathesis over the OpenAPI document: no generated request gets a 5xx, and every
error has the one JSON shape."""

from __future__ import annotations

import asyncio
import shutil
import threading

import jsonschema_rs
import pytest
import requests
import schemathesis
from aiohttp import web
from body_cases import valid_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_fixtures import build_catalog

from samplemind.server import ROUTES, RUNNER_OPTIONS, ServerConfig, make_app
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
        runner = web.AppRunner(app, **RUNNER_OPTIONS)  # as serve runs it
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


# -- bodies the schema refuses ----------------------------------------------------------------

BODY_ROUTES = {route.name: route for route in ROUTES if route.body is not None}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=8)


def _pointer(path: list) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


@pytest.mark.parametrize("name", sorted(BODY_ROUTES))
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_body_the_schema_refuses_is_400_naming_where(name, base_url, data):
    """Bodies near a valid one with a field changed, added or removed: what the schema
    refuses (jsonschema_rs, an independent reading of the same schema object as the OpenAPI
    document's) is a 400 naming by JSON pointer a place the schema found wrong."""
    route = BODY_ROUTES[name]
    body = valid_body(route.body)
    fields = sorted(route.body.get("properties", {})) + ["zz_extra"]
    for _ in range(data.draw(st.integers(1, 3))):
        field = data.draw(st.sampled_from(fields))
        if data.draw(st.booleans()) and field in body:
            del body[field]
        else:
            body[field] = data.draw(JSON_VALUES)
    errors = list(jsonschema_rs.validator_for(route.body).iter_errors(body))
    path = route.path.replace("{id}", "1").replace("{name}", "x")
    response = requests.request(route.method, base_url + path, json=body, timeout=30)
    assert response.status_code < 500, (name, body, response.text[:500])
    if not errors:
        return  # valid: the handler's own checks answer (a 400 for a float as an integer)
    assert response.status_code == 400, (name, body, [e.message for e in errors])
    message = response.json()["error"]
    where = "" if message.startswith("the body") else message.split(" ")[0].rstrip(",")
    found = [_pointer(list(error.instance_path)) for error in errors]
    assert any(where == p or where.startswith(p + "/") for p in found), (name, body, message,
                                                                         found)
