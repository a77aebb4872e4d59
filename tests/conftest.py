"""Shared fixtures: every test gets its own SAMPLEMIND_HOME; nothing touches a real home."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

# A suite started in the background by a non-interactive shell (`.ci/run &`) inherits SIGINT
# ignored, and so would every CLI process the tests start (an ignored signal stays ignored
# across exec, and Python then installs no Ctrl-C handler): the Ctrl-C tests need what a
# terminal gives. A handler here is reset to the default in each child.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def samplemind_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state folder for each test."""
    home = tmp_path / "home"
    monkeypatch.setenv("SAMPLEMIND_HOME", str(home))
    monkeypatch.delenv("SAMPLEMIND_FAULT_INJECT", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def library(samplemind_home: Path):
    """An open Library in the test's home, with two workers."""
    from samplemind import Library

    lib = Library(samplemind_home, jobs=2, timeout=30)
    yield lib
    lib.close()


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A small pack: four kicks, four hats and a 120 BPM loop (helpers.write_small_pack)."""
    from helpers import write_small_pack

    return write_small_pack(tmp_path / "Pack")


@pytest.fixture
def pack_home(library, pack: Path) -> Path:
    """The state folder of a library that has scanned `pack`."""
    assert library.scan([pack]).added == 9
    return library.paths.data_dir


def pytest_configure(config: pytest.Config) -> None:
    # Native decoders must not inherit a huge thread pool per worker on 2 cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
