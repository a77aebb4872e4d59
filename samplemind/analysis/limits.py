"""What real audio looks like, and how much memory one analysis may take.

Two lines of defence against files built to exhaust a worker:

1. :func:`check_declared` refuses, before decoding, numbers no real recording has: a rate
   outside 1 kHz-768 kHz, a non-finite rate, no channels or more than ``MAX_CHANNELS``.
   It runs again on what the decoder reports, which can differ from the header.
2. :func:`apply_worker_ceiling` caps each analysis worker's data memory, so a file that
   gets past the checks (a lying compressed stream, say) fails alone with "out of memory"
   instead of taking the machine: :func:`worker_memory_ceiling` sizes it from the
   machine's memory and the number of workers (README: "Memory").
"""

from __future__ import annotations

import math
import os

from samplemind.errors import DecodeError

MIN_SAMPLE_RATE = 1_000  # telephone audio is 8 kHz; nothing real is below 1 kHz
MAX_SAMPLE_RATE = 768_000  # the highest rate any converter ships (DXD x2 / 768 kHz PCM)
MAX_CHANNELS = 32  # 3rd-order ambisonics is 16; the analysis uses a mono mix anyway

CEILING_ENV = "SAMPLEMIND_WORKER_MEMORY_MB"
MIN_CEILING = 1536 * 1024**2  # the largest in-memory file (LONG_FILE_SAMPLES) fits easily
MAX_CEILING = 4 * 1024**3  # more is never needed: long files are streamed
MEMORY_SHARE = 0.5  # the workers together may take half the machine's memory


def check_declared(sample_rate: float | None, channels: int | None, where: str = "header") -> None:
    """Raise DecodeError, in words, for a rate or channel count no real audio has."""
    if sample_rate is not None:
        if not math.isfinite(sample_rate):
            raise DecodeError(f"unsupported: the {where} declares a sample rate of "
                              f"{sample_rate} Hz (not a real number)")
        if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise DecodeError(f"unsupported: the {where} declares a sample rate of "
                              f"{_rate(sample_rate)}; real audio is 1 kHz to 768 kHz")
    if channels is not None:
        if channels <= 0:
            raise DecodeError(f"unsupported: the {where} declares {channels} audio channels")
        if channels > MAX_CHANNELS:
            raise DecodeError(f"unsupported: the {where} declares {channels} audio channels; "
                              f"samplemind analyses at most {MAX_CHANNELS}")


def _rate(value: float) -> str:
    if abs(value) >= 1e12:
        return f"{value:.3g} Hz"
    return f"{value:,.0f} Hz"


def total_memory() -> int:
    """This machine's physical memory in bytes (a cgroup limit, when lower, wins)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a modest machine
        total = 8 * 1024**3
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        if text.isdigit():
            total = min(total, int(text))
    except OSError:
        pass
    return total


def worker_memory_ceiling(workers: int) -> int:
    """Bytes of data memory one analysis worker may use: half the memory shared by the
    workers, between 1.5 and 4 GiB; SAMPLEMIND_WORKER_MEMORY_MB overrides (0: no ceiling)."""
    override = os.environ.get(CEILING_ENV, "").strip()
    if override:
        try:
            return max(0, int(float(override) * 1024**2))
        except ValueError:
            pass  # a typo must not remove the ceiling: fall through to the computed one
    share = int(total_memory() * MEMORY_SHARE / max(1, workers))
    return max(MIN_CEILING, min(MAX_CEILING, share))


def apply_worker_ceiling(limit_bytes: int) -> None:
    """Cap this process's data memory at ``limit_bytes`` (0: leave it).

    RLIMIT_DATA (Linux 4.7+: every private writable mapping, so the heap, NumPy's arrays
    and Essentia's buffers) rather than RLIMIT_AS: the address space also counts the
    reserved-but-unused arenas of each thread and the shared libraries, which say nothing
    about what a file costs. An allocation past it fails: MemoryError in NumPy,
    std::bad_alloc in Essentia (decode.py turns that into MemoryError).
    """
    if limit_bytes <= 0:
        return
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit_bytes = min(limit_bytes, hard)
        if soft == resource.RLIM_INFINITY or soft > limit_bytes:
            resource.setrlimit(resource.RLIMIT_DATA, (limit_bytes, hard))
    except (ImportError, ValueError, OSError):  # not POSIX, or not allowed: no ceiling
        pass
