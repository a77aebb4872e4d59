"""The FAISS vector index: build, tune, save, load, update and search.

Derived data: every vector also lives in the catalog, so a missing, corrupt or stale
index is rebuilt from there, never fatal. Small libraries get an exact index
(IndexFlatL2); above EXACT_MAX vectors an IVF index whose probe count is tuned at
build time until recall@10 against exact search reaches TARGET_RECALL. Both keep
sample ids inside FAISS and can add and remove vectors, so a scan updates the index
in place. Files are written atomically (temp file, fsync, rename) with a JSON
sidecar naming the catalog generation they reflect.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ..analysis.layout import VECTOR_BLOCKS, VECTOR_DIM
from .vectors import Standardiser

EXACT_MAX = 20_000  # below this many vectors exact search is as fast as approximate
TARGET_RECALL = 0.97  # tuned with a margin over the 0.95 the benchmark holds us to
TUNING_QUERIES = 300
REBUILD_GROWTH = 0.5  # refit statistics and clusters after the library changed by half
INDEX_FORMAT = 1
SUBSET_EXACT = 50_000  # a filter this selective is searched exactly over its members
RERANK_POOL = 1_000  # equal-weight neighbours re-ranked by a weighted query (ivf only)


@dataclass
class IndexInfo:
    """What the sidecar records about a saved index."""

    format: int = INDEX_FORMAT
    kind: str = "flat"  # "flat" (exact) or "ivf" (approximate)
    generation: int = -1  # the catalog generation the index reflects
    count: int = 0
    fitted_count: int = 0  # vectors the statistics and clusters were fitted on
    nlist: int = 0
    nprobe: int = 0
    recall_at_10: float | None = None  # measured at build time (ivf)
    built_at: str = ""
    build_seconds: float = 0.0
    file: str = ""
    center: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)


class RWLock:
    """Many searches at once; a change waits for them, and new searches wait for it
    (writer preference, so a steady stream of searches cannot starve an update)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self):
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self):
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


# A search for one sound is far too small to share between threads: on a busy machine
# FAISS's thread team turned a 0.1 ms exact search into 24 ms at p95 (benchmarks/
# similar.py). Builds and batch searches ask for every core explicitly.
faiss.omp_set_num_threads(1)


@contextmanager
def all_cores():
    """FAISS may use every core inside this block (training, adding, batch search)."""
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)


def choose_kind(count: int, exact_max: int = EXACT_MAX) -> str:
    """Exact search for small libraries, IVF above."""
    return "flat" if count <= exact_max else "ivf"


def _nlist(count: int) -> int:
    # About sqrt(n) lists keeps both the centroid scan and the probed lists short.
    return int(min(4096, max(64, round(math.sqrt(count)))))


