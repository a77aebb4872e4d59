"""Route declarations: each route's method, path, name, required role and the facts the
OpenAPI document is built from, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from aiohttp import web

from .body_schema import Check, check_body, compile_schema
from .http import BODY, json_value
from .query_params import QUERY, QueryReader, compile_query

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Who may call a route. The auth module (samplemind/server/auth.py) reads these through
# ROUTE_ROLES[request.match_info.route.name]; without it, everyone is an admin on loopback.
PUBLIC = "public"  # no login at all: health probes
VIEWER = "viewer"  # reads
EDITOR = "editor"  # changes to the catalog: tags, corrections, scans, uploads
ADMIN = "admin"  # deleting files on disk
ROLES = (PUBLIC, VIEWER, EDITOR, ADMIN)


@dataclass(frozen=True)
class Param:
    """A query or path parameter."""

    name: str
    where: str  # "query" or "path"
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Route:
    """One HTTP route and what the docs say about it."""

    method: str
    path: str
    name: str
    handler: Handler
    role: str
    summary: str
    params: tuple[Param, ...] = ()
    # JSON schema of a JSON body: the OpenAPI document shows it and add_routes checks every
    # body against it before the handler runs (the handler reads it with http.checked_body),
    # unless own_body: the handler reads the body itself and checks it with body_check
    # (login: its origin and size limit come first).
    body: dict[str, Any] | None = None
    own_body: bool = False
    multipart: bool = False  # a multipart/form-data upload
    produces: str = "application/json"
    responses: dict[int, str] = field(default_factory=dict)  # extra statuses and why
    openapi: bool = True

    @cached_property
    def body_check(self) -> Check | None:
        """The compiled check of `body` (compiled once per Route; a keyword outside the
        subset body_schema supports is a ValueError here, when the routes are added)."""
        return None if self.body is None else compile_schema(self.body)

    @cached_property
    def query_reader(self) -> QueryReader | None:
        """The compiled reader of its query parameters (query_params.py), or None."""
        return compile_query(self.params)


# Every route an app serves, in the order added: the OpenAPI document is built from it
# (GET /api/v1/openapi.json), so a route added by the account layer is documented too.
ROUTE_TABLE: web.AppKey[list[Route]] = web.AppKey("samplemind_route_table", list)


# What an admission check answers for a request: None (go on to the handler), the answer
# to send instead, or an awaitable that calls the handler itself and gives the answer.
Verdict = web.StreamResponse | Awaitable[web.StreamResponse] | None


class Admission:
    """The account layer's check of each request (auth.install_security), run by the server's
    front middleware (app.py) right before the handler instead of as a middleware of its own:
    a coroutine less per request. install_security fills `check` only while `front` is the
    app's last middleware, so the checks run in the order they would as a middleware."""

    __slots__ = ("front", "check")

    def __init__(self, front: Any) -> None:
        self.front = front
        self.check: Callable[[web.Request, Handler], Verdict] | None = None


ADMISSION: web.AppKey[Admission] = web.AppKey("samplemind_admission", Admission)


def add_routes(app: web.Application, routes: list[Route]) -> None:
    """Serve these routes on app and add them to app[ROUTE_TABLE].

    One resource per route, so its name (what the auth module's route roles are keyed by) is
    the route's; HEAD answers like GET (headers only), except on the WebSocket.
    """
    for route in routes:
        handler = route.handler
        check = route.body_check
        if check is not None and not route.own_body:
            assert route.body is not None and route.body.get("type") == "object", route.name
            handler = _checking(handler, check)
        if route.query_reader is not None:
            handler = _reading_query(handler, route.query_reader)
        resource = app.router.add_resource(route.path, name=route.name)
        resource.add_route(route.method, handler)
        if route.method == "GET" and route.name != "ws":
            resource.add_route("HEAD", handler)
    app[ROUTE_TABLE] = [*app.get(ROUTE_TABLE, []), *routes]


def _checking(handler: Handler, check: Check) -> Handler:
    """handler, behind a check of the request's JSON body against the route's schema."""

    async def checked(request: web.Request) -> web.StreamResponse:
        body = await json_value(request)
        check_body(check, body)  # every body schema is an object's (add_routes)
        request[BODY] = body
        return await handler(request)

    return checked


def _reading_query(handler: Handler, reader: QueryReader) -> Handler:
    """handler, behind the reading and check of the route's query parameters."""

    async def read(request: web.Request) -> web.StreamResponse:
        request[QUERY] = reader(request.query)
        return await handler(request)

    return read


# A query in the query language, as a query parameter (a URL carries at most a few KB).
QUERY_TEXT = {"type": "string", "maxLength": 2000}

# A sample id in a JSON body: SQLite's integers are 64-bit signed.
SAMPLE_ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


def sample_ids(most: int) -> dict[str, Any]:
    """The schema of a body's "ids": 1 to `most` sample ids."""
    return {"type": "array", "minItems": 1, "maxItems": most, "items": SAMPLE_ID}


ID = Param("id", "path", {"type": "integer", "minimum": 1}, "Catalog id of the sample.", True)
