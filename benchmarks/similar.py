"""Similar-sound search speed: `python benchmarks/similar.py` (one command, prints every figure).

Real feature vectors (the built-in demo pack, plus the labelled Debian evaluation set of
benchmarks/data/eval when fetch.sh has unpacked it) are expanded with per-dimension Gaussian
jitter to 100k and 1M rows, so the big catalogs keep a real library's cluster structure.
For each size a real catalog is bulk-written in a temporary SAMPLEMIND home, and, in the same
process, printed as medians/percentiles:
  - index build time of Library.index.rebuild() (kind, nlist, nprobe, recall at build), and a
    raw FAISS build of the same index type on the same standardised vectors
  - bytes per vector: the saved index file / N, and the RSS growth of the build
  - k=10 query latency p50/p95/p99 of (a) Library.similar([id]), (b) raw FAISS search on the
    very index object the Library uses, same nprobe, (c) numpy brute force; ratio and overhead
  - recall@10 of the index as the Library configures it, against exact search
  - informational: weighted (aspects) and filtered (a category of about 10%) queries
Targets on 2 cores: p95 <= 2 ms at 100k, <= 5 ms at 1M with recall@10 >= 0.95; 1M index
built in < 60 s; Library.similar overhead over raw FAISS (p50) < 0.5 ms. The summary table
says PASS/FAIL; the exit code is 0 either way (a benchmark reports, it doesn't gate).
`--quick` runs 20k and 100k (about a minute).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from samplemind import Library  # noqa: E402
from samplemind.analysis.layout import VECTOR_DIM  # noqa: E402
from samplemind.analysis.versions import analysis_version  # noqa: E402
from samplemind.migrations import rebuild_figures  # noqa: E402

OUT = HERE / "out"
EVAL = HERE / "data" / "eval"
SEED = 1
K = 10
WARMUP = 10
ASPECTS = "timbre=2,pitch=0"
FILTER_SHARE = 0.10  # the filtered query uses the category whose share is closest to this
BRUTE_MAX_ROWS = 500_000  # above this, numpy brute force is slow: run fewer queries of it
BRUTE_FEW = 100
INFO_QUERIES = 200  # weighted and filtered queries (informational figures)
TARGET_P95_MS = {100_000: 2.0, 1_000_000: 5.0}
TARGET_RECALL = 0.95
TARGET_BUILD_S = 60.0
TARGET_OVERHEAD_MS = 0.5


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def vm_rss_mb() -> float:
    """Resident set size of this process now, from /proc (psutil is not installed)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(ns: list[int]) -> tuple[float, float, float]:
    """p50, p95, p99 in milliseconds."""
    p50, p95, p99 = np.percentile(np.asarray(ns, np.float64) / 1e6, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def involuntary_switches() -> int:
    """Times this process was descheduled against its will so far (all its threads)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


def unswitched_p95(ns: list[int], switched: list[bool]) -> str:
    kept = [t for t, s in zip(ns, switched) if not s]
    return f"{percentiles(kept)[1]:.3f} ms" if kept else "n/a"


def fmt_ms(ns: list[int]) -> str:
    p50, p95, p99 = percentiles(ns)
    return f"p50 {p50:7.3f}  p95 {p95:7.3f}  p99 {p99:7.3f} ms  ({len(ns)} queries)"


# -- real features ----------------------------------------------------------------------------


def real_vectors(jobs: int, use_eval: bool) -> tuple[np.ndarray, list[dict[str, Any]], str]:
    """Raw vectors and catalog rows of really analysed files, and where they came from.

    The home persists in benchmarks/out, so only the first run pays for the analysis.
    """
    from samplemind.demo import write_demo_pack

    demo = OUT / "similar-demo"
    if not (demo / ".done").exists():
        shutil.rmtree(demo, ignore_errors=True)
        write_demo_pack(demo)
        (demo / ".done").write_text("ok")
    roots = [demo]
    source = "demo pack"
    if use_eval and EVAL.is_dir() and any(EVAL.glob("*/.unpacked")):
        roots.append(EVAL)
        source = f"demo pack + {EVAL.relative_to(HERE.parent)}"
    # One home per analysis version: vectors of an older extractor are not rescanned (the
    # files are unchanged) and would not fit the current vector layout.
    home = OUT / f"similar-real-{analysis_version()}"
    for stale in OUT.glob("similar-real*"):
        if stale != home:
            shutil.rmtree(stale, ignore_errors=True)
    for attempt in (1, 2):
        with Library(home, jobs=jobs) as library:
            started = time.perf_counter()
            report = library.scan(roots)
            log(f"real features: scanned {report.seen} files in "
                f"{time.perf_counter() - started:.1f} s ({report.analysed} analysed, "
                f"{report.failed} failed)")
            # Only the roots named now: the persistent catalog may remember others.
            where = f"s.root IN ({', '.join('?' for _ in roots)})"
            resolved = [os.path.abspath(root) for root in roots]  # as Library.scan stores them
            ids, raw = library.catalog.vectors(where, resolved)
            # Whole rows, straight from SQL: the bulky columns too, whatever Catalog.rows skips.
            cursor = library.catalog.conn.execute(
                f"SELECT * FROM samples s WHERE {where}", resolved)
            names = [column[0] for column in cursor.description]
            rows = {row["id"]: row for row in (dict(zip(names, values)) for values in cursor)}
        if raw.shape[1] == VECTOR_DIM or attempt == 2:
            break
        # The extractor changed without a version bump (work in progress): start afresh.
        log(f"real features: stored vectors have {raw.shape[1]} numbers, the extractor "
            f"{VECTOR_DIM}: analysing again")
        shutil.rmtree(home)
    return raw.copy(), [rows[int(i)] for i in ids], f"{source}: {len(ids)} vectors"


def expand(raw: np.ndarray, n: int, jitter: float, rng: np.random.Generator,
           ) -> tuple[np.ndarray, np.ndarray]:
    """n rows, each a random real vector plus Gaussian noise of jitter x that dimension's
    std across the real vectors: clusters around real sounds, not uniform noise."""
    std = np.nan_to_num(raw.std(axis=0)).astype(np.float32) * np.float32(jitter)
    source = rng.integers(0, len(raw), n)
    out = np.empty((n, raw.shape[1]), np.float32)
    for start in range(0, n, 100_000):  # chunks: the noise of 1M rows at once doubles the peak
        part = source[start:start + 100_000]
        out[start:start + len(part)] = raw[part] + rng.standard_normal(
            (len(part), raw.shape[1]), dtype=np.float32) * std
    return out, source


# Columns every expanded row gets of its own; the rest (descriptors, analysis JSON, peaks) are
# copied from its real source row, so fetching a record costs what it costs in a real library.
OWN_COLUMNS = ("id", "path", "root", "name", "hash", "audio_hash", "vector", "vector_generation")


def _expanded_rows(conn: Any, vectors: np.ndarray, source: np.ndarray,
                   real_rows: list[dict[str, Any]], generation: int) -> tuple[str, Any]:
    """(the INSERT statement, its rows): row i is vectors[i] with the other columns of its
    real source row, under /bench/library/<category>/."""
    schema = [row[1] for row in conn.execute("PRAGMA table_info(samples)")]
    copied = [c for c in schema if c not in OWN_COLUMNS and c in real_rows[0]]
    templates = [tuple(row[c] for c in copied) for row in real_rows]
    columns = ["path", "root", "name", "hash", "audio_hash", "vector", "vector_generation", *copied]
    sql = (f"INSERT INTO samples ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    root = "/bench/library"

    def rows() -> Any:
        for i in range(len(vectors)):
            name = f"s{i:07d}.wav"
            folder = real_rows[source[i]]["category"] or "other"
            yield (f"{root}/{folder}/{name}", root, name, f"{i:040x}", f"a{i:039x}",
                   vectors[i].tobytes(), generation, *templates[source[i]])

    return sql, rows()


def build_catalog(home: Path, vectors: np.ndarray, source: np.ndarray,
                  real_rows: list[dict[str, Any]]) -> tuple[Library, float]:
    """A real catalog of len(vectors) rows, bulk-written in one transaction; seconds taken."""
    library = Library(home)  # creates the schema through the real migrations
    started = time.perf_counter()
    conn = library.catalog.conn
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                           "tbl_name = 'samples' AND sql IS NOT NULL").fetchall()
    with library.catalog.transaction():  # commits as one generation, as a scan's batch would
        generation = library.catalog.next_generation
        # Dropping the secondary indexes and creating them again (same SQL) after the rows
        # halves the write: sorted index builds beat 14 b-tree inserts per row.
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.executemany(*_expanded_rows(conn, vectors, source, real_rows, generation))
        for _, create in indexes:
            conn.execute(create)
    library.catalog.update_statistics(force=True)  # what a scan does after adding this many
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return library, time.perf_counter() - started


@contextlib.contextmanager
def set_based_writes(library: Library, with_tags: bool = False) -> Iterator[int]:
    """Write many rows the fast way a million rows need (benchmarks/query.py and scale.py
    too): the rollback journal instead of the WAL (an empty table has nothing to roll back),
    the indexes made once after the rows, and the per-row insert triggers (full-text index,
    change feed, figures; with_tags: the tags' too) replaced by one set-based statement each,
    the triggers' own SQL, for every sample written inside. Yields the generation the rows
    belong to; the caller inserts them."""
    conn = library.catalog.conn
    triggers = dict(conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%insert'"
        + ("" if with_tags else " AND tbl_name = 'samples'")).fetchall())
    fts = triggers["samples_fts_insert"]
    fts_bulk = fts[fts.index("INSERT INTO samples_fts"):fts.rindex("WHERE s.id = new.id")]
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                           "tbl_name = 'samples' AND sql IS NOT NULL").fetchall()
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    for name in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    try:
        with library.catalog.transaction():
            generation = library.catalog.next_generation
            for name, _ in indexes:
                conn.execute(f"DROP INDEX {name}")
            before = conn.execute("SELECT coalesce(max(id), 0) FROM samples").fetchone()[0]
            yield generation
            conn.execute("INSERT INTO sample_changes (sample_id, generation) "
                         "SELECT id, ? FROM samples WHERE id > ?", [generation, before])
            conn.execute(fts_bulk + " WHERE s.id > ?", [before])
            rebuild_figures(conn)  # the figures the dropped *_figures_insert would count
            for _, create in indexes:
                conn.execute(create)
    finally:
        for create in triggers.values():
            conn.execute(create)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    library.catalog.update_statistics(force=True)


def build_catalog_fast(home: Path, vectors: np.ndarray, source: np.ndarray,
                       real_rows: list[dict[str, Any]]) -> tuple[Library, float]:
    """build_catalog's rows, written set-based (set_based_writes)."""
    library = Library(home)
    started = time.perf_counter()
    with set_based_writes(library) as generation:
        library.catalog.conn.executemany(
            *_expanded_rows(library.catalog.conn, vectors, source, real_rows, generation))
    return library, time.perf_counter() - started


# -- one size ---------------------------------------------------------------------------------


def raw_faiss_build(vectors: np.ndarray, ids: np.ndarray, kind: str, nlist: int,
                    ) -> tuple[Any, float]:
    """The same index type built straight with FAISS (no catalog read, statistics, tuning, save)."""
    started = time.perf_counter()
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatL2(dim))
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist)
        rng = np.random.default_rng(0)
        train = vectors[np.sort(rng.choice(len(vectors), min(len(vectors), nlist * 50),
                                           replace=False))]
        index.cp.seed = 0  # the clustering seed VectorIndex.build uses
        index.train(train)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
    index.add_with_ids(vectors, ids)
    return index, time.perf_counter() - started


