"""Review of the audio route's Range handling: a hostile Range header is never a 500, and
empty list elements are read as RFC 9110 5.6.1 asks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
import soundfile as sf

from samplemind.server import ServerConfig, make_app
from samplemind.server.routes_files import parse_ranges


@pytest_asyncio.fixture
async def audio_client(library, samplemind_home: Path, tmp_path: Path, aiohttp_client):
    path = tmp_path / "lib" / "Kick.wav"
    path.parent.mkdir(parents=True)
    sf.write(path, 0.5 * np.sin(np.arange(22050) / 10.0).astype(np.float32), 22050)
    assert library.scan([path.parent]).failed == 0
    sample_id = next(iter(library.ls())).id
    library.close()
    client = await aiohttp_client(make_app(samplemind_home, config=ServerConfig(threads=2)))
    return client, f"/api/v1/samples/{sample_id}/audio", path.read_bytes()


@pytest.mark.asyncio
async def test_a_range_with_thousands_of_digits_is_not_a_server_error(audio_client) -> None:
    client, url, data = audio_client
    for header in ("bytes=0-" + "9" * 5000, "bytes=-" + "9" * 5000, "bytes=" + "1" * 5000 + "-"):
        response = await client.get(url, headers={"Range": header})
        assert response.status in (200, 206, 416), (header[:20], response.status)
        if response.status == 200:
            assert await response.read() == data


def test_empty_list_elements_in_a_range_are_skipped() -> None:
    assert parse_ranges("bytes=0-1,,5-6, ", 100) == [(0, 1), (5, 6)]
    assert parse_ranges("bytes=,", 100) is None
    assert parse_ranges("bytes=" + "1" * 5000 + "-", 100) is False  # starts past the end
    assert parse_ranges("bytes=0-" + "9" * 5000, 100) == [(0, 99)]
    assert parse_ranges("bytes=-" + "9" * 5000, 100) == [(0, 99)]


# The audio route answers from what the record cache knows of the file (path, size, mtime,
# roots): each change another process commits must reach it before the next request.

def _tone(path: Path, seconds: float) -> bytes:
    frames = int(22050 * seconds)
    sf.write(path, 0.5 * np.sin(np.arange(frames) / 7.0).astype(np.float32), 22050)
    return path.read_bytes()


@pytest.mark.asyncio
async def test_audio_follows_a_rescan_a_move_and_a_forget_by_another_process(
        audio_client, samplemind_home: Path, tmp_path: Path) -> None:
    from samplemind import Library

    client, url, data = audio_client
    path = tmp_path / "lib" / "Kick.wav"
    first = await client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status == 206 and await first.read() == data[:100]
    etag = first.headers["ETag"]

    # Rewritten on disk: refused until rescanned (the catalog's size is not the file's) ...
    longer = _tone(path, 1.5)
    assert len(longer) != len(data)
    refused = await client.get(url)
    assert refused.status == 409
    # ... then served whole, with the new size, by a scan in another process's Library.
    other = Library(samplemind_home, jobs=1, timeout=30)
    try:
        assert other.scan([path.parent]).failed == 0
        assert [s.id for s in other.ls()] == [int(url.split("/")[-2])]
        served = await client.get(url)
        assert served.status == 200 and await served.read() == longer
        assert served.headers["ETag"] != etag
        tail = await client.get(url, headers={"Range": "bytes=-10"})
        assert tail.status == 206 and await tail.read() == longer[-10:]
        assert tail.headers["Content-Range"] == f"bytes {len(longer) - 10}-{len(longer) - 1}/{len(longer)}"

        # Moved within the library and rescanned: served from its new path.
        moved = path.parent / "Drums" / "Kick.wav"
        moved.parent.mkdir()
        path.rename(moved)
        other.scan([path.parent])
        assert [s.path for s in other.ls()] == [str(moved)]
        after_move = await client.get(url)
        assert after_move.status == 200 and await after_move.read() == longer

        # Forgotten: no such sample, though its file is still on disk.
        other.forget(int(url.split("/")[-2]))
        gone = await client.get(url)
        assert gone.status == 404
        assert "no sample has id" in (await gone.json())["error"]
    finally:
        other.close()


@pytest.mark.asyncio
async def test_audio_ranges_past_the_first_chunk_and_across_chunks(
        library, samplemind_home: Path, tmp_path: Path, aiohttp_client) -> None:
    # A file of several read chunks (routes_files.CHUNK): the first one is read while the
    # file is opened, the rest a chunk per call; every range must come back byte for byte.
    from samplemind.server.routes_files import CHUNK

    path = tmp_path / "lib" / "Pad.wav"
    path.parent.mkdir(parents=True)
    data = _tone(path, 14.0)
    assert len(data) > 2 * CHUNK
    assert library.scan([path.parent]).failed == 0
    sample_id = next(iter(library.ls())).id
    library.close()
    client = await aiohttp_client(make_app(samplemind_home, config=ServerConfig(threads=2)))
    url = f"/api/v1/samples/{sample_id}/audio"
    whole = await client.get(url)
    assert whole.status == 200 and await whole.read() == data
    for first, last in ((0, CHUNK), (CHUNK - 1, 2 * CHUNK + 5), (len(data) - 3, len(data) - 1)):
        part = await client.get(url, headers={"Range": f"bytes={first}-{last}"})
        assert part.status == 206 and await part.read() == data[first:last + 1], (first, last)
    several = await client.get(url, headers={"Range": f"bytes=0-9,{CHUNK + 1}-{CHUNK + 20}"})
    assert several.status == 206
    body = await several.read()
    assert data[:10] in body and data[CHUNK + 1:CHUNK + 21] in body
    head = await client.head(url, headers={"Range": "bytes=5-"})
    assert head.status == 206 and head.headers["Content-Length"] == str(len(data) - 5)
    since = await client.get(url, headers={"If-Modified-Since": whole.headers["Last-Modified"]})
    assert since.status == 304


@pytest.mark.asyncio
async def test_a_file_is_closed_only_after_the_read_its_cancelled_handler_left_running() -> None:
    # Unbuffered files: closing on the loop while a read runs in a stream thread could let
    # another open take the descriptor number first (routes_files._SteppedFile).
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from samplemind.server.routes_files import _SteppedFile

    release = threading.Event()
    reading = threading.Event()

    class Handle:
        closed = False

        def read(self, size: int) -> bytes:
            reading.set()
            release.wait(30)
            return b"x" * size

        def close(self) -> None:
            self.closed = True

    handle = Handle()
    with ThreadPoolExecutor(1) as executor:
        file = _SteppedFile(handle, executor)  # type: ignore[arg-type]
        step = asyncio.ensure_future(file.step(handle.read, 4))
        await asyncio.get_running_loop().run_in_executor(None, reading.wait, 30)
        step.cancel()  # the client left: the handler is cancelled mid-read
        with pytest.raises(asyncio.CancelledError):
            await step
        file.close()
        assert not handle.closed, "closed while its read was still running"
        release.set()
    assert handle.closed  # once the read is done
