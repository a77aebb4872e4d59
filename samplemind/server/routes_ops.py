"""Operations: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..library import Library
from .http import context, json_now
from .metrics import CONTENT_TYPE
from .openapi import build as build_openapi
from .routing import PUBLIC, ROUTE_TABLE, VIEWER, Route


async def live(request: web.Request) -> web.StreamResponse:
    return json_now(request, {"ok": True})


async def ready(request: web.Request) -> web.StreamResponse:
    checks = await context(request).pool.run(Library.readiness)
    ok = all(check["ok"] for check in checks.values())
    return json_now(request, {"ok": ok, "checks": checks}, status=200 if ok else 503)


def _figures(library: Library) -> dict[str, Any]:
    return {"cache": library.cache_stats(), "samples": library.count(),
            "generation": library.changes.generation()}


async def metrics(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    figures = await ctx.pool.run(_figures)
    ctx.scrape_figures = figures
    # Written in a thread: a large exposition takes milliseconds the loop owes to requests.
    body = await asyncio.get_running_loop().run_in_executor(None, ctx.metrics.render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def openapi(request: web.Request) -> web.StreamResponse:
    return json_now(request, build_openapi(request.app[ROUTE_TABLE]))

ROUTES = [
    Route("GET", "/health/live", "health_live", live, PUBLIC, "The process is up."),
    Route("GET", "/health/ready", "health_ready", ready, PUBLIC,
          "Catalog, vector index and cache are usable (503 with the failing check if not).",
          responses={503: "Not ready."}),
    Route("GET", "/metrics", "metrics", metrics, VIEWER, "Prometheus metrics (text format).",
          produces=CONTENT_TYPE.split(";")[0]),
    Route("GET", "/api/v1/openapi.json", "openapi", openapi, VIEWER, "This API's OpenAPI document."),
]