def recall_at_10(index: Any, exact_ids: np.ndarray, queries: np.ndarray, query_ids: np.ndarray,
                 ) -> float:
    """Share of the exact 10 nearest others (the query itself excluded, as Library.similar
    excludes it) that the index returns."""
    _, found = index.search(queries, K + 1)
    total = 0.0
    for row, truth, me in zip(found, exact_ids, query_ids):
        got = [i for i in row if i != me][:K]
        want = [i for i in truth if i != me][:K]
        total += len(set(got) & set(want)) / K
    return total / len(query_ids)


def bench_size(n: int, real: np.ndarray, real_rows: list[dict[str, Any]], args: argparse.Namespace,
               ) -> dict[str, Any]:
    """Every figure for one catalog size; printed as it goes, returned for the summary."""
    print(f"\n== {n:,} vectors ==", flush=True)
    vectors, source = expand(real, n, args.jitter, np.random.default_rng(SEED))
    home = Path(tempfile.mkdtemp(prefix="sm-bench-similar-"))
    library = None
    try:
        library, insert_s = build_catalog(home, vectors, source, real_rows)
        del vectors
        db_mb = library.paths.catalog.stat().st_size / 1e6
        print(f"catalog bulk write  : {insert_s:6.1f} s  ({n / insert_s:,.0f} rows/s, {db_mb:,.0f} MB "
              "catalog; full rows; not a target)")
        gc.collect()
        built, build_s, ids, standardised = build_index(library, n)
        info = built.info

        assert library.index.current() is built, "the index changed under the benchmark"
        qrng = np.random.default_rng(SEED + 1)
        query_ids = qrng.choice(ids, min(args.queries, n), replace=False)
        # Catalog ids are sorted and follow insertion order: position i is vectors[i], source[i].
        positions = np.searchsorted(ids, query_ids)
        queries = standardised[positions]
        lib_ns, raw_ns, lib_switched, raw_switched, agree = time_similar_and_faiss(
            library, built.index, query_ids, queries)
        print(f"(a) Library.similar : {fmt_ms(lib_ns)}")
        probe = f"nprobe {info.nprobe}" if info.kind == "ivf" else "exact"
        print(f"(b) raw FAISS       : {fmt_ms(raw_ns)}  (search k={K + 1}, {probe})")
        # On 2 shared cores a call the scheduler interrupts waits a whole time slice (ms):
        # counting those tells machine load from slow code.
        print(f"  preempted calls (involuntary context switch during the call): (a) "
              f"{sum(lib_switched)}, (b) {sum(raw_switched)} of {len(lib_ns)}; p95 of the others: "
              f"(a) {unswitched_p95(lib_ns, lib_switched)}, (b) {unswitched_p95(raw_ns, raw_switched)}")
        brute = BRUTE_FEW if n > BRUTE_MAX_ROWS else len(queries)
        brute_ns = time_brute_force(standardised, queries[:brute])
        few = f"; only {brute} queries at this size, it is slow" if brute < len(queries) else ""
        print(f"(c) numpy brute     : {fmt_ms(brute_ns)}{few}")
        lib50, lib95, _ = percentiles(lib_ns)
        raw50, raw95, _ = percentiles(raw_ns)
        brute50, _, _ = percentiles(brute_ns)
        print(f"  (a)/(b) p50 {lib50 / raw50:.1f}x, p95 {lib95 / raw95:.1f}x;  overhead (a)-(b) "
              f"p50 {lib50 - raw50:.3f} ms;  (c)/(a) p50 {brute50 / lib50:.0f}x")
        print(f"  Library.similar returned the raw FAISS top {K} (query excluded) for "
              f"{agree}/{len(query_ids)} queries")

        started = time.perf_counter()
        exact = faiss.IndexFlatL2(standardised.shape[1])
        exact.add(standardised)
        _, truth_rows = exact.search(queries, K + 1)
        exact_s = time.perf_counter() - started
        del exact
        recall = recall_at_10(built.index, ids[truth_rows], queries, query_ids)
        print(f"recall@10           : {recall:.4f} over {len(query_ids)} queries (query excluded; "
              f"exact truth by batch IndexFlatL2 in {exact_s:.1f} s)")
        # How clustered the data is: true neighbours jittered from the query's own real sound
        # make approximate search easy; a larger --jitter makes it harder.
        others = ids[truth_rows] != query_ids[:, None]
        same = np.mean((source[truth_rows] == source[positions][:, None])[others])
        print(f"  true neighbours jittered from the query's own real vector: {same:.1%}")

        informational_queries(library, query_ids[:INFO_QUERIES].tolist(), n)
        if args.profile:
            profile_similar(library, query_ids.tolist())
        return {"n": n, "build_s": build_s, "p95": lib95, "overhead": lib50 - raw50,
                "recall": recall}
    finally:
        if library is not None:
            library.close()
        shutil.rmtree(home, ignore_errors=True)


