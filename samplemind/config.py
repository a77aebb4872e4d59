"""Where state lives: catalog, cache and index paths, from SAMPLEMIND_HOME or platform dirs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "samplemind"
DEFAULT_CACHE_LIMIT = 2 * 1024**3  # 2 GiB of cached analysis before diskcache evicts
DEFAULT_TIMEOUT = 120.0  # seconds one file may take in a worker before it is failed


@dataclass(frozen=True)
class Paths:
    """The folders and files one library uses."""

    data_dir: Path
    cache_dir: Path

    @property
    def catalog(self) -> Path:
        """The SQLite catalog file."""
        return self.data_dir / "library.db"

    @property
    def index_dir(self) -> Path:
        """The folder of derived vector indexes."""
        return self.data_dir / "index"

    @property
    def feature_cache(self) -> Path:
        """The diskcache folder for analysed features."""
        return self.cache_dir / "features"


def resolve_paths(home: str | os.PathLike[str] | None = None) -> Paths:
    """Pick the state folders: an explicit home, else $SAMPLEMIND_HOME, else platform dirs."""
    chosen = home or os.environ.get("SAMPLEMIND_HOME")
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return Paths(data_dir=root, cache_dir=root / "cache")
    return Paths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME)),
    )


def default_jobs() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
