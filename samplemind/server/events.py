"""Server events for WebSocket clients: job progress and samples added, updated, removed.

Sample events come from one place, a poller that reads the catalog's change feed
whenever its generation moves, so changes made by another process (``samplemind scan`` in a
terminal) show up exactly like the server's own. It looks every QUICK_LOOK seconds whether
any connection committed (the record cache's ``data_version``: a read of the WAL's shared
memory, a tenth of a microsecond, on the loop) and reads the generation after a commit, at
once after the server's own writes, and at least once a `interval` anyway; so a scan's
new samples are announced within about QUICK_LOOK of their commit, not up to a second
later. A move costs O(changes): the ids whose row, tags or overrides changed since the last
look (``sample_changes``, kept by catalog triggers) and the ids removed since
(``removed``). Added and updated are told apart by a set of the ids this feed has seen.

Removals the saved vector index has applied get pruned from the catalog
(``Catalog.prune_removed``). A feed whose position is older than the prune (a long
stall, or a prune racing a tick) cannot trust ``removed``: it then re-lists every id once
and diffs that against its set. That is the only O(library) read, and it is rare.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .http import encode
from .libraries import LibraryPool
from .metrics import Metrics

log = logging.getLogger("samplemind.server")

IDS_PER_EVENT = 1000
QUICK_LOOK = 0.05  # seconds between the poller's looks at whether anything committed
# Bytes a client may leave unsent in our buffer (beyond what the kernel holds) before it is
# dropped as too slow (close code 1013; it reconnects and re-reads what it shows).
SLOW_CLIENT_BYTES = 1024 * 1024


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented WebSocket text frame (RFC 6455 5.2), as a server sends;
    payload: valid UTF-8 (http.encode makes it)."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


class Client:
    """One connected WebSocket: its transport, and what to do when it falls behind."""

    def __init__(self, transport: asyncio.Transport, drop: Callable[[], None]) -> None:
        self.transport = transport
        self.drop = drop
        self.overflowed = False


class EventHub:
    """Fans events out to every connected client (on the event loop).

    An event is encoded and framed once, then written to each client's transport: no task
    per client and no per-client encoding (permessage-deflate is off for this reason), so
    a thousand clients cost a thousand buffered writes. The frames are whole, and the loop
    is single-threaded, so they never interleave with aiohttp's own (pings, close).
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.clients: set[Client] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, transport: asyncio.Transport, drop: Callable[[], None]) -> Client:
        """A new client that receives every event from now on; drop() is called (once)
        if it falls too far behind."""
        client = Client(transport, drop)
        self.clients.add(client)
        return client

    def unsubscribe(self, client: Client) -> None:
        """Stop sending to a client."""
        self.clients.discard(client)

    def publish(self, event_type: str, data: Any) -> None:
        """Send an event to every client; call on the loop."""
        if not self.clients:
            return
        # The server's one encoder: valid UTF-8, undecodable bytes of names as \xHH with
        # a <field>_b64 sibling, exactly as the HTTP answers (GET /api/v1/jobs/{id}) say it.
        frame = text_frame(encode({"type": event_type, "data": data}))
        sent = 0
        for client in list(self.clients):
            transport = client.transport
            if transport.is_closing():
                self.clients.discard(client)
                continue
            if transport.get_write_buffer_size() > SLOW_CLIENT_BYTES:
                client.overflowed = True
                self.clients.discard(client)
                client.drop()
                continue
            transport.write(frame)
            sent += 1
        if sent:
            self.metrics.ws_messages.inc(sent, type=event_type)

    def publish_threadsafe(self, event_type: str, data: Any) -> None:
        """publish() from a worker thread."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.publish, event_type, data)


class ChangeWatcher:
    """Polls the catalog generation and publishes what changed as sample events."""

    def __init__(self, pool: LibraryPool, hub: EventHub, interval: float = 1.0) -> None:
        self.pool = pool
        self.hub = hub
        self.interval = interval
        self.generation = -1
        self.known: set[int] = set()  # ids this feed has reported (or started with)
        self.resyncs = 0  # times removals had been pruned past our position
        self.on_move: Callable[[], None] | None = None  # called when the generation moved
        self._nudged = False
        self._waiter: asyncio.Future[None] | None = None  # run()'s pause, ended by a nudge
        self._stopping = False

    def nudge(self) -> None:
        """Look now rather than at the next tick (after the server's own writes); on the
        loop."""
        self._nudged = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def start(self) -> None:
        """Read the baseline: only changes after this are events."""
        self.generation, self.known = await self.pool.run(lambda library: library.changes.ids())

    def stop(self) -> None:
        """Make run() return at its next tick: the flag ends the loop even if a cancellation
        is lost (Python 3.11's wait_for, which this loop used, could swallow one that landed
        as its timeout fired; the loop then polled forever and the server's shutdown waited)."""
        self._stopping = True
        self.nudge()

    async def run(self) -> None:
        """Poll until stopped or cancelled: check() after a commit by anyone (seen by a look
        every QUICK_LOOK), after a nudge, and at least every `interval`."""
        loop = asyncio.get_running_loop()
        seen: int | None = None  # the data version of the last check
        due = 0.0  # the loop time of the next check, commit or not
        while not self._stopping:
            await self._pause(min(self.interval, QUICK_LOOK))
            nudged, self._nudged = self._nudged, False
            if self._stopping:
                return
            try:
                version = self.pool.records.committed()
                if not nudged and version == seen and loop.time() < due:
                    continue
                seen, due = version, loop.time() + self.interval
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # a busy or damaged catalog: say so, try again after `interval`
                log.exception("could not check the catalog for changes")
                await self._pause(self.interval)  # not 20 tracebacks a second

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if nudged: a future and a timer (asyncio.wait_for on an
        Event made a task every tick, 20 times a second)."""
        if self._nudged:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    async def check(self) -> None:
        """Read what changed since the last look and publish it."""
        current = await self.pool.run(lambda library: library.changes.generation())
        if current == self.generation:
            return
        generation, changed, removed, everyone = await self.pool.run(
            lambda library, since: library.changes.since(since), self.generation)
        if self.on_move is not None:
            self.on_move()
        known = self.known
        if everyone is not None:  # removals were pruned past our position: diff the ids
            self.resyncs += 1
            removed = sorted(known - everyone)
        else:
            removed = [sample_id for sample_id in removed if sample_id in known]
        known.difference_update(removed)
        added = [sample_id for sample_id in changed if sample_id not in known]
        updated = [sample_id for sample_id in changed if sample_id in known]
        known.update(added)
        self.generation = generation
        for event_type, ids in (("samples.added", added), ("samples.updated", updated),
                                ("samples.removed", removed)):
            for start in range(0, len(ids), IDS_PER_EVENT):
                self.hub.publish(event_type, {"ids": ids[start:start + IDS_PER_EVENT],
                                              "generation": generation})


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