def build_index(library: Library, n: int) -> tuple[Any, float, np.ndarray, np.ndarray]:
    """Library.index.rebuild() timed and described, and a raw FAISS build to compare with;
    returns the index, its build seconds, catalog ids and their standardised vectors."""
    rss_before = vm_rss_mb()
    started = time.perf_counter()
    built = library.index.rebuild("benchmark")
    build_s = time.perf_counter() - started
    gc.collect()
    rss_growth = vm_rss_mb() - rss_before
    info = built.info
    file_bytes = (library.index.folder / info.file).stat().st_size
    started = time.perf_counter()
    ids, raw = library.catalog.vectors()
    read_s = time.perf_counter() - started
    assert len(ids) == n, "the bulk write lost rows"
    recall_note = "" if info.recall_at_10 is None else f", recall@10 at build {info.recall_at_10}"
    print(f"index build         : {build_s:6.2f} s  Library.index.rebuild(): kind {info.kind}, "
          f"nlist {info.nlist}, nprobe {info.nprobe}{recall_note}")
    print(f"  of which          : VectorIndex.build {info.build_seconds:.2f} s (statistics, "
          f"train, add, tune); catalog read, save and the rest "
          f"{build_s - info.build_seconds:.2f} s (a catalog read alone: {read_s:.2f} s)")
    standardised = built.standardiser.transform(raw)
    del raw
    _, raw_build_s = raw_faiss_build(standardised, ids, info.kind, info.nlist)
    print(f"raw FAISS build     : {raw_build_s:6.2f} s  same type on the same standardised "
          f"vectors (train + add)  -> Library/raw = {build_s / raw_build_s:.1f}x")
    print(f"bytes per vector    : {file_bytes / n:6.1f} B on disk ({file_bytes / 1e6:.0f} MB "
          f"index file; raw float32 is {standardised.shape[1] * 4} B), RSS growth of the "
          f"build {rss_growth * 2**20 / n:.0f} B/vector ({rss_growth:.0f} MB)")
    return built, build_s, ids, standardised


