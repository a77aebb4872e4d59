"""Query speed: `python benchmarks/query.py` (one command, prints every figure).

Builds a catalog of 100,000 generated sample records (categories, tempos, keys, notes,
loudness, tags, names with words) and prints, for typical queries with `limit:50`,
p50/p95 latency through `Library.ls` (compile + SQL + records), next to a baseline in the
same run: the same filter done in Python over all rows already in memory. Then times every
query again under each state of the planner's statistics (none: sqlite_stat1 dropped; fresh:
a full ANALYZE of this catalog; stale: the statistics of a 1,000-sample catalog, as a library
has after its first small scan and a bulk write), both through `Library.ls` and through
`Library.query_ids` (the ids of a page, what the server reads before splicing records), and
checks that every state returns the same rows. Then the web UI's column sorts (`--parts
sorts`): the first page of 100 a click on a column header asks for (`sort:name`, `sort:bpm-`,
... every column the UI sorts by, both directions), alone and with the filters type:oneshot,
type:loop and cat:kick, per statistics state: p50/p95 of the page's ids and its total
(`Library.query_ids(..., limit=100, total=True)`, what the server reads) and of the page
through `Library.ls`, each checked against a Python sort of every record. Then the cost of
writes (`--parts writes`): single-row inserts as a scan makes them, in batches. Then streams
`samplemind ls --format jsonl` over every record and prints its peak RSS.
`--keep DIR` builds the catalog in DIR once and reuses it (a million records take minutes).
Targets on 2 cores: p95 <= 5 ms per query in every statistics state; streaming all 100k
records under 150 MB RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from samplemind import Library  # noqa: E402
from samplemind.music import NOTE_NAMES, camelot, midi_to_note, note_to_midi  # noqa: E402
from samplemind.query import compatible_camelot  # noqa: E402

CATEGORIES = ("kick", "snare", "hihat", "cymbal", "tom", "clap", "perc", "bass", "synth", "pad",
              "keys", "fx", None)
WORDS = ("warm", "tape", "dusty", "punchy", "vinyl", "analog", "crisp", "deep", "lofi", "808",
         "909", "acoustic", "room", "bright", "dark", "wide")
BUILT = ".built"  # in a kept catalog's folder (--keep): the build finished
TAGS = ("dark", "used", "bright", "favourite", "808", "lofi")
CHORDS = ("A", "Am", "C", "Cmaj7", "Dm7", "E7", "Fmaj7", "G", "Gsus4", "Bdim", "Bbmaj7", "F#m")


def make_rows(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """Generated catalog rows with realistic spreads (a third loops, tags on a third)."""
    rng = random.Random(seed)
    tonal = random.Random(seed + 1)  # pitch and chord: their own draws leave the rest as it was
    rows = []
    for i in range(count):
        loop = rng.random() < 0.33
        category = rng.choice(CATEGORIES)
        key = f"{rng.choice(NOTE_NAMES)} {rng.choice(('major', 'minor'))}" \
            if loop and rng.random() < 0.7 else None
        note = midi_to_note(rng.randint(24, 84)) if not loop and rng.random() < 0.4 else None
        words = "_".join(rng.sample(WORDS, 2))
        name = f"{category or 'sample'}_{words}_{i:06d}.wav"
        folder = f"/lib/Pack{i % 200:03d}/{(category or 'misc').title()}s"
        rows.append({
            "path": f"{folder}/{name}", "root": "/lib", "name": name, "hash": f"{i:032x}",
            "format": "wav", "type": "loop" if loop else "oneshot", "category": category,
            "bpm": round(rng.uniform(70, 180), 1) if loop else None, "key": key,
            "camelot": camelot(key), "note": note, "duration": round(rng.uniform(0.1, 8), 3),
            "loudness_lufs": round(rng.uniform(-30, -5), 2), "sample_rate": 44100,
            "description": " ".join(rng.sample(WORDS, 3)) if rng.random() < 0.1 else None,
            "tags": rng.sample(TAGS, rng.randint(1, 2)) if rng.random() < 0.33 else [],
        })
        midi = note_to_midi(note) if note else None
        rows[-1]["pitch_hz"] = (round(440.0 * 2 ** ((midi - 69) / 12) * tonal.uniform(0.98, 1.02), 2)
                                if midi is not None else None)
        rows[-1]["chord"] = (tonal.choice(CHORDS) if not loop and category in ("bass", "synth", "keys", "pad")
                             and tonal.random() < 0.5 else None)
    return rows


def without_sort_indexes(conn: Any) -> None:
    """The catalog's indexes as they were before migration m020 (its sort indexes dropped, the
    ones it replaced back): what they cost writes is the difference (--without-sort-indexes)."""
    from samplemind.migrations import SORT_INDEXES

    before = {"idx_samples_name": "samples (name)", "samples_category_type": "samples (category, type)"}
    for old, name, _ in SORT_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")
        if old is not None:
            conn.execute(f"CREATE INDEX IF NOT EXISTS {old} ON {before[old]}")


def bulk_build(home: Path, rows: list[dict[str, Any]], plain: bool = False) -> float:
    """The same catalog written the fast way a million rows need (benchmarks/similar.py's
    set_based_writes, as scale.py does); returns seconds."""
    from similar import set_based_writes  # benchmarks/similar.py

    started = time.perf_counter()
    with Library(home) as library:
        conn = library.catalog.conn
        if plain:
            without_sort_indexes(conn)
        conn.execute("PRAGMA cache_size = -1000000")
        with set_based_writes(library, with_tags=True):
            columns = [c for c in rows[0] if c != "tags"]
            conn.executemany(f"INSERT INTO samples ({', '.join(columns)}) VALUES "
                             f"({', '.join('?' for _ in columns)})",
                             ([row[c] for c in columns] for row in rows))
            ids = dict(conn.execute("SELECT path, id FROM samples"))
            conn.executemany("INSERT INTO tags (sample_id, tag, source) VALUES (?, ?, 'user')",
                             [(ids[row["path"]], tag) for row in rows for tag in row["tags"]])
    return time.perf_counter() - started


def build_catalog(home: Path, rows: list[dict[str, Any]], cache_mb: int = 0,
                  plain: bool = False) -> float:
    """Insert rows (and tags) in one transaction (the indexes and triggers of the schema kept
    up row by row: the bulk-write cost); returns seconds. cache_mb: SQLite's page cache for the
    build (0: the catalog's own), which a million rows need to be written in minutes. plain:
    without m020's sort indexes."""
    started = time.perf_counter()
    with Library(home) as library:
        catalog = library.catalog
        if plain:
            without_sort_indexes(catalog.conn)
        if cache_mb:
            catalog.conn.execute(f"PRAGMA cache_size = -{cache_mb * 1024}")
        columns = [c for c in rows[0] if c != "tags"]
        marks = ", ".join("?" for _ in columns)
        with catalog.transaction():
            catalog.conn.executemany(
                f"INSERT INTO samples ({', '.join(columns)}) VALUES ({marks})",
                [[row[c] for c in columns] for row in rows])
            ids = dict(catalog.query("SELECT path, id FROM samples"))
            catalog.conn.executemany(
                "INSERT INTO tags (sample_id, tag, source) VALUES (?, ?, 'user')",
                [(ids[row["path"]], tag) for row in rows for tag in row["tags"]])
        catalog.update_statistics(force=True)  # what a scan does after adding this many
    return time.perf_counter() - started


def _in(value: Any, low: float | None, high: float | None) -> bool:
    return value is not None and (low is None or value >= low) and (high is None or value <= high)


def _compatible(key: str) -> set[str]:
    return set(compatible_camelot(camelot(key)))


def _note_range(low: str, high: str) -> Callable[[Any], bool]:
    a, b = note_to_midi(low), note_to_midi(high)
    return lambda note: note is not None and a <= (note_to_midi(note) or -1) <= b


NOTE_C2_C3 = _note_range("C2", "C3")
AM_COMPATIBLE = _compatible("A minor")

# (query, the same filter in Python, sort key or None (path order), descending)
QUERIES: list[tuple[str, Callable[[dict[str, Any]], bool], str | None, bool]] = [
    ("cat:kick limit:50", lambda r: r["category"] == "kick", None, False),
    ("type:loop bpm:120..128 limit:50", lambda r: r["type"] == "loop" and _in(r["bpm"], 120, 128),
     None, False),
    ("key:Am~ type:loop limit:50", lambda r: r["camelot"] in AM_COMPATIBLE and r["type"] == "loop",
     None, False),
    ("tag:dark -tag:used limit:50", lambda r: "dark" in r["tags"] and "used" not in r["tags"],
     None, False),
    ("warm tape limit:50", lambda r: all(w in (r["name"] + " " + (r["description"] or "") + " "
                                               + " ".join(r["tags"])).lower()
                                         for w in ("warm", "tape")), None, False),
    ("note:C2..C3 cat:bass limit:50", lambda r: r["category"] == "bass" and NOTE_C2_C3(r["note"]),
     None, False),
    ("cat:snare,clap lufs:..-10 sort:lufs- limit:50",
     lambda r: r["category"] in ("snare", "clap") and _in(r["loudness_lufs"], None, -10),
     "loudness_lufs", True),
    ("type:loop sort:bpm- limit:50", lambda r: r["type"] == "loop", "bpm", True),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def time_queries(home: Path, rows: list[dict[str, Any]], runs: int) -> list[tuple[str, ...]]:
    table = []
    with Library(home) as library:
        for query, predicate, sort_key, descending in QUERIES:
            samples: list[Any] = []
            for _ in range(3):  # warm up
                samples = list(library.ls(query))
            took = []
            for _ in range(runs):
                started = time.perf_counter()
                samples = list(library.ls(query))
                took.append((time.perf_counter() - started) * 1000)
            base = []
            expected: list[dict[str, Any]] = []
            for _ in range(max(5, runs // 20)):
                started = time.perf_counter()
                found = [r for r in rows if predicate(r)]
                if sort_key:
                    found.sort(key=lambda r: r["path"])
                    found.sort(key=lambda r: r[sort_key], reverse=descending)
                else:
                    found.sort(key=lambda r: r["path"])
                expected = found[:50]
                base.append((time.perf_counter() - started) * 1000)
            got = [s.record["path"] for s in samples]
            agree = "yes" if got == [r["path"] for r in expected] else "NO"
            table.append((query, f"{len(samples)}", f"{statistics.median(took):.2f}",
                          f"{percentile(took, 0.95):.2f}", f"{statistics.median(base):.1f}",
                          f"{statistics.median(base) / statistics.median(took):.0f}x", agree))
    return table


STATES = ("none", "fresh", "stale")


def set_statistics(home: Path, state: str, stale_rows: list[tuple[str, str | None, str]]) -> None:
    """Put the planner's statistics in one state (read by each new connection)."""
    with Library(home) as library:
        conn = library.catalog.conn
        if state == "fresh":
            library.catalog.update_statistics(force=True)
            return
        conn.execute("ANALYZE sqlite_schema")  # makes sure sqlite_stat1 exists
        conn.execute("DELETE FROM sqlite_stat1")
        for table in ("sqlite_stat4",):
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
                conn.execute(f"DELETE FROM {table}")
        if state == "stale":
            conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)",
                             stale_rows)
        elif state == "none":
            conn.execute("DROP TABLE sqlite_stat1")


def stale_statistics(rows: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    """The sqlite_stat1 rows a full ANALYZE writes for the first 1,000 of these samples."""
    with tempfile.TemporaryDirectory(prefix="sm-query-small-") as scratch:
        build_catalog(Path(scratch), rows[:1000])
        with Library(Path(scratch)) as library:
            return [tuple(row) for row in library.catalog.query(
                "SELECT tbl, idx, stat FROM sqlite_stat1")]


def time_states(home: Path, runs: int, stale_rows: list[tuple[str, str | None, str]],
                ) -> tuple[list[tuple[str, ...]], bool]:
    """p50/p95 of every query through ls and through query_ids in each statistics state;
    whether every state returned the same rows."""
    times: dict[tuple[str, str, str], list[float]] = {}
    answers: dict[str, set[tuple[int, ...]]] = {query: set() for query, *_ in QUERIES}
    for state in STATES:
        set_statistics(home, state, stale_rows)
        with Library(home) as library:
            for query, *_ in QUERIES:
                for path, call in (("ls", lambda q: [s.id for s in library.ls(q)]),
                                   ("ids", lambda q: library.query_ids(q, limit=51)[1][:50])):
                    for _ in range(3):
                        answers[query].add(tuple(call(query)))
                    took = times.setdefault((query, path, state), [])
                    for _ in range(runs):
                        started = time.perf_counter()
                        call(query)
                        took.append((time.perf_counter() - started) * 1000)
    table = []
    for query, *_ in QUERIES:
        cells = [query]
        for path in ("ls", "ids"):
            for state in STATES:
                took = times[(query, path, state)]
                cells.append(f"{statistics.median(took):.2f}/{percentile(took, 0.95):.2f}")
        cells.append("yes" if len(answers[query]) == 1 else "NO")
        table.append(tuple(cells))
    return table, all(len(found) == 1 for found in answers.values())


# -- the web UI's column sorts ------------------------------------------------------------

# The columns the UI sorts by (samplemind/server/ui/app.js, COLUMNS' `sort`), and its filters.
SORT_FIELDS = ("name", "type", "category", "bpm", "key", "chord", "note", "duration",
               "loudness_lufs", "path")
SORT_FILTERS = ("", "type:oneshot", "type:loop", "cat:kick")
SORT_PAGE = 100  # the UI's first page (app.js FIRST_PAGE)


def _nocase(text: str) -> str:
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def _sort_value(row: dict[str, Any], field: str) -> Any:
    """The value a sort:<field> orders by (None: last), as README's Queries says."""
    if field == "key":
        code = row["camelot"]
        return None if code is None else (int(code[:-1]), code)
    if field == "note":
        return row["pitch_hz"]
    value = row[field]
    return _nocase(value) if isinstance(value, str) and field != "path" else value


def sort_page_oracle(rows: list[dict[str, Any]], text: str, field: str, descending: bool,
                     limit: int = SORT_PAGE) -> tuple[list[str], int]:
    """(paths of the first page, total) of a filter and a sort, in Python over every row."""
    kind = text.partition(":")[0]
    wanted = text.partition(":")[2]
    found = [r for r in rows if not text or r["type" if kind == "type" else "category"] == wanted]
    found.sort(key=lambda r: r["path"])
    valued = [r for r in found if _sort_value(r, field) is not None]
    valued.sort(key=lambda r: _sort_value(r, field), reverse=descending)
    nulls = [r for r in found if _sort_value(r, field) is None]
    return [r["path"] for r in (valued + nulls)[:limit]], len(found)


def sort_queries() -> list[tuple[str, str, str, bool]]:
    """(query, filter, field, descending) of every column sort the UI can ask for."""
    return [(" ".join(part for part in (text, f"sort:{field}{'-' if descending else ''}") if part),
             text, field, descending)
            for text in SORT_FILTERS for field in SORT_FIELDS for descending in (False, True)]


def time_sorts(home: Path, rows: list[dict[str, Any]], runs: int, budget: float,
               stale_rows: list[tuple[str, str | None, str]], calls: tuple[str, ...],
               ) -> tuple[dict[tuple[str, str, str], list[float]], dict[str, bool]]:
    """Milliseconds of each sort page per (query, call, state), at most `runs` runs or
    `budget` seconds each (at least 2 after the first, checked call; a first call over the
    budget is the one run); whether each query's page and total
    equal the Python sort's in every state."""
    times: dict[tuple[str, str, str], list[float]] = {}
    right: dict[str, bool] = {}
    expected = {query: sort_page_oracle(rows, text, field, descending)
                for query, text, field, descending in sort_queries()}
    for state in STATES:
        set_statistics(home, state, stale_rows)
        with Library(home) as library:
            path_of = dict(library.catalog.query("SELECT id, path FROM samples"))
            for query, *_ in sort_queries():
                paths, total = expected[query]
                started = time.perf_counter()  # the first call is checked, and is a run too
                generation, ids, count = library.query_ids(query, limit=SORT_PAGE, total=True)
                first = {"page": (time.perf_counter() - started) * 1000}
                listed = paths
                if "ls" in calls:
                    started = time.perf_counter()
                    listed = [s.path for s in library.ls(query, limit=SORT_PAGE)]
                    first["ls"] = (time.perf_counter() - started) * 1000
                right[query] = right.get(query, True) and count == total and \
                    [path_of[i] for i in ids] == paths and listed == paths
                for call in calls:
                    work: Callable[[], Any] = (
                        (lambda q=query: library.query_ids(q, limit=SORT_PAGE, total=True))
                        if call == "page" else
                        (lambda q=query: list(library.ls(q, limit=SORT_PAGE))))
                    took = times.setdefault((query, call, state), [])
                    if first[call] > budget * 1000:  # slow: that run is the figure
                        took.append(first[call])
                        continue
                    began = time.perf_counter()
                    while len(took) < runs and (len(took) < 2 or time.perf_counter() - began < budget):
                        started = time.perf_counter()
                        work()
                        took.append((time.perf_counter() - started) * 1000)
    return times, right


def print_sorts(times: dict[tuple[str, str, str], list[float]], right: dict[str, bool],
                calls: tuple[str, ...]) -> float:
    """The sort pages' table (p50/p95 ms per call and state); returns the worst p95."""
    table = []
    worst = 0.0
    for query, *_ in sort_queries():
        cells = [query]
        for call in calls:
            for state in STATES:
                took = times[(query, call, state)]
                p95 = percentile(took, 0.95)
                worst = max(worst, p95)
                cells.append(f"{statistics.median(took):.2f}/{p95:.2f}")
        cells.append("yes" if right[query] else "NO")
        table.append(tuple(cells))
    print_table(("query", *(f"{call} {state}" for call in calls for state in STATES), "right"), table)
    for call in calls:
        for state in STATES:
            p95s = sorted(percentile(times[(q, call, state)], 0.95) for q, *_ in sort_queries())
            medians = sorted(statistics.median(times[(q, call, state)]) for q, *_ in sort_queries())
            print(f"  {call} {state}: median of the {len(p95s)} pages' p50 "
                  f"{statistics.median(medians):.2f} ms, "
                  f"of their p95 {statistics.median(p95s):.2f} ms, worst p95 {p95s[-1]:.2f} ms, "
                  f"pages with p95 over 5 ms: {sum(p > 5 for p in p95s)}")
    return worst


def time_writes(home: Path, rows: list[dict[str, Any]], batches: int = 20, per_batch: int = 50,
                ) -> list[float]:
    """Milliseconds per batch of `per_batch` new samples written as a scan writes them
    (Catalog.insert_sample in one transaction per batch), into the catalog as it is."""
    took = []
    with Library(home) as library:
        catalog = library.catalog
        for batch in range(batches):
            started = time.perf_counter()  # (process time would hide the writes' fsyncs)
            with catalog.transaction():
                for i in range(per_batch):
                    row = dict(rows[(batch * per_batch + i) % len(rows)])
                    row.pop("tags")
                    row["path"] = f"/added/{batch:03d}/{i:03d}_{row['name']}"
                    row["hash"] = f"added{batch:03d}{i:03d}"
                    catalog.insert_sample(row)
            took.append((time.perf_counter() - started) * 1000)
        with catalog.transaction():  # leaves the catalog as it was for what follows
            catalog.conn.execute("DELETE FROM samples WHERE path LIKE '/added/%'")
    return took


def print_table(headers: tuple[str, ...], table: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


def stream_rss(home: Path) -> tuple[int, float, int]:
    """(records, seconds, peak RSS in bytes) of `samplemind ls --format jsonl` > /dev/null."""
    env = dict(os.environ, SAMPLEMIND_HOME=str(home))
    started = time.perf_counter()
    with tempfile.TemporaryFile() as count_file:
        process = subprocess.Popen(
            [sys.executable, "-c",
             "import sys, subprocess; p = subprocess.Popen([sys.executable, '-m', 'samplemind', "
             "'ls', '--format', 'jsonl'], stdout=subprocess.PIPE); n = sum(1 for _ in p.stdout); "
             "p.wait(); import resource; "
             "print(n, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"],
            stdout=count_file, env=env)
        process.wait()
        count_file.seek(0)
        records, rss_kib = map(int, count_file.read().split())
    return records, time.perf_counter() - started, rss_kib * 1024


PARTS = ("mix", "states", "sorts", "writes", "stream")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"what to measure, comma-separated (of {', '.join(PARTS)})")
    parser.add_argument("--sort-runs", type=int, default=50, help="runs of each sort page")
    parser.add_argument("--sort-budget", type=float, default=1.0,
                        help="seconds of runs of one sort page at most (2 runs at least)")
    parser.add_argument("--sort-calls", default="page,ls",
                        help="page (Library.query_ids with the total), ls (Library.ls)")
    parser.add_argument("--build-cache-mb", type=int, default=0,
                        help="SQLite page cache while building (0: the catalog's own 32 MB; a "
                             "million records want 1000)")
    parser.add_argument("--bulk", action="store_true",
                        help="write the catalog the fast way (triggers as set-based statements, "
                             "indexes made after the rows): a million records in minutes")
    parser.add_argument("--without-sort-indexes", action="store_true",
                        help="build the catalog without migration m020's sort indexes (what "
                             "they cost writes and the file: compare with a run without this)")
    parser.add_argument("--keep", metavar="DIR",
                        help="build the catalog in DIR once and reuse it (it is opened with "
                             "this checkout's migrations)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rows = make_rows(args.records)
    with contextlib.ExitStack() as stack:
        if args.keep:
            home = Path(args.keep)
            home.mkdir(parents=True, exist_ok=True)
        else:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sm-query-")))
        if args.keep and (home / BUILT).exists():
            started = time.perf_counter()
            with Library(home):  # applies this checkout's migrations, if any are new
                pass
            print(f"catalog: {args.records} generated records kept in {home}; opened (and "
                  f"migrated) in {time.perf_counter() - started:.1f} s")
        else:
            cpu = time.process_time()
            seconds = (bulk_build(home, rows, args.without_sort_indexes) if args.bulk else
                       build_catalog(home, rows, args.build_cache_mb, args.without_sort_indexes))
            (home / BUILT).write_text(str(args.records))
            print(f"catalog: {args.records} generated records in {seconds:.1f} s, "
                  f"{time.process_time() - cpu:.1f} s of CPU (bulk write, one transaction"
                  f"{'; without the sort indexes of m020' if args.without_sort_indexes else ''})")
        size = (home / "library.db").stat().st_size
        print(f"catalog file: {size / 1e6:.0f} MB with the full-text index")
        stale_rows = stale_statistics(rows)
        worst = worst_ids = worst_sort = None
        same = True
        rss = 0
        if "mix" in parts:
            print(f"queries: {args.runs} runs each through Library.ls; baseline = the same filter "
                  "and order in Python over all rows already in memory")
            set_statistics(home, "fresh", stale_rows)
            table = time_queries(home, rows, args.runs)
            print_table(("query", "rows", "p50 ms", "p95 ms", "python ms", "speed-up", "same"), table)
        if "states" in parts:
            print(f"\nstatistics states (p50/p95 ms, {args.runs} runs each; ls = Library.ls, ids = "
                  "Library.query_ids, a page's ids): none / fresh / stale")
            states, same = time_states(home, args.runs, stale_rows)
            print_table(("query", *(f"{path} {state}" for path in ("ls", "ids") for state in STATES),
                         "same rows"), states)
            worst = max(float(cell.split("/")[1]) for row in states for cell in row[1:4])
            worst_ids = max(float(cell.split("/")[1]) for row in states for cell in row[4:7])
        if "sorts" in parts:
            calls = tuple(args.sort_calls.split(","))
            print(f"\nthe UI's column sorts, first page of {SORT_PAGE} (p50/p95 ms, up to "
                  f"{args.sort_runs} runs or {args.sort_budget:g} s each; page = Library.query_ids "
                  "with the total, ls = Library.ls): none / fresh / stale; right = page and total "
                  "equal a Python sort of every record in every state")
            sort_times, right = time_sorts(home, rows, args.sort_runs, args.sort_budget,
                                           stale_rows, calls)
            worst_sort = print_sorts(sort_times, right, calls)
            same = same and all(right.values())
        if "writes" in parts:
            set_statistics(home, "fresh", stale_rows)
            cpu = time.process_time()
            took = time_writes(home, rows)
            cpu = time.process_time() - cpu
            print(f"\nwrites: {len(took)} batches of 50 new samples (Catalog.insert_sample, a "
                  f"transaction each): p50 {statistics.median(took):.1f} ms, p95 "
                  f"{percentile(took, 0.95):.1f} ms per batch "
                  f"({statistics.median(took) / 50:.2f} ms per sample); {cpu * 1000 / len(took) / 50:.2f} "
                  "ms of CPU per sample (the removal after them included)")
        if "stream" in parts:
            set_statistics(home, "fresh", stale_rows)
            records, took_s, rss = stream_rss(home)
            print(f"ls --format jsonl: {records} records streamed in {took_s:.1f} s, "
                  f"peak RSS {rss / 2**20:.0f} MB")
        set_statistics(home, "fresh", stale_rows)
    print()
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if worst is not None:
        print(f"worst ls p95, any statistics : {worst:.2f} ms   (target <= 5 ms)   "
              f"{'PASS' if worst <= 5 else 'FAIL'}")
        print(f"worst ids p95, any statistics: {worst_ids:.2f} ms   (informational)")
    if worst_sort is not None:
        print(f"worst sort page p95, any statistics: {worst_sort:.2f} ms   (goal <= 5 ms)   "
              f"{'PASS' if worst_sort <= 5 else 'FAIL'}")
    print(f"same rows in every state     : {'yes' if same else 'NO'}")
    if "stream" in parts:
        print(f"streaming peak RSS : {rss / 2**20:.0f} MB   (target < 150 MB)   "
              f"{'PASS' if rss < 150 * 2**20 else 'FAIL'}")


if __name__ == "__main__":
    main()
