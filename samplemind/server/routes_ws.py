"""The WebSocket: one stream of server events per client (job progress, sample changes)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import WSMsgType, web

from .. import __version__
from .events import Client
from .guards import check_origin
from .http import context
from .routing import VIEWER, Route

HEARTBEAT = 30.0


async def _send_events(ws: web.WebSocketResponse, client: Client) -> None:
    while True:
        text = await client.queue.get()
        if text is None:  # fell too far behind: the client reconnects and re-reads
            await ws.close(code=1013, message=b"too slow: reconnect")
            return
        await ws.send_str(text)


async def websocket(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    check_origin(request, ctx.config, always=True)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=64 * 1024)
    await ws.prepare(request)
    client = ctx.hub.subscribe()
    hello = {"type": "hello", "data": {
        "version": __version__, "generation": ctx.watcher.generation,
        "jobs": [job.to_json() for job in ctx.jobs.list() if not job.finished]}}
    await ws.send_str(json.dumps(hello, separators=(",", ":")))
    sender = asyncio.create_task(_send_events(ws, client))
    try:
        async for message in ws:
            # Clients only listen; "ping" is answered so they can measure the round trip.
            if message.type == WSMsgType.TEXT and message.data == "ping":
                await ws.send_str('{"type":"pong","data":null}')
    finally:
        ctx.hub.unsubscribe(client)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
    return ws


ROUTES = [
    Route("GET", "/api/v1/ws", "ws", websocket, VIEWER,
          "WebSocket of server events: hello, job, samples.added, samples.updated, "
          "samples.removed (each {type, data}).",
          produces="application/json", responses={101: "Switching to WebSocket.",
                                                  403: "Origin not allowed."}),
]
