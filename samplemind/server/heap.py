"""The cyclic garbage collector of a long-running server: pauses short and rare.

A full collection walks every tracked object, and the server keeps hundreds of thousands
for as long as it runs: the record cache's answers, the change watcher's ids, the modules.
CPython starts one whenever the objects promoted since the last one exceed a quarter of the
survivors, and at a thousand connections the objects of the requests in flight are promoted
all the time: at 100,000 samples `benchmarks/serve.py`'s mixes saw 14 full collections a
minute of 100-190 ms each, every request in flight waiting for each.

So, once the caches are filled at start, what is alive then is moved out of the collector's
sight (gc.freeze: objects in no reference cycle are still freed by their reference counts,
which is how a cache entry goes), and the young generation is collected less often, so that
fewer requests in flight are promoted. Every REFREEZE_SECONDS the frozen objects are handed
back and collected once (one pause, the old cost), so cycles that formed among them are not
kept for ever, and what is alive then is frozen again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("samplemind.server")

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)
REFREEZE_SECONDS = 600.0
SETTLE_FROM = 10_000  # cached answers below which a full collection is quick anyway
RECHECK_SECONDS = 60.0  # how often a heap below SETTLE_FROM is looked at again


def settle() -> None:
    """Collect everything now, then freeze what is alive."""
    gc.collect()
    gc.freeze()


async def keep_settled(ready: asyncio.Future[Any], cached: Callable[[], int]) -> None:
    """Once `ready` (the warm-up of the caches) is done and `cached()` (answers in the
    record cache) is at least SETTLE_FROM (looked at every RECHECK_SECONDS): collect the
    young generation less often, freeze the heap, and refreeze it every REFREEZE_SECONDS.
    A task for the server's lifetime."""
    try:
        await ready
    except Exception:  # the warm-up failing is logged where it runs
        pass
    # A small library's heap: CPython's defaults do. The cache may fill later (its warm-up
    # stops while a scan runs): look again now and then.
    while cached() < SETTLE_FROM:
        await asyncio.sleep(RECHECK_SECONDS)
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, thresholds[1], thresholds[2])
    try:
        while True:
            gc.unfreeze()
            settle()
            log.debug("heap settled: %d objects frozen", gc.get_freeze_count())
            await asyncio.sleep(REFREEZE_SECONDS)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
