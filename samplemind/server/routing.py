"""Route declarations: each route's method, path, name, required role and the facts the
OpenAPI document is built from, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

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
    body: dict[str, Any] | None = None  # JSON schema of a JSON body
    multipart: bool = False  # a multipart/form-data upload
    produces: str = "application/json"
    responses: dict[int, str] = field(default_factory=dict)  # extra statuses and why
    openapi: bool = True


# Every route an app serves, in the order added: the OpenAPI document is built from it
# (GET /api/v1/openapi.json), so a route added by the account layer is documented too.
ROUTE_TABLE: web.AppKey[list[Route]] = web.AppKey("samplemind_route_table", list)


def add_routes(app: web.Application, routes: list[Route]) -> None:
    """Serve these routes on app and add them to app[ROUTE_TABLE].

    One resource per route, so its name (what the auth module's route roles are keyed by) is
    the route's; HEAD answers like GET (headers only), except on the WebSocket.
    """
    for route in routes:
        resource = app.router.add_resource(route.path, name=route.name)
        resource.add_route(route.method, route.handler)
        if route.method == "GET" and route.name != "ws":
            resource.add_route("HEAD", route.handler)
    app[ROUTE_TABLE] = [*app.get(ROUTE_TABLE, []), *routes]


ID = Param("id", "path", {"type": "integer", "minimum": 1}, "Catalog id of the sample.", True)
