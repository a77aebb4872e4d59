"""Two-step zip exports: POST /api/v1/exports takes a selection of any size (ids in a JSON
body, where GET /api/v1/export?q=id:... is bound by the 2000-character query limit) and
answers a short-lived download URL; GET /api/v1/exports/{token} streams the zip, so the
browser still writes it straight to disk.

Decisions, as the README states them:

- A selection is a non-empty list of at most MAX_IDS positive sample ids, or a query
  (``query``, as in the other POST bodies; evaluated when the download starts, as
  GET /api/v1/export does). Repeated ids count once; the zip lists the samples in path
  order, as an ``id:`` query would.
- Every id must be in the catalog when the export is made, or it is refused (404) naming
  how many are not: a kit silently missing sounds someone picked is worse than a clear
  "select again". A sample removed between the POST and the download is left out.
- A token is unguessable (secrets.token_urlsafe, 256 bits), kept in this process's memory
  only, valid for LIFETIME seconds after it was made, and may start MAX_USES downloads (a
  browser may retry; HEAD does not count). At most MAX_PENDING exports wait at once, and
  MAX_PENDING_EACH of one owner; the oldest is dropped to make room.
- With accounts, a token works only for whoever made it (the same user name through a
  session, or the same API token); anyone else gets the same 404 as an unknown token.
"""

from __future__ import annotations

import secrets
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..errors import NotFound, UsageError
from ..export import DEFAULT_PATTERN, compile_pattern, plan_export
from ..instruments import check_format
from ..library import Library
from .auth import USER_KEY
from .http import unique_ids

LIFETIME = 600.0  # seconds a download URL may be started after it was made
MAX_PENDING = 32  # exports waiting at once (each holds 8 bytes per id)
MAX_PENDING_EACH = 8  # of them for one owner: one user cannot push out everyone else's
MAX_USES = 3  # downloads one URL may start
MAX_IDS = 100_000
MAX_QUERY = 2000  # as GET /api/v1/export?q=
MAX_NAME = 100
MAX_PATTERN = 500
DEFAULT_NAME = "samplemind-kit"

Owner = tuple[str, str] | None  # ("user" | "token" | "local", name); None: no account layer


@dataclass
class PendingExport:
    """What one download URL exports, and for whom."""

    token: str
    owner: Owner
    ids: array | None  # the selected ids in zip order; None for a query
    query: str | None
    name: str
    pattern: str
    count: int
    created: float
    uses: int = 0
    instrument: str | None = None  # "sfz" or "decentsampler": a sampler instrument in the zip
    round_robin: bool = False


class ExportStore:
    """Pending exports by token, in memory, oldest first. Used on the event loop only."""

    def __init__(self, *, lifetime: float = LIFETIME, max_pending: int = MAX_PENDING,
                 max_each: int = MAX_PENDING_EACH, max_uses: int = MAX_USES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self.max_pending = max_pending
        self.max_each = max_each
        self.max_uses = max_uses
        self.clock = clock
        self._pending: OrderedDict[str, PendingExport] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._pending)

    def add(self, owner: Owner, *, ids: array | None, query: str | None, name: str,
            pattern: str, count: int, instrument: str | None = None,
            round_robin: bool = False) -> PendingExport:
        """A new pending export; drops the expired ones, then this owner's oldest while it
        has too many, then the oldest of all while there are too many."""
        self._expire()
        mine = [token for token, pending in self._pending.items() if pending.owner == owner]
        for token in mine[:max(0, len(mine) - self.max_each + 1)]:
            del self._pending[token]
        while len(self._pending) >= self.max_pending:
            self._pending.popitem(last=False)
        token = secrets.token_urlsafe(32)
        pending = PendingExport(token, owner, ids, query, name, pattern, count, self.clock(),
                                instrument=instrument, round_robin=round_robin)
        self._pending[token] = pending
        return pending

    def find(self, token: str, owner: Owner) -> PendingExport | None:
        """The export of a token, if it is current, has uses left and belongs to owner."""
        self._expire()
        pending = self._pending.get(token)
        if pending is None or pending.owner != owner or pending.uses >= self.max_uses:
            return None
        return pending

    def use(self, pending: PendingExport) -> None:
        """A download of it starts; forgotten after its last use."""
        pending.uses += 1
        if pending.uses >= self.max_uses:
            self._pending.pop(pending.token, None)

    def _expire(self) -> None:
        deadline = self.clock() - self.lifetime
        while self._pending:
            oldest = next(iter(self._pending.values()))
            if oldest.created > deadline:
                break
            self._pending.popitem(last=False)


