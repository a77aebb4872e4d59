"""Server events for WebSocket clients: job progress and samples added, updated, removed.

Sample events come from one place, a poller that diffs the catalog whenever its
generation moves (about once a second, and at once after the server's own writes), so
changes made by another process (``samplemind scan`` in a terminal) show up exactly like
the server's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from . import reads
from .libraries import LibraryPool
from .metrics import Metrics

log = logging.getLogger("samplemind.server")

CLIENT_QUEUE = 1000  # events a slow client may fall behind before it is dropped
IDS_PER_EVENT = 1000


class Client:
    """One connected WebSocket: the events waiting to be sent to it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(CLIENT_QUEUE)
        self.overflowed = False


class EventHub:
    """Fans events out to every connected client (on the event loop)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.clients: set[Client] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self) -> Client:
        """A new client that receives every event from now on."""
        client = Client()
        self.clients.add(client)
        return client

    def unsubscribe(self, client: Client) -> None:
        """Stop sending to a client."""
        self.clients.discard(client)

    def publish(self, event_type: str, data: Any) -> None:
        """Send an event to every client; call on the loop. A client too far behind is
        dropped (it reconnects and re-reads what it shows)."""
        if not self.clients:
            return
        text = json.dumps({"type": event_type, "data": data}, separators=(",", ":"))
        for client in list(self.clients):
            try:
                client.queue.put_nowait(text)
            except asyncio.QueueFull:
                client.overflowed = True
                self.clients.discard(client)
                with contextlib.suppress(asyncio.QueueFull):
                    client.queue.get_nowait()
                    client.queue.put_nowait(None)  # tells its sender to close
                continue
            self.metrics.ws_messages.inc(type=event_type)

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
        self.fingerprints: dict[int, int] = {}
        self._nudged = asyncio.Event()

    def nudge(self) -> None:
        """Look now rather than at the next tick (after the server's own writes)."""
        self._nudged.set()

    async def start(self) -> None:
        """Read the baseline: only changes after this are events."""
        self.generation, self.fingerprints = await self.pool.run(reads.change_fingerprints)

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._nudged.wait(), self.interval)
            self._nudged.clear()
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # a busy or damaged catalog: say so, try again next tick
                log.exception("could not check the catalog for changes")

    async def check(self) -> None:
        """Diff the catalog against the last look and publish the differences."""
        current = await self.pool.run(reads.generation)
        if current == self.generation:
            return
        generation, fingerprints = await self.pool.run(reads.change_fingerprints)
        before = self.fingerprints
        added = sorted(fingerprints.keys() - before.keys())
        removed = sorted(before.keys() - fingerprints.keys())
        updated = sorted(sample_id for sample_id, print_ in fingerprints.items()
                         if sample_id in before and before[sample_id] != print_)
        self.generation, self.fingerprints = generation, fingerprints
        for event_type, ids in (("samples.added", added), ("samples.updated", updated),
                                ("samples.removed", removed)):
            for start in range(0, len(ids), IDS_PER_EVENT):
                self.hub.publish(event_type, {"ids": ids[start:start + IDS_PER_EVENT],
                                              "generation": generation})