def time_similar_and_faiss(library: Library, faiss_index: Any, query_ids: np.ndarray,
                           queries: np.ndarray) -> tuple[list, list, list, list, int]:
    """Per-call ns of Library.similar and of the raw search it wraps, query by query; whether
    each call was preempted; how many result sets agree."""
    # Warm both paths (SQLite page cache, FAISS lists, numpy dispatch) before timing.
    for sample_id, query in zip(query_ids[:WARMUP].tolist(), queries[:WARMUP]):
        library.similar([sample_id], k=K)
        faiss_index.search(query[None, :], K + 1)
    lib_ns, raw_ns, lib_switched, raw_switched, agree = [], [], [], [], 0
    for j, (sample_id, query) in enumerate(zip(query_ids.tolist(), queries)):
        query = query[None, :]
        # Alternate which goes first, so neither always finds the other's cache lines warm.
        for which in ((0, 1) if j % 2 else (1, 0)):
            switches = involuntary_switches()
            if which == 0:
                started_ns = time.perf_counter_ns()
                hits = library.similar([sample_id], k=K)
                lib_ns.append(time.perf_counter_ns() - started_ns)
                lib_switched.append(involuntary_switches() != switches)
            else:
                started_ns = time.perf_counter_ns()
                _, found = faiss_index.search(query, K + 1)
                raw_ns.append(time.perf_counter_ns() - started_ns)
                raw_switched.append(involuntary_switches() != switches)
        raw_top = [i for i in found[0].tolist() if i != sample_id][:K]
        agree += set(raw_top) == {hit.sample.id for hit in hits}
    return lib_ns, raw_ns, lib_switched, raw_switched, agree


