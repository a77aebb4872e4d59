"""The Library: the one API the CLI, the server and the tests call.

It owns the catalog, the feature cache, the vector index and the analysis pool. Data flows
one way: walk and stat -> hash what changed -> cache -> pool -> catalog (the stages are in
scan.py). ARCHITECTURE.md says which module owns what.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .analysis.versions import analysis_version
from .cache import FeatureCache
from .catalog import Catalog, ChangeFeed, now_iso
from .closing import Closing
from .config import DEFAULT_TIMEOUT, Paths, default_jobs, resolve_paths
from .errors import (
    AnalysisError,
    BadValue,
    CatalogError,
    Forbidden,
    NotFound,
    QueryError,
    UsageError,
)
from .models import (
    DupeAction,
    DupeGroup,
    FileFailure,
    Hit,
    LayerSet,
    Sample,
    ScanReport,
    versioned,
)
from .roots import user_path
from .scan import ProgressCallback, ScanPipeline, re_resolve, refine_categories, resolve_roots
from .scanner import hash_file

if TYPE_CHECKING:  # FAISS and NumPy load only when a command needs them
    import numpy as np

    from .analysis.executors import AnalysisExecutor
    from .similarity.manager import IndexManager
    from .similarity.neighbours import NeighbourTable

_ID_CHUNK = 500  # ids per SQL statement (well under SQLite's variable limit)
RARE_TAG_FACTOR = 64  # a tag: term carried by fewer than sqrt(64 x samples) reads the tags first
log = logging.getLogger(__name__)


BpmFilter = str | float | tuple[float | None, float | None] | None


def _bpm_words(bpm: BpmFilter) -> str | None:
    """A tempo filter as `ls --bpm` writes it: "118..130", "120"; a (low, high) pair with
    None for an open end, or a number, in the same words."""
    if bpm is None or isinstance(bpm, str):
        return bpm
    if isinstance(bpm, (tuple, list)) and len(bpm) == 2:
        ends = []
        for end in bpm:
            if end is not None and (isinstance(end, bool) or not isinstance(end, (int, float))):
                raise BadValue("bpm", f"range ends must be numbers or None, not {end!r}")
            ends.append("" if end is None else repr(float(end)))
        return "..".join(ends) if any(ends) else None  # both ends open: no filter
    if isinstance(bpm, (int, float)) and not isinstance(bpm, bool):
        return str(bpm)
    raise BadValue("bpm", f"must be a tempo, a range such as \"118..130\" or a (low, high) "
                   f"pair, not {bpm!r}")


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise BadValue("min_confidence", f"must be a number from 0 to 1, not {value!r}")
    return float(value)


def id_of(ref: str | int | os.PathLike[str]) -> int | None:
    """The catalog id a reference names, or None when it names a path: "Is this an id or a
    path?" answered in one place. An int is an id; so is text of digits only, unless a file or
    folder of that name exists here (then it is that path)."""
    if isinstance(ref, int):
        return ref
    text = os.fspath(ref) if isinstance(ref, os.PathLike) else str(ref)
    if text.isdigit() and not os.path.exists(text):
        return int(text)
    return None


class Library(Closing):
    """A sample library: catalog + feature cache + analysis pool, in one folder."""

    def __init__(self, home: str | os.PathLike[str] | None = None, *,
                 jobs: int | None = None, timeout: float = DEFAULT_TIMEOUT,
                 index: IndexManager | None = None) -> None:
        """index: a vector index manager to use instead of one of its own (one that
        several Libraries share, from Library.shared_index; this Library never closes it)."""
        self.paths: Paths = resolve_paths(home)
        try:
            self.paths.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(f"cannot use {self.paths.data_dir} for the catalog: "
                               f"{exc.strerror or exc} (choose another home)").naming(
                home="another home") from exc
        self.catalog = Catalog(self.paths.catalog)
        self.jobs = jobs or default_jobs()
        self.timeout = timeout
        self._cache: FeatureCache | None = None
        self._index: IndexManager | None = index

    @staticmethod
    def shared_index(home: str | os.PathLike[str] | None = None) -> IndexManager:
        """A vector index manager that the Libraries of several threads may share (pass it
        as ``index=``): the index is loaded once, its own catalog connection is used by one
        thread at a time. Close it (``.close()``) after the Libraries that use it."""
        from .similarity.manager import SharedIndexManager

        paths = resolve_paths(home)
        return SharedIndexManager(Catalog(paths.catalog), paths.index_dir)

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def cache(self) -> FeatureCache:
        """The feature cache, opened on first use."""
        if self._cache is None:
            self._cache = FeatureCache(self.paths.feature_cache)
        return self._cache

    @property
    def index(self) -> IndexManager:
        """The vector index manager (the index itself is loaded or built on first search)."""
        if self._index is None:
            from .similarity.manager import IndexManager

            self._index = IndexManager(self.catalog, self.paths.index_dir)
        return self._index

    def close(self) -> None:
        """Close the catalog and cache."""
        self.catalog.close()
        if self._cache is not None:
            self._cache.close()

    # -- scanning -----------------------------------------------------------------------

    def scan(self, paths: Iterable[str | os.PathLike[str]], *,
             progress: ProgressCallback | None = None, retry_failed: bool = False,
             executor: AnalysisExecutor | None = None) -> ScanReport:
        """Add or update folders (or files) in the catalog; incremental and resumable.

        executor: who analyses the files (analysis.backends.open_executor: the local
        pool, or a Dask cluster); by default a local pool of self.jobs workers, or the
        cluster $SAMPLEMIND_CLUSTER names, opened and closed by this scan. The stages are
        in scan.py.

        New files get ids in path order (the same library scanned twice numbers the same).
        Ctrl-C, or SIGTERM while no other SIGTERM handler is installed, stops the scan with
        scan.ScanInterrupted (a KeyboardInterrupt): what was analysed is kept, its .report
        says what was done (interrupted=True), and scanning again resumes. Works from a
        script without the `if __name__ == "__main__":` guard, and from stdin.
        """
        roots = resolve_roots(paths)
        if self._cache is not None and self._cache.problem:
            self._cache.close()  # broken last time: maybe `cache clear` has mended it since
            self._cache = None
        pipeline = ScanPipeline(self.catalog, cache=lambda: self.cache, index=lambda: self.index,
                                jobs=self.jobs, timeout=self.timeout, progress=progress,
                                retry_failed=retry_failed, executor=executor)
        return pipeline.run(roots)

    # -- reading back -------------------------------------------------------------------

    def get(self, ref: str | int) -> Sample:
        """One sample by catalog id or by file path."""
        text = str(ref)
        sample_id = id_of(ref)
        if sample_id is not None:
            if sample_id >= 2**63:  # beyond SQLite's integers: certainly not an id
                raise NotFound(f"no sample has id {text}")
            records = self.catalog.records("s.id = ?", [sample_id])
            what = f"id {text}"
        else:
            path = user_path(text)  # UsageError for a path the catalog cannot hold
            records = self.catalog.records("s.path = ?", [path])
            what = path
        record = next(records, None)
        if record is None and what.startswith("id "):
            raise NotFound(f"no sample has {what} (samplemind ls shows the ids)")
        if record is None and not what.startswith("id "):
            # Roots are stored resolved: a path through a symlinked folder names the same file.
            real = os.path.realpath(what)
            if real != what:
                record = next(self.catalog.records("s.path = ?", [real]), None)
        if record is None:
            raise NotFound(f"not in the catalog: {what} (scan its folder first)")
        return Sample(record)

    def ls(self, query: str | None = None, *, type: str | None = None,
           category: str | None = None, bpm: BpmFilter = None, key: str | None = None,
           under: str | None = None, limit: int | None = None, offset: int = 0,
           min_confidence: float | None = None) -> Iterator[Sample]:
        """Stream samples matching a query (README: Queries) and simple filters, from the
        offset-th on (a page); a query's own limit:N caps the whole listing.

        The filters take the words `samplemind ls` takes and mean what they mean after
        ``field:`` in a query: type="loop" (or "oneshot"), category="kick", bpm="118..130"
        (also "120", "..100", (118, 130) or a number), key="Am" ("A minor", "F#m", "8A",
        "Am~" for keys that mix). min_confidence: estimates under it are shown as unknown
        and the filters match only estimates at it or above (`ls --min-confidence`). A value
        outside its rule raises BadValue (a UsageError) naming the parameter."""
        for name, value in (("limit", limit), ("offset", offset)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise BadValue(name, f"must be a whole number, 0 or more, not {value!r}")
        if min_confidence is not None:
            threshold = _confidence(min_confidence)
            from .analysis.calibration import trusted_terms

            filtered = [name for name, given in (("type", type), ("category", category),
                                                 ("bpm", bpm), ("key", key)) if given is not None]
            query = " ".join(part for part in (query, trusted_terms(
                query, filtered, threshold)) if part) or None
        where, params, order_by, query_limit = self._where(
            query, type=type, category=category, bpm=bpm, key=key, under=under)
        if query_limit is not None:
            remaining = max(0, query_limit - offset)
            limit = remaining if limit is None else min(limit, remaining)
        if limit is not None and limit <= _ID_CHUNK:
            # A page: its ids first (read from an index that holds the filter's and the
            # order's columns, m014), then its records by id. One SELECT of records would
            # let the planner walk wide rows to sort them (150 ms for a page that takes 2).
            with self.catalog.snapshot():
                ids = self.catalog.ids(where, params, order_by=order_by, limit=limit,
                                       offset=offset)
                records = self.records_by_id(ids)
        else:
            records = self.catalog.records(where, params, order_by=order_by, limit=limit,
                                           offset=offset)
        if min_confidence is None:
            for record in records:
                yield Sample(record)
            return
        from .analysis.calibration import hide_uncertain

        for record in records:
            yield Sample(hide_uncertain(record, threshold))

    def query_ids(self, query: str | None = None, *, limit: int | None = None, offset: int = 0,
                  total: bool = False) -> tuple[int, list[int], int | None]:
        """(generation, ids, count or None) of a listing as `ls` orders it, from the offset-th
        on, read in one snapshot: the ids of a page and, with total, how many the query matches
        (its limit:N included), as of that catalog generation. The server answers pages from
        these and the records it keeps encoded."""
        where, params, order_by, query_limit = self._where(query)
        if query_limit is not None:
            remaining = max(0, query_limit - offset)
            limit = remaining if limit is None else min(limit, remaining)
        with self.catalog.snapshot():
            generation = self.catalog.generation
            ids = self.catalog.ids(where, params, order_by=order_by, limit=limit, offset=offset)
            count = None
            if total:
                count = self.catalog.count(where, params)
                count = count if query_limit is None else min(count, query_limit)
        return generation, ids, count

    def count(self, query: str | None = None) -> int:
        """How many samples a query matches (its limit:N included)."""
        where, params, _, query_limit = self._where(query)
        total = self.catalog.count(where, params)
        return total if query_limit is None else min(total, query_limit)

    def _where(self, query: str | None, *, type: str | None = None,
               category: str | None = None, bpm: BpmFilter = None, key: str | None = None,
               under: str | None = None) -> tuple[str, list[Any], str, int | None]:
        """(WHERE clause, parameters, ORDER BY, limit) for a query and simple filters: the
        one place listing and similarity filters are turned into SQL."""
        from .query import compile_option

        clauses: list[str] = []
        params: list[Any] = []
        order_by, limit = "s.path", None
        if query:
            compiled = self._compile(query)
            if compiled.where:
                clauses.append(f"({compiled.where})")
                params.extend(compiled.params)
            order_by, limit = compiled.order_by, compiled.limit
        if under:
            # The path index's range (Catalog.under_clause), not substr() over every row. Roots
            # are stored resolved, a folder reached through a link inside a root is not: both.
            folder = user_path(under)
            ranges = [Catalog.under_clause(spelling, True, "s.path") for spelling in
                      dict.fromkeys((folder, os.path.realpath(folder)))]
            clauses.append("(" + " OR ".join(where for where, _ in ranges) + ")")
            params.extend(value for _, values in ranges for value in values)
        # The same words as `ls --type/--category/--bpm/--key`, meaning what they mean in a
        # query (query.compile_option): one rule for the CLI, this API and the server.
        for name, value in (("type", getattr(type, "value", type)), ("category", category),
                            ("bpm", _bpm_words(bpm)), ("key", key)):
            if value is None:
                continue
            if not isinstance(value, str):
                raise BadValue(name, f"must be text, not {value!r}")
            where, values = compile_option(name, value)
            clauses.append(where)
            params.extend(values)
        return " AND ".join(clauses), params, order_by, limit

    # -- tags, corrections, collections ---------------------------------------------------

    def select(self, refs: Sequence[str | int]) -> list[int]:
        """Catalog ids for what a person pointed at: one query, or ids, files and folders
        (a folder means every sample under it)."""
        texts = [str(ref) for ref in refs]
        if not texts:
            raise UsageError("nothing selected: give a query, ids or files")
        looks_like_refs = all(id_of(t) is not None or os.path.exists(os.path.expanduser(t))
                              or _names_a_file(t) for t in texts)
        if len(texts) == 1 and not looks_like_refs:
            return [sample.id for sample in self.ls(texts[0])]
        ids: list[int] = []
        for text in texts:
            path = user_path(text)
            if os.path.isdir(path):
                ids.extend(sample.id for sample in self.ls(under=path))
                continue
            try:
                ids.append(self.get(text).id)
            except NotFound as error:
                if len(texts) == 1 and _names_a_file(text) \
                        and not text.strip().startswith(("/", "./", "../", "~")):
                    raise NotFound(f"{error}; to search for the text, put it in quotes: "
                                   f"'\"{text}\"'") from None
                raise
        return list(dict.fromkeys(ids))

    def tag(self, refs: Sequence[str | int], tags: Sequence[str], *,
            remove: bool = False) -> dict[str, int]:
        """Add (or remove) user tags on the selected samples."""
        from .organise import clean_tags

        wanted = clean_tags(tags)
        ids = self.select(refs)
        with self.catalog.transaction():
            changed = (self.catalog.remove_tags(ids, wanted) if remove
                       else self.catalog.add_tags(ids, wanted, "user"))
        return {"samples": len(ids), "changed": changed}

    def tags(self) -> list[dict[str, Any]]:
        """Every tag with how many samples carry it, most used first."""
        return [{"tag": tag, "count": count, "sources": sources}
                for tag, count, sources in self.catalog.tag_figures()]

    def facets(self, query: str | None = None) -> dict[str, Any]:
        """How the samples a query matches split by category, type, tag and folder: the
        counts beside the filters of what is listed now (README: Web UI)."""
        where, params, _, _ = self._where(query)
        with self.catalog.snapshot():
            return versioned({"total": self.catalog.count(where, params),
                              **self.catalog.facet_counts(where, params)})

    def facets_at(self, query: str | None = None) -> tuple[int, dict[str, Any]]:
        """(generation, facets) read in one snapshot: the server keeps the answer for that
        catalog generation (server/query_cache.py)."""
        with self.catalog.snapshot():
            return self.catalog.generation, self.facets(query)

    def favourites(self, account: str) -> list[int]:
        """The ids one account starred, the first starred first (the query: fav:ACCOUNT)."""
        return self.catalog.favourites(_account(account))

    def favourite(self, account: str, refs: Sequence[str | int], *,
                  remove: bool = False) -> dict[str, int]:
        """Star (or unstar) samples for one account; favourites are kept per account."""
        account = _account(account)
        ids = self.select(refs)
        with self.catalog.transaction():
            changed = self.catalog.set_favourites(account, ids, not remove)
        return {"samples": len(ids), "changed": changed}

    def set(self, ref: str | int, values: dict[str, Any]) -> Sample:
        """Correct fields of one sample (models.CORRECTABLE_FIELDS) with source "user"; the
        correction survives rescans and re-analysis. None clears it."""
        from .organise import check_overrides

        checked = check_overrides(values)
        sample = self.get(ref)
        with self.catalog.transaction():
            for field, value in checked.items():
                if value is None:
                    self.catalog.clear_override(sample.id, field)
                else:
                    self.catalog.set_override(sample.id, field, value)
            re_resolve(self.catalog, sample.id)
        if checked.get("category", "") is None or "type" in checked:
            # Back to the sound's guess, or a sample that starts or stops voting: the nearest
            # sounds and named neighbours have their say now, as after a scan (a later no-op
            # scan would not run them).
            refined = ScanReport()
            refine_categories(self.catalog, self.index, refined)
            for warning in refined.warnings:
                log.warning("%s", warning.error)
        return self.get(sample.id)

    def save_collection(self, name: str, query: str) -> dict[str, Any]:
        """Save a query under a name, usable as @NAME in other queries."""
        from .organise import check_collection_name

        check_collection_name(name)
        self._check_collection(name, query)  # validate, then write: nothing refused is saved
        with self.catalog.transaction(bump=False):
            self.catalog.conn.execute(
                "INSERT OR REPLACE INTO collections (name, query, saved_at) VALUES (?, ?, ?)",
                (name, query, now_iso()))
        return {"name": name, "query": query, "count": sum(1 for _ in self.ls(f"@{name}"))}

    def _check_collection(self, name: str, query: str) -> None:
        """Raise QueryError unless saving `query` as @name leaves it, and every saved collection
        that worked before, usable: parsed, references resolved, no cycle, within the query
        limits, and its SQL accepted by SQLite (prepared, not run)."""
        from .query import compile_query

        def as_if_saved(other: str) -> str | None:
            return query if other == name else self._collection_query(other)

        self._prepare(compile_query(f"@{name}", as_if_saved))
        for saved in self.collections():
            if saved["name"] == name:
                continue
            try:
                self._compile(f"@{saved['name']}")
            except QueryError:
                continue  # already unusable: not this save's doing
            try:
                self._prepare(compile_query(f"@{saved['name']}", as_if_saved))
            except QueryError as error:
                raise QueryError(f"saving @{name} would break @{saved['name']}, which uses it: "
                                 f"{error}") from None

    def _prepare(self, compiled: Any) -> None:
        """Have SQLite prepare a compiled query's listing (EXPLAIN: nothing runs), so a query it
        cannot take is a QueryError now, not a 500 when it is used."""
        where = f"({compiled.where})" if compiled.where else ""
        error = self.catalog.explain_records(where, compiled.params, compiled.order_by)
        if error is not None:
            raise QueryError(f"bad query: {compiled.text}: the database refuses it ({error})")

    def collections(self) -> list[dict[str, Any]]:
        """Saved collections with their queries."""
        return [{"name": name, "query": query, "saved_at": saved}
                for name, query, saved in self.catalog.query(
                    "SELECT name, query, saved_at FROM collections ORDER BY name")]

    def delete_collection(self, name: str) -> None:
        """Forget a saved collection."""
        with self.catalog.transaction(bump=False):
            gone = self.catalog.conn.execute("DELETE FROM collections WHERE name = ?",
                                             (name,)).rowcount
        if not gone:
            raise NotFound(f"no collection named {name!r} (samplemind collection ls)")

    def suggest(self, query: str | None = None, *, k: int = 10, threshold: float = 0.5,
                apply: bool = False) -> list[dict[str, Any]]:
        """Tags for samples without user tags, voted by their nearest user-tagged
        neighbours; written (source "suggested") only when apply is true."""
        from .organise import check_suggest_args, suggest_tags

        check_suggest_args(k, threshold)  # before the query runs: the cheaper refusal first
        candidates = [sample.id for sample in (self.ls(query) if query else self.ls())]
        suggestions = suggest_tags(self.catalog, self.index.current(), candidates, k=k,
                                   threshold=threshold)
        if apply and suggestions:
            with self.catalog.transaction():
                for item in suggestions:
                    self.catalog.add_tags([item["id"]], [item["tag"]], "suggested")
        return suggestions

    def export(self, query: str, to: str | os.PathLike[str] | None, *, mode: str = "copy",
               pattern: str | None = None, zip_path: str | os.PathLike[str] | None = None,
               force: bool = False, progress: Callable[[int, int, str], None] | None = None,
               instrument: str | None = None, round_robin: bool = False,
               ) -> Any:
        """Build a kit from the samples a query selects (README: Kits); with instrument
        ("sfz" or "decentsampler"), also a sampler instrument of them (README: Kits as
        instruments), named after the kit folder (or zip)."""
        from .export import DEFAULT_PATTERN, export_kit
        from .served import catalogued, checked_opener, real_roots

        spec = None
        if instrument is not None:
            from .instruments import spec_for

            if to is not None:
                name = os.path.basename(os.path.abspath(os.path.expanduser(os.fspath(to))))
            else:
                name = os.path.splitext(os.path.basename(os.fspath(zip_path or "")))[0]
            spec = spec_for(instrument, name, round_robin)

        records = [sample.to_json() for sample in self.ls(query)]
        if spec is not None and not records:
            # An instrument of no sample is a file sfizz refuses to load: say so, write nothing
            # (as the server's exports answer 404).
            raise NotFound("no samples match the query: nothing to make an instrument of")
        # Each file is checked as the server checks what it serves (served.py): a catalogued
        # symlink swapped to point elsewhere, a FIFO or a changed file is skipped, not copied.
        files = catalogued(self.scanned_files([record["id"] for record in records]))
        opener = checked_opener(files, real_roots(self.roots()))
        return export_kit(records, to, mode=mode, pattern=pattern or DEFAULT_PATTERN,
                          zip_path=zip_path, force=force, progress=progress, query=query,
                          opener=opener, instrument=spec)

    def failures(self) -> list[FileFailure]:
        """Files that failed their last analysis."""
        return [FileFailure(path, error)
                for path, error in self.catalog.query(
                    "SELECT path, error FROM failures ORDER BY path")]

    def roots(self) -> list[str]:
        """The folders (and files) the catalog was scanned from."""
        return [row[0] for row in self.catalog.query("SELECT path FROM roots ORDER BY path")]

    def peaks(self, sample_id: int) -> dict[str, Any]:
        """The waveform overview of one sample: (min, max) pairs over equal slices, mono."""
        import numpy as np

        rows = self.catalog.query("SELECT peaks, duration FROM samples WHERE id = ?", [sample_id])
        if not rows:
            raise NotFound(f"no sample has id {sample_id} (samplemind ls shows the ids)")
        blob, duration = rows[0]
        values = np.frombuffer(blob or b"", dtype=np.float32)
        if len(values) % 2:
            values = values[:-1]
        pairs = values.reshape(-1, 2)
        return versioned(id=sample_id, duration=duration,
                         buckets=len(pairs),
                         peaks=[[round(float(low), 4), round(float(high), 4)] for low, high in pairs])

    def forget(self, ref: str | int, *, delete_file: bool = False) -> dict[str, Any]:
        """Remove one sample from the catalog; with delete_file, its file first.

        Without delete_file the file stays where it is, and a later scan of its folder
        adds it again (with a new id).
        """
        sample = self.get(ref)
        if delete_file:
            try:
                os.unlink(sample.path)
            except FileNotFoundError:
                pass  # already gone: the catalog entry goes too
            except OSError as exc:
                raise Forbidden(f"cannot delete {sample.path}: {exc.strerror or exc}") from exc
        with self.catalog.transaction():
            self.catalog.delete_samples([sample.id])
        return versioned(id=sample.id, path=sample.path,
                         file_deleted=delete_file)

    def paths_by_id(self, ids: Sequence[int]) -> dict[int, str]:
        """The path of each of these ids still in the catalog (any number of ids)."""
        found: dict[int, str] = {}
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = list(ids[start:start + _ID_CHUNK])
            found.update(self.catalog.query(
                f"SELECT s.id, s.path FROM samples s WHERE s.id IN ({','.join('?' * len(chunk))})",
                chunk))
        return found

    def scanned_files(self, ids: Sequence[int]) -> list[tuple[int, str, str | None, int | None,
                                                                int | None]]:
        """(id, path, root, size, mtime_ns) as scanned, of these ids still in the catalog: what
        served.py checks a file against before it is served or exported."""
        rows: list[tuple[int, str, str | None, int | None, int | None]] = []
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = list(ids[start:start + _ID_CHUNK])
            rows += self.catalog.query(
                "SELECT id, path, root, size, mtime_ns FROM samples "
                f"WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return rows

    def records_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The JSON records of these ids still in the catalog, in the ids' order."""
        by_id: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = list(ids[start:start + _ID_CHUNK])
            # By id, not the default path order: that could make SQLite walk the path index.
            for record in self.catalog.records(f"s.id IN ({','.join('?' * len(chunk))})", chunk,
                                               order_by="s.id"):
                by_id[record["id"]] = record
        return [by_id[i] for i in ids if i in by_id]

    def prepare_scans(self) -> None:
        """Read what the steps after a scan keep in memory (every one-shot's category,
        similarity/oneshots.py) and start the analysis workers' forkserver before the first
        scan needs them: the server does so at start-up, so its first added file costs what
        the next ones do."""
        from .analysis.backends import start_local_workers
        from .similarity import oneshots

        oneshots.current(self.catalog)
        start_local_workers()

    def readiness(self) -> dict[str, dict[str, Any]]:
        """Whether the catalog, the vector index and the feature cache are usable: per part
        {"ok": True, figures...} or {"ok": False, "error": ...}. Reports, never raises."""
        checks: dict[str, dict[str, Any]] = {}
        for name, probe in (("catalog", lambda: {"samples": self.catalog.count(),
                                                 "generation": self.catalog.generation}),
                            ("index", lambda: {"count": self.index.current().count}),
                            ("cache", lambda: {"entries": self.cache_stats()["entries"]})):
            try:
                checks[name] = {"ok": True, **probe()}
            except Exception as exc:  # readiness reports any failure rather than raising it
                checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return checks

    @property
    def changes(self) -> ChangeFeed:
        """The catalog's change feed, the documented door for followers of the catalog
        (ARCHITECTURE.md, "The two doors")."""
        return ChangeFeed(self.catalog)

    def stats(self) -> dict[str, Any]:
        """Figures about the library: counts by type, category and format, sizes, roots."""
        catalog = self.catalog
        with catalog.snapshot():  # the counts kept by the catalog's triggers (m018), one state
            figures = catalog.figures()
            return versioned({
                "samples": figures["samples"],
                "duration": round(figures["duration"], 3),
                "size": figures["size"],
                "failed": catalog.scalar("SELECT count(*) FROM failures"),
                "by_type": figures["by_type"],
                "by_category": figures["by_category"],
                "by_format": figures["by_format"],
                "roots": [row[0] for row in catalog.query("SELECT path FROM roots ORDER BY path")],
                "generation": catalog.generation,
                "catalog": str(self.paths.catalog),
            })

    # -- similarity ---------------------------------------------------------------------

    def similar(self, refs: Sequence[str | int | os.PathLike[str]], *, k: int = 10,
                aspects: str | dict[str, float] | None = None, type: str | None = None,
                category: str | None = None, query: str | None = None) -> list[Hit]:
        """The k samples that sound most like the combined sound of refs.

        refs: catalog ids, catalogued paths, or audio files outside the catalog
        (analysed on the fly, not added). aspects: weights such as "timbre=2,pitch=0".
        type/category/query: only samples that match.
        """
        from .similarity import search

        queries = [self._query_vector(ref) for ref in refs]
        allowed = self._filter_ids(type, category, query)
        return search.similar(self.catalog, self.index.current(), queries, k=k,
                              aspects=aspects, allowed=allowed)

    def ranked(self, refs: Sequence[str | int | os.PathLike[str]], *, k: int = 10,
               aspects: str | dict[str, float] | None = None, type: str | None = None,
               category: str | None = None, query: str | None = None) -> list[Any]:
        """similar() without the records: [Ranked(id, score, distance, aspects)], nearest
        first (for callers that hold the records already, like the server's cache)."""
        from .similarity import search

        queries = [self._query_vector(ref) for ref in refs]
        return search.ranked(self.index.current(), queries, k=k, aspects=aspects,
                             allowed=self._filter_ids(type, category, query))

    def dupes(self, *, threshold: float | None = None, exact: bool = True, near: bool = True,
              query: str | None = None) -> list[DupeGroup]:
        """Groups of duplicate samples, each with a suggested keeper and why (a kit's velocity
        layers are not among them: dupes_and_layers lists those)."""
        return self.dupes_and_layers(threshold=threshold, exact=exact, near=near, query=query)[0]

    def dupes_and_layers(self, *, threshold: float | None = None, exact: bool = True,
                         near: bool = True, query: str | None = None,
                         ) -> tuple[list[DupeGroup], list[LayerSet]]:
        """The duplicate groups, and the sets of alike sounds that are one sound's velocity
        layers or round robins (README: Duplicates), never to be moved aside."""
        from .similarity import search
        from .similarity.dupes import DEFAULT_THRESHOLD, check_threshold

        if threshold is not None:
            check_threshold(threshold)
        allowed = self._filter_ids(None, None, query)
        return search.dupes(self.catalog, self.index.current(),
                            threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
                            exact=exact, near=near,
                            allowed=None if allowed is None else set(allowed.tolist()))

    def move_dupes(self, groups: Iterable[DupeGroup], folder: str | os.PathLike[str]) -> DupeAction:
        """Move every non-keeper into folder; returns what moved and the undo manifest."""
        from .similarity import actions

        return actions.move(self.catalog, list(groups), folder)

    def delete_dupes(self, groups: Iterable[DupeGroup]) -> DupeAction:
        """Delete every non-keeper's file and catalog entry (the CLI asks first)."""
        from .similarity import actions

        return actions.delete(self.catalog, list(groups))

    def undo_dupes(self, manifest: str | os.PathLike[str]) -> DupeAction:
        """Move files back as a dupes manifest records, and restore their catalog entries."""
        from .similarity import actions

        return actions.undo(self.catalog, manifest, self.scan)

    def map(self) -> list[dict[str, Any]]:
        """2D coordinates of every sample (PCA of the sound vectors), cached per generation."""
        ids, coords = self._map_coords()
        names = {row[0]: row[1:] for row in self.catalog.query(
            "SELECT id, path, name, type, category FROM samples")}
        points = []
        for sample_id, (x, y) in zip(ids.tolist(), coords.tolist()):
            if sample_id in names:
                path, name, kind, category = names[sample_id]
                points.append(versioned(id=sample_id,
                                        x=round(x, 5), y=round(y, 5), path=path, name=name,
                                        type=kind, category=category))
        return points

    def map_view(self, query: str | None = None, *, level: int | None = None,
                 rect: tuple[float, float, float, float] | None = None,
                 points: int | None = None) -> dict[str, Any]:
        """The map of a query's samples at a level of detail (similarity/map_levels.py):
        points when few are in view, else bins that count every sample exactly once; with
        the legend (categories present and their counts) and the query's extent."""
        from .similarity import map_levels

        if points is not None and not 0 <= points <= map_levels.MAX_POINTS:
            raise BadValue("points", f"must be between 0 and {map_levels.MAX_POINTS}")
        layout = self._map_layout()
        points = map_levels.DEFAULT_POINTS if points is None else points
        return layout.cached_view((query, level, rect, points), lambda: versioned({
            "max_level": map_levels.MAX_LEVEL,
            **layout.view(self._filter_ids(None, None, query), level=level,
                          rect=None if rect is None else map_levels.Rect(*rect), points=points)}))

    def map_cell(self, level: int, cx: int, cy: int, query: str | None = None) -> list[int]:
        """Ids of a query's samples in one cell of a map level."""
        return self._map_layout().members(self._filter_ids(None, None, query),
                                          level, cx, cy).tolist()

    def map_region(self, rect: tuple[float, float, float, float],
                   query: str | None = None) -> list[int]:
        """Ids of a query's samples inside a rectangle of the map."""
        from .similarity import map_levels

        return self._map_layout().inside(self._filter_ids(None, None, query),
                                         map_levels.Rect(*rect)).tolist()

    def _map_coords(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, coords) of every indexed sample, from the saved map when it still holds:
        unchanged while no vector moved (a tag, a correction, a scan that found nothing new),
        or brought up to date by placing the few changed vectors with the saved projection;
        fitted afresh when many changed (a tenth of the library) or nothing is saved."""
        import numpy as np

        from .similarity import projection

        folder = self.index.folder
        cached = projection.load_cached(folder)
        if cached is not None and (cached[0] == self.catalog.generation or
                                   self.changes.vectors_unchanged_since(cached[0]) is not None):
            return cached[1], cached[2]
        index = self.index.current()
        if cached is not None and cached[3] is not None:
            saved_at, ids, coords, fitted = cached
            # Changed vectors from the catalog; removals by the index's own ids (the catalog's
            # list of removals may have been pruned since).
            changed = np.asarray(self.catalog.vector_changes(saved_at)[0], np.int64)
            now = index.ids()
            gone = np.isin(ids, changed) | ~np.isin(ids, now)
            if len(changed) + int(gone.sum()) <= max(10, len(ids) // 10):
                present = changed[np.isin(changed, now)]
                ids = np.concatenate([ids[~gone], present])
                coords = np.concatenate([coords[~gone], fitted.place(index.vectors_of(present))])
                order = np.argsort(ids, kind="stable")
                ids, coords = ids[order], coords[order]
                projection.save_cached(folder, index.info.generation, ids, coords, fitted)
                return ids, coords
        ids = np.sort(index.ids())
        coords, fitted = projection.fit_streamed(
            len(ids), lambda start, stop: index.vectors_of(ids[start:stop]))
        projection.save_cached(folder, index.info.generation, ids, coords, fitted)
        return ids, coords

    def _map_layout(self) -> Any:
        """The map's layout for binning, built once per catalog generation per process."""
        import numpy as np

        from .similarity import map_levels

        def build() -> map_levels.MapLayout:
            ids, coords = self._map_coords()
            names: dict[str | None, int] = {}
            category = {}
            for sample_id, name in self.catalog.query("SELECT id, category FROM samples"):
                category[sample_id] = names.setdefault(name, len(names))
            keep = np.fromiter((i in category for i in ids.tolist()), bool, len(ids))
            ids, coords = ids[keep], coords[keep]
            codes = np.fromiter((category[i] for i in ids.tolist()), np.int64, len(ids))
            labels = [map_levels.NONE if name is None else name for name in names]
            return map_levels.MapLayout(ids, coords, codes, labels)

        def refresh(old: map_levels.MapLayout, generation: int) -> map_levels.MapLayout | None:
            # No vector moved: the places stand; only categories may have changed.
            if self.changes.vectors_unchanged_since(generation) is None:
                return None
            _, changed, removed, _ = self.changes.since(generation)
            if removed:
                return None
            names: dict[int, str] = {}
            for start in range(0, len(changed), 500):
                chunk = changed[start:start + 500]
                names.update((sample_id, map_levels.NONE if name is None else name)
                             for sample_id, name in self.catalog.query(
                                 "SELECT id, category FROM samples WHERE id IN "
                                 f"({', '.join('?' for _ in chunk)})", chunk))
            return old.with_categories(np.fromiter(names, np.int64, len(names)),
                                       list(names.values()))

        return map_levels.layout_for(str(self.index.folder), self.catalog.generation, build,
                                     refresh)

    def neighbour_table(self, previous: NeighbourTable | None = None, *, max_bytes: int,
                        should_stop: Callable[[], bool] | None = None) -> NeighbourTable | None:
        """Every sample's nearest neighbours for the index as the catalog is now (the
        server's answer to the usual similar question: similarity/neighbours.py); previous
        itself, marked current, when no vector moved since it was built, or patched where
        vectors moved when few did; None when empty,
        larger than max_bytes, or the index kept changing (a scan is running)."""
        from .similarity import neighbours

        return neighbours.table_for(self.index, previous, max_bytes, should_stop,
                                    catalog=self.catalog)

    def index_status(self) -> dict[str, Any]:
        """Figures about the vector index (brought up to date first)."""
        return versioned(self.index.status())

    def rebuild_index(self) -> dict[str, Any]:
        """Rebuild the vector index from the catalog."""
        self.index.rebuild()
        return self.index_status()

    def _query_vector(self, ref: str | int | os.PathLike[str]) -> int | np.ndarray:
        """A catalog id for catalogued refs; the raw vector of a file outside the catalog."""
        text = os.fspath(ref) if isinstance(ref, os.PathLike) else str(ref)
        sample_id = id_of(ref)
        if sample_id is not None:
            # The id itself is all a search needs: no record, no tag list.
            if sample_id < 2**63 and self.catalog.scalar(
                    "SELECT id FROM samples WHERE id = ?", [sample_id]) is not None:
                return sample_id
            return self.get(text).id  # raises the usual NotFound
        path = user_path(text)
        for spelling in dict.fromkeys((path, os.path.realpath(path))):  # roots are resolved
            row = self.catalog.scalar("SELECT id FROM samples WHERE path = ?", [spelling])
            if row is not None:
                return int(row)
        if not os.path.isfile(path):
            raise NotFound(f"no such file, and not a catalog id: {text}")
        import numpy as np

        features = self.analyse_file(path)
        return np.asarray(features["vector"], dtype=np.float32)

    def analyse_file(self, path: str) -> dict[str, Any]:
        """Analysis of one file without adding it to the catalog (cached by content)."""
        from .analysis.executors import AnalysisJob
        from .analysis.pool import LocalPool

        version = analysis_version()
        try:
            digest = hash_file(path)
        except OSError as exc:
            raise NotFound(f"cannot read {path}: {exc.strerror or exc}") from exc
        cached = self.cache.get(digest, version)
        if cached is not None:
            return cached["features"]
        # A worker process, so a file that crashes the decoder cannot take us down.
        pool = LocalPool(1, self.timeout)
        try:
            for outcome in pool.analyse([AnalysisJob(path, os.path.getsize(path))]):
                if outcome is None:
                    continue
                _, result, error = outcome
                if result is None:
                    raise AnalysisError(f"cannot analyse {path}: {error}")
                self.cache.put(digest, version, result)
                return result["features"]
        finally:
            pool.close()
        raise AnalysisError(f"cannot analyse {path}: no result")

    def _compile(self, query: str) -> Any:
        """A query in the query language, compiled to SQL (collections resolved)."""
        from .query import compile_query

        return compile_query(query, self._collection_query, self._rare_tags)

    def _rare_tags(self, condition: str, params: list[Any]) -> bool:
        """Whether few enough samples carry a tag matching condition (over t.tag) that reading
        them from the tags beats testing samples in the listing's order: fewer than
        sqrt(64 x samples) (a page of 50 at 1/f of the samples tests ~50 f of them), counted
        in the figures the triggers keep (m018, a row per tag and source)."""
        carried = self.catalog.scalar(
            f"SELECT coalesce(sum(samples), 0) FROM tag_figures t WHERE {condition}", params)
        return int(carried) ** 2 <= RARE_TAG_FACTOR * self.catalog.count()

    def _collection_query(self, name: str) -> str | None:
        return self.catalog.scalar("SELECT query FROM collections WHERE name = ?", [name]) \
            if self.catalog.db["collections"].exists() else None

    def _filter_ids(self, type: str | None, category: str | None,
                    query: str | None) -> np.ndarray | None:
        """Ids of samples matching the filters; None when there are none."""
        where, params, _, _ = self._where(query, type=type, category=category)
        if not where:
            return None
        import numpy as np

        rows = self.catalog.query(f"SELECT s.id FROM samples s WHERE {where}", params)
        return np.array([row[0] for row in rows], dtype=np.int64)

    # -- cache --------------------------------------------------------------------------

    def cache_stats(self) -> dict[str, Any]:
        """Feature cache figures."""
        return versioned(self.cache.stats())

    def cache_clear(self) -> int:
        """Empty the feature cache; returns how many entries were removed. Also the repair
        for a cache that cannot be opened (a file where its folder belongs)."""
        if self._cache is not None:
            self._cache.close()
        self._cache = FeatureCache(self.paths.feature_cache, repair=True)
        return self._cache.clear()

    # -- local AI (Ollama; README: Local AI) ----------------------------------------------

    def describe(self, refs: Sequence[str | int], *, model: str | None = None,
                 refresh: bool = False, concurrency: int = 2, timeout: float = 60.0,
                 host: str | None = None,
                 progress: Callable[[int, int, str, str], None] | None = None) -> Any:
        """A local model's description, tags (source "ai"), mood and uses for the samples
        refs select (ids, files, folders or one query); returns a DescribeReport. Samples
        already described for the same bytes, model and prompt are kept unless refresh.
        Raises ComponentMissing when Ollama or the model is missing."""
        from .ai import default_model
        from .ai.describe import describe_samples

        model = model or default_model()
        records = [self.get(sample_id).to_json() for sample_id in self.select(refs)]
        return describe_samples(self.catalog, records, self.paths.cache_dir, model=model,
                                refresh=refresh, concurrency=concurrency, timeout=timeout,
                                host=host, progress=progress)

    def ask(self, words: str, *, model: str | None = None, use_model: bool = True,
            refresh: bool = False, timeout: float | None = None, host: str | None = None) -> Any:
        """Plain words as a checked query (an AskResult: query, translator, notes): by the
        model, or by the built-in translator without one (use_model=False, or Ollama down)."""
        from .ai import default_model
        from .ai.ask import ask
        from .ai.cache import ai_cache_dir

        return ask(words, self._compile, model=model or default_model(),
                   cache_dir=ai_cache_dir(self.paths.cache_dir), use_model=use_model,
                   refresh=refresh, timeout=timeout, host=host)

    def ai_status(self, *, model: str | None = None, host: str | None = None) -> dict[str, Any]:
        """Is Ollama reachable, which models are pulled, is the chosen one among them."""
        from .ai import default_model
        from .ai.health import ollama_status

        return ollama_status(model or default_model(), host)

    def doctor(self, *, model: str | None = None, host: str | None = None) -> dict[str, Any]:
        """A self-check of the catalog, caches, index and Ollama (README: Local AI)."""
        from .ai.health import library_health

        return versioned(library_health(self.catalog, cache=lambda: self.cache,
                                        cache_dir=self.paths.cache_dir,
                                        index_folder=self.index.folder),
                         ollama=self.ai_status(model=model, host=host))

    def ai_cache_stats(self) -> dict[str, Any]:
        """Cached model answers: entries, size, hits, misses."""
        from .ai.cache import AICache, ai_cache_dir

        with AICache(ai_cache_dir(self.paths.cache_dir)) as cache:
            return cache.stats()

    def ai_cache_clear(self) -> int:
        """Forget every cached model answer; returns how many were removed."""
        from .ai.cache import AICache, ai_cache_dir

        with AICache(ai_cache_dir(self.paths.cache_dir), repair=True) as cache:
            return cache.clear()


    # -- review mode (review.py) ----------------------------------------------------------

    def review_questions(self, query: str | None = None, n: int = 1, *,
                         reviewer: str | None = None) -> list[dict[str, Any]]:
        """The next n questions whose answers would change the library most, leased to
        `reviewer` so another reviewer is not asked them (review.new_reviewer() makes an
        id); without one, a listing: nothing is leased, and questions leased to anyone are
        left out."""
        from . import review

        if n < 1:
            raise UsageError("ask for at least one question")
        scope = None
        if query:
            where, params, _, _ = self._where(query)
            scope = {row[0] for row in self.catalog.query(
                "SELECT s.id FROM samples s" + (f" WHERE {where}" if where else ""), params)}
        found = review.questions(self.catalog, self.index, scope, n, reviewer)
        return [q.as_dict() for q in found]

    def review_answer(self, sample_id: int, field: str, value: Any, *,
                      reviewer: str | None = None) -> dict[str, Any]:
        """Answer a review question: a correction (like `set`) that teaches its neighbours
        at once; says how many samples it changed."""
        from . import review

        return review.answer(self.catalog, self.index, int(sample_id), field, value,
                             reviewer).as_dict()

    def review_undo(self, answer_id: int) -> dict[str, Any]:
        """Take a review answer back; every sample it changed goes back."""
        from . import review

        return review.undo(self.catalog, self.index, int(answer_id)).as_dict()


def _account(name: Any) -> str:
    """An account name for favourites: what a person logs in with, 1 to 200 printable
    characters."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
        raise BadValue("account", "must be an account name (1 to 200 printable characters)")
    return name.strip()


def _names_a_file(text: str) -> bool:
    """Whether a lone selection names a file rather than asking a query: a path (/, ./, ../, ~)
    or a name with an audio extension and no query term. Such a text that matches no file is
    refused (NotFound), not searched: `fav add -- --kick.wav` must not star every sample that
    lacks the word."""
    from .scanner import AUDIO_EXTENSIONS

    text = text.strip()
    if text.startswith(("/", "./", "../", "~")):
        return True
    return (":" not in text and not text.startswith(("'", '"'))
            and os.path.splitext(text)[1].lower() in AUDIO_EXTENSIONS)