EXPORTS = web.AppKey("samplemind_exports", ExportStore)


def owner_of(request: web.Request) -> Owner:
    """Who made a request, as a token's owner: the account layer's user (by session and
    by API token kept apart), or None on a server without it."""
    user = request.get(USER_KEY)
    if not isinstance(user, dict):
        return None
    via = user.get("via")
    return (via if via in ("token", "local") else "user"), str(user.get("name"))


# -- the POST body ----------------------------------------------------------------------------


@dataclass
class ExportRequest:
    """A checked POST body."""

    ids: list[int] | None
    query: str | None
    name: str
    pattern: str
    instrument: str | None = None
    round_robin: bool = False


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if not value:
        return None
    if "\x00" in value:
        raise UsageError(f"/{key} may not contain NUL characters")
    return value


def parse_request(body: dict[str, Any], safe_name: Callable[[str], str]) -> ExportRequest:
    """A POST /api/v1/exports body its route's schema passed (fields, types, lengths, ids
    or query: routes_files.EXPORT_BODY), checked for what a schema cannot say; UsageError
    (400) says what is wrong."""
    ids = unique_ids(body["ids"]) if "ids" in body else None
    query = _text(body, "query") or ""
    pattern = _text(body, "pattern") or DEFAULT_PATTERN
    compile_pattern(pattern)  # a bad pattern is refused now, not in the download
    name = safe_name(_text(body, "name") or DEFAULT_NAME)
    instrument = _text(body, "as")
    if instrument is not None:
        instrument = check_format(instrument)
    round_robin = body.get("round_robin", False)
    if round_robin and instrument is None:
        raise UsageError('round_robin shapes an instrument: add "as": "sfz" or "decentsampler"')
    return ExportRequest(ids, None if ids is not None else query, name, pattern, instrument,
                         round_robin)


# -- the catalog side (worker threads) ----------------------------------------------------------


def resolve_ids(library: Library, ids: list[int]) -> array:
    """The ids in zip order (by path); NotFound naming how many are not in the catalog."""
    paths = library.paths_by_id(ids)
    found = sorted((path, sample_id) for sample_id, path in paths.items())
    if len(found) < len(ids):
        missing = [i for i in ids if i not in paths]
        shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        raise NotFound(f"{len(missing):,} of the {len(ids):,} selected ids are not in the "
                       f"catalog (removed since they were selected?): {shown}")
    return array("q", (sample_id for _, sample_id in found))


def count_query(library: Library, query: str) -> int:
    """How many samples a query exports; NotFound when none (as GET /api/v1/export says)."""
    count = library.count(query or None)
    if not count:
        raise NotFound("no samples match the query: nothing to export")
    return count


def check_pattern(library: Library, pattern: str, ids: array | None, query: str | None) -> None:
    """Name the first sample under the pattern: an unknown {field} is refused now (400),
    not once the download has begun."""
    if ids is not None:
        record = next(iter(library.records_by_id([ids[0]])), None)
    else:
        sample = next(library.ls(query or None, limit=1), None)
        record = sample.to_json() if sample is not None else None
    if record is not None:
        plan_export([record], pattern)


def records_of(library: Library, ids: array) -> list[dict[str, Any]]:
    """The records of the ids still in the catalog, in the ids' order."""
    return library.records_by_id(ids)