class VectorIndex:
    """A FAISS index over standardised sample vectors, keyed by catalog id."""

    def __init__(self, index: Any, info: IndexInfo, standardiser: Standardiser) -> None:
        self.index = index
        self.info = info
        self.standardiser = standardiser
        self.lock = RWLock()
        self.version = 0  # counts changes to the vectors (update); a rebuild is a new object
        self._matrix: np.ndarray | None = None  # flat only: every vector, for exact reranks
        self._ids: np.ndarray | None = None
        self._order: np.ndarray | None = None  # argsort of _ids, for id -> row lookups
        self._block_sq: np.ndarray | None = None  # flat: per-aspect squared norms of rows

    # -- building ------------------------------------------------------------------------

    @classmethod
    def build(cls, ids: np.ndarray, raw: np.ndarray, generation: int, *,
              exact_max: int = EXACT_MAX, seed: int = 0) -> VectorIndex:
        """A new index over raw catalog vectors."""
        with all_cores():
            return cls._build(ids, raw, generation, exact_max, seed)

    @classmethod
    def _build(cls, ids: np.ndarray, raw: np.ndarray, generation: int, exact_max: int,
               seed: int) -> VectorIndex:
        started = time.perf_counter()
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        standardiser = Standardiser.fit(raw, seed=seed)
        vectors = standardiser.transform(raw) if len(raw) else np.zeros((0, VECTOR_DIM), np.float32)
        kind = choose_kind(len(ids), exact_max)
        info = IndexInfo(kind=kind, generation=generation, count=len(ids),
                         fitted_count=len(ids))
        if kind == "flat":
            index = faiss.IndexIDMap2(faiss.IndexFlatL2(VECTOR_DIM))
            index.add_with_ids(vectors, ids)
        else:
            nlist = _nlist(len(ids))
            quantizer = faiss.IndexFlatL2(VECTOR_DIM)
            index = faiss.IndexIVFFlat(quantizer, VECTOR_DIM, nlist)
            rng = np.random.default_rng(seed)
            train_rows = min(len(vectors), nlist * 50)
            sample = vectors[np.sort(rng.choice(len(vectors), train_rows, replace=False))]
            index.cp.seed = seed
            index.train(sample)
            # A hash table from id to slot lets us remove and reconstruct by catalog id.
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
            index.add_with_ids(vectors, ids)
            info.nlist = nlist
            info.nprobe, info.recall_at_10 = _tune_nprobe(index, vectors, ids, rng)
        info.build_seconds = round(time.perf_counter() - started, 3)
        info.built_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        built = cls(index, info, standardiser)
        if kind == "flat":
            built._matrix, built._ids, built._order = vectors, ids, np.argsort(ids)
        return built

    # -- persistence ---------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the index and its sidecar atomically; older index files are removed."""
        folder.mkdir(parents=True, exist_ok=True)
        with self.lock.reading():
            self.info.center = self.standardiser.center.tolist()
            self.info.scale = self.standardiser.scale.tolist()
            self.info.fitted_count = self.standardiser.count
            name = f"vectors-{self.info.generation}-{os.getpid()}.faiss"
            temp = folder / f".{name}.tmp"
            faiss.write_index(self.index, str(temp))
            _fsync(temp)
            os.replace(temp, folder / name)
            self.info.file = name
            _write_atomic(folder / "index.json", json.dumps(asdict(self.info)).encode())
        _fsync(folder)
        for stale in folder.glob("vectors-*.faiss"):
            if stale.name != name:
                stale.unlink(missing_ok=True)

    def save_sidecar(self, folder: Path) -> None:
        """Rewrite index.json alone (atomically), keeping the index file it names: enough
        when the catalog moved on without changing a vector (a tag edit, a no-op scan),
        where save() would write the same index again (40 MB at 100k vectors)."""
        with self.lock.reading():
            write_sidecar(folder, asdict(self.info))

    @classmethod
    def load(cls, folder: Path) -> VectorIndex:
        """Read a saved index; raises ValueError (or OSError) when it is missing or damaged."""
        meta = json.loads((folder / "index.json").read_text())
        info = IndexInfo(**{k: v for k, v in meta.items() if k in IndexInfo.__dataclass_fields__})
        if info.format != INDEX_FORMAT:
            raise ValueError(f"index format {info.format}, expected {INDEX_FORMAT}")
        path = folder / info.file
        if not info.file or not path.is_file():
            raise ValueError("the index file named by index.json is missing")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:  # FAISS reports damaged files as RuntimeError
            raise ValueError(f"cannot read {path.name}: {str(exc).splitlines()[0]}") from exc
        if index.d != VECTOR_DIM or index.ntotal != info.count:
            raise ValueError(f"{path.name} holds {index.ntotal} vectors of {index.d} numbers, "
                             f"index.json says {info.count} of {VECTOR_DIM}")
        standardiser = Standardiser(np.asarray(info.center, np.float32),
                                    np.asarray(info.scale, np.float32), info.fitted_count)
        if standardiser.center.shape != (VECTOR_DIM,) or standardiser.scale.shape != (VECTOR_DIM,):
            raise ValueError("index.json has no usable standardisation statistics")
        if info.kind == "ivf":
            faiss.extract_index_ivf(index).nprobe = max(1, info.nprobe)
        loaded = cls(index, info, standardiser)
        if info.kind == "flat":
            loaded._load_matrix()
        return loaded

    def _load_matrix(self) -> None:
        flat = faiss.downcast_index(self.index.index)
        self._ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        self._order = np.argsort(self._ids)
        self._block_sq = None
        self._matrix = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * VECTOR_DIM).reshape(
            flat.ntotal, VECTOR_DIM).copy() if flat.ntotal else np.zeros((0, VECTOR_DIM),
                                                                           np.float32)

    # -- updating ------------------------------------------------------------------------

    def needs_rebuild(self, count: int, exact_max: int = EXACT_MAX) -> bool:
        """True when the library changed enough that statistics or index kind are off."""
        if choose_kind(count, exact_max) != self.info.kind:
            return True
        fitted = max(self.standardiser.count, 1)
        return abs(count - fitted) > REBUILD_GROWTH * fitted

    def update(self, add_ids: np.ndarray, add_raw: np.ndarray, remove_ids: np.ndarray,
               generation: int) -> None:
        """Remove, then add (a changed vector is both), under the write lock."""
        with self.lock.writing():
            gone = np.unique(np.concatenate([np.asarray(remove_ids, np.int64),
                                             np.asarray(add_ids, np.int64)]))
            if len(gone):
                self.index.remove_ids(gone)
            if len(add_ids):
                self.index.add_with_ids(self.standardiser.transform(add_raw),
                                        np.ascontiguousarray(add_ids, dtype=np.int64))
            if len(gone) or len(add_ids):
                self.version += 1
            self.info.generation = generation
            self.info.count = int(self.index.ntotal)
            if self.info.kind == "flat":
                self._load_matrix()

    # -- searching -----------------------------------------------------------------------

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        """Every catalog id in the index."""
        with self.lock.reading():
            if self._ids is not None:
                return self._ids.copy()
            invlists = faiss.extract_index_ivf(self.index).invlists
            parts = [faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                     for i in range(invlists.nlist) if invlists.list_size(i)]
            return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """Stored (standardised) vectors of catalog ids; KeyError names one that is absent."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self._matrix is not None and self._ids is not None:
            order = self._order if self._order is not None else np.argsort(self._ids)
            pos = np.searchsorted(self._ids, ids, sorter=order)
            pos = np.minimum(pos, len(order) - 1) if len(order) else pos
            found = order[pos] if len(order) else np.zeros(0, np.int64)
            if len(ids) and (len(order) == 0 or np.any(self._ids[found] != ids)):
                missing = ids[~np.isin(ids, self._ids)]
                raise KeyError(int(missing[0]))
            return self._matrix[found]
        try:
            return self.index.reconstruct_batch(ids)
        except RuntimeError as exc:
            missing = [int(i) for i in ids if not self._has(int(i))]
            raise KeyError(missing[0] if missing else -1) from exc

    def _has(self, sample_id: int) -> bool:
        try:
            self.index.reconstruct(sample_id)
            return True
        except RuntimeError:
            return False

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               weights: np.ndarray | None = None, exclude: np.ndarray | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, squared weighted distances) of the k nearest stored vectors to a
        standardised query, nearest first.

        allowed: only these ids (a filter); weights: per-dimension multipliers of
        squared differences (aspect weights); exclude: ids never returned (the query).
        """
        query = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        exclude = np.asarray(exclude if exclude is not None else [], np.int64)
        want = k + len(exclude)
        with self.lock.reading():
            if self.count == 0 or k <= 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            if allowed is not None:
                allowed = np.setdiff1d(np.asarray(allowed, np.int64), exclude, assume_unique=True)
                if len(allowed) <= SUBSET_EXACT:
                    return self._exact(query, allowed, k, weights)
            if weights is None:
                ids, dist = self._faiss(query, want, allowed)
            elif self.info.kind == "flat":
                return self._weighted_all(query, k, weights, exclude)
            else:
                # Approximate + weighted: the equal-weight neighbourhood, re-ranked exactly.
                candidates, _ = self._faiss(query, max(RERANK_POOL, want * 20), allowed)
                return self._exact(query, np.setdiff1d(candidates, exclude, assume_unique=True),
                                   k, weights)
        # One excluded id (the usual single-example query) needs no set operation.
        keep = ids != exclude[0] if len(exclude) == 1 else ~np.isin(ids, exclude)
        return ids[keep][:k], dist[keep][:k]

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, squared distances), each (n, k), of the k nearest stored vectors to each of
        n standardised queries, restricted to `allowed`; -1 pads rows with fewer."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        with self.lock.reading():
            if self.count == 0 or k <= 0:
                return (np.full((len(queries), max(k, 0)), -1, np.int64),
                        np.zeros((len(queries), max(k, 0)), np.float32))
            params = self._params(allowed)
            with all_cores():  # a batch: FAISS splits the queries over the cores
                dist, ids = self.index.search(queries, min(k, self.count), params=params)
        return ids, dist

    def probed(self, queries: np.ndarray, spare: int = 2, distances: bool = False) -> Any:
        """The inverted lists a search from each standardised query visits (n x nprobe,
        plus `spare` next ones: FAISS may order near ties otherwise), or None for an exact
        index (every search sees every vector). With `distances`: (lists, the squared
        distance of the query to each list's centroid)."""
        if self.info.kind != "ivf":
            return None
        ivf = faiss.extract_index_ivf(self.index)
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        far, lists = ivf.quantizer.search(queries, min(self.info.nprobe + spare, ivf.nlist))
        return (lists, far) if distances else lists

    def list_of(self, sample_id: int) -> int | None:
        """The inverted list that holds a stored id (None: not an IVF index)."""
        if self.info.kind != "ivf":
            return None
        try:
            return int(faiss.extract_index_ivf(self.index).direct_map.get(int(sample_id))) >> 32
        except RuntimeError:  # not stored, or no id map: the caller searches instead
            return None

    def distances_from(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Squared distances from one standardised query to the stored vectors of `ids`,
        computed as an IVF index's search computes them (the same FAISS kernel, so equal
        to the distances its searches report, bit for bit)."""
        query = np.ascontiguousarray(query, dtype=np.float32).ravel()
        rows = np.ascontiguousarray(self.vectors_of(np.asarray(ids, np.int64)), np.float32)
        out = np.empty(len(rows), np.float32)
        if len(rows):
            faiss.fvec_L2sqr_ny(faiss.swig_ptr(out), faiss.swig_ptr(query), faiss.swig_ptr(rows),
                                rows.shape[1], len(rows))
        return out

    def _params(self, allowed: np.ndarray | None) -> Any:
        if allowed is None:
            return None
        selector = _selector(np.asarray(allowed, dtype=np.int64))
        if self.info.kind == "ivf":
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.info.nprobe)
        return faiss.SearchParameters(sel=selector)

    def _faiss(self, query: np.ndarray, k: int, allowed: np.ndarray | None,
               ) -> tuple[np.ndarray, np.ndarray]:
        dist, ids = self.index.search(query, min(k, self.count), params=self._params(allowed))
        valid = ids[0] >= 0
        return ids[0][valid], dist[0][valid]

    def _exact(self, query: np.ndarray, ids: np.ndarray, k: int, weights: np.ndarray | None,
               ) -> tuple[np.ndarray, np.ndarray]:
        if len(ids) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows = self.vectors_of(ids)
        diff = rows - query
        # einsum, not a BLAS product: BLAS threads fight FAISS's (measured 10x slower).
        dist = np.einsum("ij,ij->i", diff * weights, diff) if weights is not None else \
            np.einsum("ij,ij->i", diff, diff)
        if len(dist) > k:
            top = np.argpartition(dist, k - 1)[:k]
            top = top[np.lexsort((ids[top], dist[top]))]
        else:
            top = np.lexsort((ids, dist))
        return ids[top], dist[top].astype(np.float32)

    def _weighted_all(self, query: np.ndarray, k: int, weights: np.ndarray,
                      exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted exact search over the whole (flat) matrix without copying it:
        |w^.5 (x - q)|^2 = sum_b w_b |x_b|^2 - 2 x.(w q) + q.(w q), per-block sums cached."""
        assert self._matrix is not None and self._ids is not None
        if self._block_sq is None:
            self._block_sq = np.stack([np.einsum("ij,ij->i", self._matrix[:, a:b],
                                                 self._matrix[:, a:b])
                                       for a, b in VECTOR_BLOCKS.values()], axis=1)
        block_weights = np.array([weights[a] for a, _ in VECTOR_BLOCKS.values()], np.float32)
        weighted_query = (weights * query[0]).astype(np.float32)
        dist = (self._block_sq @ block_weights - 2 * np.einsum("ij,j->i", self._matrix,
                                                                weighted_query)
                + float(query[0] @ weighted_query))
        if len(exclude):
            dist[np.isin(self._ids, exclude)] = np.inf
        want = min(k, int(np.isfinite(dist).sum()))
        if want <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        top = np.argpartition(dist, want - 1)[:want] if len(dist) > want else np.arange(len(dist))
        top = top[np.lexsort((self._ids[top], dist[top]))]
        return self._ids[top], np.maximum(dist[top], 0).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        """Figures for `samplemind stats` and the benchmark."""
        info = asdict(self.info)
        info.pop("center")
        info.pop("scale")
        info["count"] = self.count
        return info