def time_brute_force(matrix: np.ndarray, queries: np.ndarray) -> list[int]:
    """Per-query ns of the numpy baseline: every squared distance, then the k+1 smallest."""
    out = []
    for query in queries:
        started_ns = time.perf_counter_ns()
        dist = ((matrix - query) ** 2).sum(1)
        top = np.argpartition(dist, K + 1)[:K + 1]
        top[np.argsort(dist[top])]
        out.append(time.perf_counter_ns() - started_ns)
    return out


def informational_queries(library: Library, query_ids: list[int], n: int) -> None:
    """Weighted and filtered Library.similar latency (no targets)."""
    shares = {category: count / n for category, count in library.catalog.query(
        "SELECT category, count(*) FROM samples WHERE category IS NOT NULL GROUP BY category")}
    category = min(shares, key=lambda c: abs(shares[c] - FILTER_SHARE))
    weighted_ns, filtered_ns = [], []
    for sample_id in query_ids:
        started_ns = time.perf_counter_ns()
        library.similar([sample_id], k=K, aspects=ASPECTS)
        weighted_ns.append(time.perf_counter_ns() - started_ns)
        started_ns = time.perf_counter_ns()
        library.similar([sample_id], k=K, category=category)
        filtered_ns.append(time.perf_counter_ns() - started_ns)
    print(f"weighted query      : {fmt_ms(weighted_ns)}  aspects={ASPECTS!r}")
    print(f"filtered query      : {fmt_ms(filtered_ns)}  category={category!r} "
          f"({shares[category]:.1%} of rows)")


