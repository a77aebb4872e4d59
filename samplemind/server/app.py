"""make_app: the aiohttp application of `samplemind serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..errors import SampleMindError
from ..textsafe import printable
from . import (
    heap,
    routes_ai,
    routes_browse,
    routes_files,
    routes_jobs,
    routes_ops,
    routes_review,
    routes_samples,
    routes_ui,
    routes_ws,
)
from .context import CONTEXT, ServerConfig, ServerContext
from .downloads import DOWNLOADS, DownloadSlots
from .events import ChangeWatcher, EventHub
from .exports import EXPORTS, ExportStore
from .guards import check_origin, host_check
from .http import error_body
from .jobs import JobManager
from .libraries import LibraryPool
from .metrics import Metrics
from .neighbour_keeper import NeighbourKeeper
from .record_cache import warm_up
from .routing import ADMISSION, Admission, Route, add_routes

log = logging.getLogger("samplemind.server")

# Every route of the core server. The auth module reads ROUTE_ROLES[route name].
ROUTES: list[Route] = [*routes_samples.ROUTES, *routes_files.ROUTES, *routes_jobs.ROUTES,
                       *routes_ai.ROUTES, *routes_ws.ROUTES, *routes_ops.ROUTES, *routes_ui.ROUTES,
                       *routes_review.ROUTES, *routes_browse.ROUTES]
ROUTE_ROLES: dict[str, str] = {route.name: route.role for route in ROUTES}
assert len(ROUTE_ROLES) == len(ROUTES), "route names must be unique"

SWITCH_INTERVAL = 0.0005  # seconds a thread may hold the GIL while another waits
CLIENT_GONE = 499  # the status counted for a request whose client left (as nginx does)
RETRY_AFTER = 5  # seconds a client is asked to wait when the server is busy (503)
JSON_BODY_LIMIT = 1024 * 1024  # non-upload request bodies (aiohttp's default, made explicit)
# The longest request line: enough for every query parameter of a route at its schema's
# maxLength, percent-encoded (tests/test_server_hostile.py checks it against the route table).
# aiohttp's 8190 would refuse a 2000-character query of non-ASCII text in plain text, before
# the app could answer in its JSON error shape.
MAX_REQUEST_LINE = 64 * 1024
RUNNER_OPTIONS: dict[str, Any] = {"max_line_size": MAX_REQUEST_LINE}
Security = Callable[[web.Application], None]


def _route_namer() -> Callable[[web.Request], str]:
    """request -> the name of its route ("unmatched" for none), for the metrics."""
    names: dict[Any, str] = {}  # route -> name: the property chain to it costs more

    def route_name(request: web.Request) -> str:
        route = request.match_info.route
        name = names.get(route)
        if name is None:
            name = getattr(route, "name", None) or "unmatched"
            if name != "unmatched":  # each unmatched request has a route object of its own
                names[route] = name
        return name

    return route_name


def _error_response(request: web.Request, exc: BaseException) -> web.Response:
    """The JSON error answer for an exception a handler raised."""
    if isinstance(exc, SampleMindError):
        response = error_body(str(exc), exc.http_status)
        if exc.http_status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER)
        return response
    if isinstance(exc, web.HTTPException):
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") \
            else exc.reason
        if exc.status == 404 and message == exc.reason:  # no route matched the path
            path = request.path if len(request.path) <= 200 else request.path[:197] + "..."
            message = (f"no such route: {request.method} {path} (the routes are "
                       "listed in /api/v1/openapi.json)")
        response = error_body(message or exc.reason, exc.status)
        for header in ("Allow", "Retry-After"):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    # A bug: one request fails, the server keeps serving.
    log.error("error answering %s %s", request.method, request.path, exc_info=exc)
    return error_body(f"internal error: {type(exc).__name__} (see the server log)", 500)


def client_gone(request: web.Request) -> bool:
    """Whether the request's client has closed its connection."""
    transport = request.transport
    return transport is None or transport.is_closing()