def _tune_nprobe(index: Any, vectors: np.ndarray, ids: np.ndarray, rng: np.random.Generator,
                 ) -> tuple[int, float]:
    """The smallest probe count whose recall@10 on sample queries reaches TARGET_RECALL."""
    queries = vectors[rng.choice(len(vectors), min(TUNING_QUERIES, len(vectors)),
                                 replace=False)]
    exact = faiss.IndexFlatL2(VECTOR_DIM)
    exact.add(vectors)
    _, positions = exact.search(queries, 10)
    truth = ids[positions]
    recall = 0.0
    nprobe = 1
    for nprobe in (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512, index.nlist):
        nprobe = min(nprobe, index.nlist)
        index.nprobe = nprobe
        _, found = index.search(queries, 10)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
        if recall >= TARGET_RECALL or nprobe >= index.nlist:
            break
    return nprobe, round(recall, 4)


def _fsync(path: Path) -> None:
    """Flush a file's data (or a folder's entries, after a rename) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_sidecar(folder: Path, meta: dict[str, Any]) -> None:
    """Write index.json atomically, without touching the index file: for save_sidecar, and
    for a sidecar moved to a later generation without loading its index. No fsync of the
    folder: a rename lost in a crash leaves the older sidecar, which names the same file
    and is merely behind."""
    _write_atomic(folder / "index.json", json.dumps(meta).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _selector(allowed: np.ndarray) -> Any:
    """A FAISS filter admitting the ids in `allowed`: a bitmap over the ids (one bit per id up
    to the largest, a lookup per stored vector the search visits), where IDSelectorBatch's
    hash set made a search among most of a large library several times slower. The bitmap
    object keeps its bytes alive (FAISS only points at them)."""
    if len(allowed) == 0 or allowed.min() < 0:
        return faiss.IDSelectorBatch(np.ascontiguousarray(allowed))
    size = int(allowed.max()) + 1
    member = np.zeros(size, bool)
    member[allowed] = True
    bits = np.packbits(member, bitorder="little")  # id i is bit i % 8 of byte i // 8
    selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))  # (its size in bytes)
    selector.bits_owner = bits  # (FAISS keeps a pointer, not a copy)
    return selector