def profile_similar(library: Library, query_ids: list[int]) -> None:
    """cProfile of Library.similar over the same queries: where the overhead goes."""
    profiler = cProfile.Profile()
    profiler.enable()
    for sample_id in query_ids:
        library.similar([sample_id], k=K)
    profiler.disable()
    print(f"  cProfile of {len(query_ids)} Library.similar calls (tottime, top 25):")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(25)


# -- summary ----------------------------------------------------------------------------------


def summary(results: list[dict[str, Any]]) -> None:
    """Figure, value, target, PASS/FAIL for every size that has a target."""
    lines: list[tuple[str, str, str, bool]] = []
    for result in results:
        n = result["n"]
        label = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
        if n in TARGET_P95_MS:
            target = TARGET_P95_MS[n]
            lines.append((f"p95 Library.similar @{label}", f"{result['p95']:.3f} ms",
                          f"<= {target:g} ms", result["p95"] <= target))
        if n >= 1_000_000:
            lines.append((f"recall@10 @{label}", f"{result['recall']:.4f}",
                          f">= {TARGET_RECALL}", result["recall"] >= TARGET_RECALL))
            lines.append((f"index build @{label}", f"{result['build_s']:.1f} s",
                          f"<= {TARGET_BUILD_S:g} s", result["build_s"] <= TARGET_BUILD_S))
        lines.append((f"overhead p50 @{label}", f"{result['overhead']:.3f} ms",
                      f"<= {TARGET_OVERHEAD_MS} ms", result["overhead"] <= TARGET_OVERHEAD_MS))
    print("\nsummary")
    print(f"  {'figure':28} {'value':>12}  {'target':>10}  result")
    for figure, value, target, ok in lines:
        print(f"  {figure:28} {value:>12}  {target:>10}  {'PASS' if ok else 'FAIL'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated catalog sizes")
    parser.add_argument("--quick", action="store_true", help="sizes 20000,100000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--jitter", type=float, default=0.2,
                        help="noise per dimension, as a fraction of that dimension's std")
    parser.add_argument("--jobs", type=int, default=2, help="workers for the real-feature scan")
    parser.add_argument("--no-eval", action="store_true",
                        help="real features from the demo pack only, even if the eval set is there")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of Library.similar at each size")
    args = parser.parse_args()
    sizes = [20_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    OUT.mkdir(exist_ok=True)

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"at start; faiss {faiss.__version__} with {faiss.omp_get_max_threads()} OpenMP threads, "
          f"numpy {np.__version__}")
    real, real_rows, source = real_vectors(args.jobs, not args.no_eval)
    print(f"real features: {source}, expanded with jitter {args.jitter} x per-dimension std; "
          f"{args.queries} queries per size (seed {SEED}), k={K}, {WARMUP} warm-up queries")
    results = []
    started = time.perf_counter()
    for n in sizes:
        results.append(bench_size(n, real, real_rows, args))
        gc.collect()
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"sizes took {time.perf_counter() - started:.0f} s")
    summary(results)
    print("(medians and percentiles of one run on a shared machine: expect noise)")


if __name__ == "__main__":
    main()
