"""The server's garbage-collector settings (server/heap.py): the heap is frozen once the
caches are warm, the young generation is collected less often, and both are undone when
the server stops; a small library's server leaves CPython's defaults alone."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from samplemind.server import heap


async def _frozen() -> None:
    """Return once keep_settled has frozen the heap (a generous ceiling: 20 s)."""
    for _ in range(2000):
        if gc.get_freeze_count():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the heap was never frozen")


async def _stopped(task: asyncio.Task[None], thresholds: tuple[int, int, int]) -> None:
    """Cancel keep_settled as the server's shutdown does: everything it changed is undone."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


class _Node:
    me: object = None


@pytest.mark.asyncio
async def test_a_big_cache_freezes_the_heap_after_warm_up_and_stopping_undoes_it() -> None:
    before = gc.get_threshold()
    gc.unfreeze()
    warm_up: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    garbage = _Node()
    garbage.me = garbage  # a reference cycle nothing else holds: only a collection frees it
    gone = weakref.ref(garbage)
    del garbage
    gc.disable()  # only keep_settled's own collection may free it
    try:
        task = asyncio.create_task(heap.keep_settled(warm_up, lambda: heap.SETTLE_FROM))
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() == 0, "frozen before the caches were warm"
        assert gone() is not None
        warm_up.set_result(None)
        await _frozen()
    finally:
        gc.enable()
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    assert gone() is None, "garbage was frozen instead of collected"
    await _stopped(task, before)


@pytest.mark.asyncio
async def test_a_small_library_keeps_the_defaults_until_its_cache_grows(monkeypatch) -> None:
    monkeypatch.setattr(heap, "RECHECK_SECONDS", 0.02)
    before = gc.get_threshold()
    size = {"cached": heap.SETTLE_FROM - 1}
    warm_up: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    warm_up.set_result(None)
    task = asyncio.create_task(heap.keep_settled(warm_up, lambda: size["cached"]))
    await asyncio.sleep(0.2)  # ten looks at a small cache
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    size["cached"] = heap.SETTLE_FROM  # the warm-up went on after a scan, say
    await _frozen()
    await _stopped(task, before)


@pytest.mark.asyncio
async def test_the_frozen_heap_is_handed_back_and_collected_every_period(monkeypatch) -> None:
    monkeypatch.setattr(heap, "REFREEZE_SECONDS", 0.05)
    collected: list[int] = []
    real_settle = heap.settle

    def counting() -> None:
        collected.append(gc.get_freeze_count())
        real_settle()

    monkeypatch.setattr(heap, "settle", counting)
    warm_up: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    warm_up.set_result(None)
    task = asyncio.create_task(heap.keep_settled(warm_up, lambda: heap.SETTLE_FROM))
    for _ in range(300):
        await asyncio.sleep(0.01)
        if len(collected) >= 3:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(collected) >= 3
    # Each settle starts from an unfrozen heap: cycles among old objects can be collected.
    assert collected == [0] * len(collected)
    assert gc.get_freeze_count() == 0