class QuietClientErrors(logging.Filter):
    """aiohttp logs a request it cannot parse (a request line or header over 8,190 bytes,
    bytes that are not HTTP) and a connection lost under a handler with a traceback, at
    ERROR: any client could fill the log. Such records become one line at DEBUG, without
    the traceback. (The answer to such a request is aiohttp's own plain-text 400: it
    offers no hook to make it JSON.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError | ConnectionError):
            what = "bad request" if isinstance(exc, HttpProcessingError) else "client left"
            record.msg = "%s from %s: %s"
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.args = (what, remote, printable(str(exc)[:200]))
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


QUIET_CLIENT_ERRORS = QuietClientErrors()


def _front(config: ServerConfig, metrics: Metrics) -> tuple[Any, Admission]:
    """The server's one middleware, and the slot for the account layer's check it runs."""
    check_host = host_check(config)
    route_name = _route_namer()

    # One middleware, not four: each layer costs a coroutine per request, which shows
    # at thousands of requests a second (benchmarks/serve.py). The account layer's check
    # runs here too (routing.Admission), when install_security finds this one last.
    @web.middleware
    async def front(request: web.Request, handler: Any) -> web.StreamResponse:
        """Host and Origin guards, the account layer's check, errors as JSON, and the
        request metrics."""
        started = time.perf_counter()
        try:
            check_host(request)
            check_origin(request, config)
            admit = admission.check
            verdict = None if admit is None else admit(request, handler)
            if verdict is None:
                response = await handler(request)
            elif isinstance(verdict, web.StreamResponse):
                response = verdict
            else:
                response = await verdict
        except asyncio.CancelledError:
            raise
        except ConnectionError as exc:
            if not client_gone(request):  # a connection of the server's own (Ollama): an error
                response = _error_response(request, exc)
            else:
                # The client went away (an upload cut off, a tab closed): not a server error,
                # and a client must not be able to write tracebacks into the log at will.
                log.debug("%s %s: the client closed the connection (%s)", request.method,
                          printable(request.path[:200]), type(exc).__name__)
                metrics.request_done(route_name(request), request.method, CLIENT_GONE, None)
                return web.Response(status=CLIENT_GONE)  # written to nobody: aiohttp drops it
        except web.HTTPException as exc:
            if exc.status < 400:  # a redirect: aiohttp sends it
                metrics.request_done(route_name(request), request.method, exc.status, None)
                raise
            response = _error_response(request, exc)
        except Exception as exc:
            response = _error_response(request, exc)
        name = route_name(request)
        metrics.request_done(name, request.method, response.status,
                             None if name == "ws" else time.perf_counter() - started)
        return response

    admission = Admission(front)
    return front, admission


async def _prepare_scans(pool: LibraryPool) -> None:
    """Library.prepare_scans in the job thread (before any scan job): the first file added
    after start-up then takes no longer than the next. A failure only leaves that read to
    the first scan."""
    try:
        await pool.run_job(lambda library: library.prepare_scans())
    except Exception as exc:  # a busy or damaged catalog: the first scan reads it instead
        log.warning("could not prepare the steps after a scan: %s", exc)


def _register_gauges(ctx: ServerContext) -> None:
    metrics = ctx.metrics
    metrics.gauge("samplemind_ws_clients", "Connected WebSocket clients.",
                  lambda: [((), len(ctx.hub.clients))])
    metrics.gauge("samplemind_jobs_active", "Jobs queued or running.",
                  lambda: [((), ctx.jobs.active())])

    def figure(*keys: str) -> Callable[[], list[tuple[tuple[tuple[str, str], ...], float]]]:
        def read() -> list[tuple[tuple[tuple[str, str], ...], float]]:
            value: Any = ctx.scrape_figures
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            return [] if value is None else [((), float(value))]
        return read

    metrics.counter("samplemind_feature_cache_hits", "Feature cache hits (since the cache's "
                    "counters were last reset).", figure("cache", "hits"))
    metrics.counter("samplemind_feature_cache_misses", "Feature cache misses (since the cache's "
                    "counters were last reset).", figure("cache", "misses"))
    metrics.gauge("samplemind_feature_cache_entries", "Entries in the feature cache.",
                  figure("cache", "entries"))

    def record_cache(key: str) -> Callable[[], list[tuple[tuple[tuple[str, str], ...], float]]]:
        return lambda: [((), float(ctx.pool.records.stats()[key]))]

    metrics.counter("samplemind_record_cache_hits", "One-sample answers served from memory.",
                    record_cache("hits"))
    metrics.counter("samplemind_record_cache_misses", "One-sample answers read from the catalog.",
                    record_cache("misses"))
    metrics.gauge("samplemind_record_cache_bytes", "Memory held by cached one-sample answers.",
                  record_cache("bytes"))
    metrics.gauge("samplemind_record_cache_entries", "One-sample answers held in memory.",
                  record_cache("entries"))

    def neighbour_table(key: str) -> Callable[[], list[tuple[tuple[tuple[str, str], ...], float]]]:
        return lambda: [((), float(ctx.neighbours.stats()[key]))]

    metrics.gauge("samplemind_neighbour_table_samples",
                  "Samples whose nearest neighbours are held in memory.", neighbour_table("samples"))
    metrics.gauge("samplemind_neighbour_table_bytes", "Memory held by the neighbour table.",
                  neighbour_table("bytes"))
    metrics.counter("samplemind_neighbour_table_hits", "Similar answers looked up in the table.",
                    neighbour_table("hits"))
    metrics.counter("samplemind_neighbour_table_misses",
                    "Similar questions of the table's form searched live (table not current, "
                    "k above 16, or the sample not in it).",
                    neighbour_table("misses"))
    metrics.gauge("samplemind_catalog_samples", "Samples in the catalog.", figure("samples"))
    metrics.gauge("samplemind_catalog_generation", "Catalog generation.", figure("generation"))


def make_app(library_home: str | os.PathLike[str] | None = None, *,
             config: ServerConfig | None = None,
             security: Security | None = None) -> web.Application:
    """The server: routes, guards, jobs, events, metrics, over the Library in library_home.

    security: called with the application before it starts, to add the account layer
    (middlewares and login routes); it reads each route's required role from
    ROUTE_ROLES[request.match_info.route.name]. Without it the server has no accounts and
    relies on binding to loopback.
    """
    config = config or ServerConfig()
    logging.getLogger("aiohttp.server").addFilter(QUIET_CLIENT_ERRORS)  # once: filters are a set
    metrics = Metrics()
    pool = LibraryPool(library_home, threads=config.threads,
                       record_cache_bytes=int(config.record_cache_mb * 1024 * 1024))
    upload_dir = routes_jobs.upload_folder(
        Path(os.path.abspath(config.upload_dir)) if config.upload_dir
        else pool.paths.data_dir / "uploads")
    hub = EventHub(metrics)
    watcher = ChangeWatcher(pool, hub, config.poll_interval)
    jobs = JobManager(pool, hub, metrics, on_finished=lambda job: watcher.nudge())
    neighbours = NeighbourKeeper(pool)
    watcher.on_move = neighbours.refresh  # rebuilt (or marked current) before it is asked
    ctx = ServerContext(config=config, pool=pool, hub=hub, jobs=jobs, watcher=watcher,
                        metrics=metrics, upload_dir=upload_dir, neighbours=neighbours)
    _register_gauges(ctx)

    front, admission = _front(config, metrics)
    app = web.Application(middlewares=[front], client_max_size=JSON_BODY_LIMIT)
    app[ADMISSION] = admission
    app[CONTEXT] = ctx
    app[EXPORTS] = ExportStore()  # POST /api/v1/exports' pending downloads
    app[DOWNLOADS] = DownloadSlots(config.max_downloads, config.max_downloads_each)
    add_routes(app, ROUTES)

    async def start_and_stop(app: web.Application) -> Any:
        hub.loop = asyncio.get_running_loop()
        # A worker thread in pure Python (a scan, a similar search) holds the GIL for up to
        # the switch interval before the loop gets it back: 5 ms by default, the whole
        # WebSocket latency budget. 0.5 ms keeps events and one-sample answers prompt.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        await watcher.start()
        poller = asyncio.create_task(watcher.run())
        warming = asyncio.create_task(warm_up(pool))
        preparing = asyncio.create_task(_prepare_scans(pool))
        settling = asyncio.create_task(
            heap.keep_settled(warming, lambda: len(pool.records.entries)))
        neighbours.refresh()
        yield
        watcher.stop()
        await neighbours.close()
        for task in (poller, warming, preparing, settling):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        jobs.cancel_all()
        await asyncio.get_running_loop().run_in_executor(None, pool.close)
        sys.setswitchinterval(switch_interval)

    app.cleanup_ctx.append(start_and_stop)
    if security is not None:
        security(app)
    return app
