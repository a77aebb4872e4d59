"""The WebSocket: one stream of server events per client (job progress, sample changes)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from .. import __version__
from .guards import check_origin
from .http import context, encode
from .routing import VIEWER, Route

HEARTBEAT = 30.0
PONG = encode({"type": "pong", "data": None})


async def websocket(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    check_origin(request, ctx.config, always=True)
    # No permessage-deflate: every event is framed once for all clients (events.py).
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=64 * 1024, compress=False)
    await ws.prepare(request)
    hello = {"type": "hello", "data": {
        "version": __version__, "generation": ctx.watcher.generation,
        "jobs": [job.to_json() for job in ctx.jobs.list() if not job.finished]}}
    closing: list[asyncio.Task[None]] = []

    def drop() -> None:  # fell too far behind: it reconnects and re-reads
        closing.append(asyncio.ensure_future(ws.close(code=1013, message=b"too slow: reconnect")))

    assert request.transport is not None  # prepared: the connection is open
    client = ctx.hub.subscribe(request.transport, drop)
    try:
        # Written before anything else can run (send_frame writes before it could wait), so
        # hello comes first and no event published from now on is missed.
        await ws.send_frame(encode(hello), WSMsgType.TEXT)  # the one encoder (http.py)
        async for message in ws:
            # Clients only listen; "ping" is answered so they can measure the round trip.
            if message.type == WSMsgType.TEXT and message.data == "ping":
                await ws.send_frame(PONG, WSMsgType.TEXT)
    finally:
        ctx.hub.unsubscribe(client)
        for task in closing:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
    return ws


ROUTES = [
    Route("GET", "/api/v1/ws", "ws", websocket, VIEWER,
          "WebSocket of server events: hello, job, samples.added, samples.updated, "
          "samples.removed (each {type, data}).",
          produces="application/json", responses={101: "Switching to WebSocket.",
                                                  403: "Origin not allowed."}),
]
