"""Sending bodies to clients that may be slow or gone: a slow client slows only itself.

- ``send`` writes with a timeout: a client that takes nothing for ``write_timeout`` seconds
  is dropped (the connection aborted), and the handler stops its work.
- ``DownloadSlots`` bounds the zip downloads streaming at once, in all and per owner (a
  user or token; a client address with open access or no accounts); a download over the
  bound is refused at once with 503 and Retry-After, never queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ..errors import SampleMindError


class Busy(SampleMindError):
    """Too many downloads are streaming: try again shortly."""

    http_status = 503


SLICE = 64 * 1024  # the timeout is per slice: a slow client that keeps reading is kept


async def send(request: web.Request, response: web.StreamResponse, data: bytes,
               timeout: float) -> bool:
    """Write data; False when the client is gone or took nothing for `timeout` seconds
    (the connection is then aborted, so its buffers go too)."""
    view = memoryview(data)
    try:
        for start in range(0, len(view), SLICE):
            # asyncio.timeout, not wait_for: wait_for runs the write as a task of its own,
            # so even a write the socket takes at once waited a turn of the loop, and a
            # busy loop's turn is long (at 1,000 connections the audio answers spent most
            # of their 0.5 s in such turns).
            async with asyncio.timeout(timeout):
                await response.write(view[start:start + SLICE])
        return True
    except (TimeoutError, ConnectionError):
        drop(request)
        return False


def drop(request: web.Request) -> None:
    """Abort the request's connection."""
    transport = request.transport
    if transport is not None:
        transport.abort()


class DownloadSlots:
    """How many zip downloads stream at once, in all and for each owner."""

    def __init__(self, limit: int, each: int) -> None:
        self.limit = limit
        self.each = each
        self.by_owner: Counter[Any] = Counter()

    @property
    def active(self) -> int:
        """Downloads streaming now."""
        return sum(self.by_owner.values())

    @contextlib.contextmanager
    def hold(self, owner: Any) -> Iterator[None]:
        """A slot for one download while the block runs; Busy (503) when none is free."""
        if self.active >= self.limit:
            raise Busy(f"{self.active} downloads are streaming, the most this server sends at "
                       "once: try again shortly")
        if self.by_owner[owner] >= self.each:
            who = "client address" if owner and owner[0] == "address" else "user"
            raise Busy(f"you have {self.each} downloads streaming, the most one {who} may: "
                       "let one finish, then try again")
        self.by_owner[owner] += 1
        try:
            yield
        finally:
            self.by_owner[owner] -= 1
            if not self.by_owner[owner]:
                del self.by_owner[owner]


DOWNLOADS = web.AppKey("samplemind_downloads", DownloadSlots)
