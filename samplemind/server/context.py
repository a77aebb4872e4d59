"""The server's configuration and shared state, stored on the aiohttp Application."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .events import ChangeWatcher, EventHub
    from .jobs import JobManager
    from .libraries import LibraryPool
    from .metrics import Metrics
    from .neighbour_keeper import NeighbourKeeper

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass
class ServerConfig:
    """What `samplemind serve` was started with."""

    host: str = "127.0.0.1"
    port: int = 8000
    allow_hosts: tuple[str, ...] = ()  # extra Host header names (DNS-rebinding guard); "*" = any
    allow_origins: tuple[str, ...] = ()  # extra browser origins, e.g. "https://ui.example:8443"
    allow_delete: bool = False  # DELETE .../file may delete files on disk
    upload_dir: Path | None = None  # default: <data dir>/uploads
    max_upload_bytes: int = 512 * 1024 * 1024
    scan_roots: tuple[str, ...] = ()  # folders POST /scans may name besides the catalog's roots
    threads: int = 4  # request worker threads (each with its own Library)
    poll_interval: float = 1.0  # longest wait between catalog change checks (a commit: 50 ms)
    record_cache_mb: float = 256.0  # encoded one-sample answers kept in memory
    write_timeout: float = 60.0  # seconds a download may wait on a client that reads nothing
    max_downloads: int = 16  # zip downloads streaming at once (more: 503, try again)
    max_downloads_each: int = 4  # of them for one user (or one address without accounts)

    def allowed_hosts(self) -> frozenset[str]:
        """Host header names accepted: loopback names, the bind host, --allow-host."""
        names = {*LOOPBACK_HOSTS, *(h.lower() for h in self.allow_hosts)}
        if self.host not in ("0.0.0.0", "::", ""):
            names.add(self.host.lower())
            if ":" in self.host and not self.host.startswith("["):
                names.add(f"[{self.host.lower()}]")
        return frozenset(names)


@dataclass
class ServerContext:
    """Everything the handlers share."""

    config: ServerConfig
    pool: LibraryPool
    hub: EventHub
    jobs: JobManager
    watcher: ChangeWatcher
    metrics: Metrics
    upload_dir: Path
    neighbours: NeighbourKeeper
    started_at: float = field(default_factory=time.time)
    scrape_figures: dict[str, Any] = field(default_factory=dict)  # read at /metrics time


CONTEXT = web.AppKey("samplemind", ServerContext)
