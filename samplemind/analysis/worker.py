"""Code that runs inside analysis worker processes.

Workers only compute and return plain data; they never touch the catalog or cache.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

# Test-only fault injection: "abort:NAME,hang:NAME,raise:NAME" makes a worker abort
# (like a segfaulting decoder), hang, or raise when it meets a file with that name;
# "kill-owner:NAME" kills the process that owns the pool (a Dask worker that dies).
FAULT_ENV = "SAMPLEMIND_FAULT_INJECT"

_owner_pid: int | None = None  # the process that started this worker's pool
_memory_limit = 0  # this worker's address-space ceiling in bytes (0: none)

Outcome = tuple[str, "dict[str, Any] | None", "str | None"]


def init_worker(fault_spec: str = "", owner_pid: int | None = None,
                memory_limit: int = 0) -> None:
    """Silence native libraries (ffmpeg writes to fd 2 directly), leave Ctrl-C to the parent
    and cap this worker's memory (limits.py: one hostile file fails alone).

    The parent hands over its fault-injection spec: workers fork from a long-lived
    forkserver whose environment may be older than the parent's.
    """
    global _owner_pid, _memory_limit
    _owner_pid = owner_pid
    _memory_limit = memory_limit
    if fault_spec:
        os.environ[FAULT_ENV] = fault_spec
    else:
        os.environ.pop(FAULT_ENV, None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    from . import extract  # noqa: F401  (warm: import Essentia once per worker)
    from .limits import apply_worker_ceiling

    apply_worker_ceiling(memory_limit)


def _die_with_parent() -> None:
    """On Linux, ask the kernel to kill this worker when its parent dies (kill -9 of a scan
    must not leave a hung worker behind)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pool's own shutdown still applies
        pass


def _faults() -> dict[str, str]:
    spec = os.environ.get(FAULT_ENV, "")
    faults = {}
    for item in filter(None, spec.split(",")):
        kind, _, name = item.partition(":")
        faults[name] = kind
    return faults


def _inject(path: str) -> None:
    fault = _faults().get(os.path.basename(path))
    if fault == "abort":
        os.abort()
    elif fault == "hang":
        while True:
            time.sleep(3600)
    elif fault == "raise":
        raise RuntimeError("injected failure")
    elif fault == "kill-owner" and _owner_pid:
        os.kill(_owner_pid, signal.SIGKILL)
        os._exit(1)


def analyse_file(path: str) -> dict[str, Any]:
    """Features and embedded metadata of one file (raises on failure)."""
    from . import extract, metadata

    if os.environ.get(FAULT_ENV):
        _inject(path)
    features = extract.analyse(path)
    return {"features": features, "embedded": metadata.read_embedded(path)}


def _out_of_memory() -> str:
    if _memory_limit:
        return (f"out of memory: analysing this file needed more than the worker's "
                f"{_memory_limit / 1024**3:.1f} GiB ceiling")
    return "out of memory while analysing"


def analyse_batch(paths: list[str]) -> list[Outcome]:
    """Analyse several files; a Python-level failure of one does not affect the others."""
    from ..errors import SampleMindError

    outcomes: list[Outcome] = []
    for path in paths:
        try:
            outcomes.append((path, analyse_file(path), None))
        except SampleMindError as exc:
            outcomes.append((path, None, str(exc)))
        except MemoryError:
            outcomes.append((path, None, _out_of_memory()))
        except Exception as exc:  # one bad file must not end the batch
            outcomes.append((path, None, f"analysis failed: {type(exc).__name__}: {exc}"))
    return outcomes
