"""Query speed: `python benchmarks/query.py` (one command, prints every figure).

Builds a catalog of 100,000 generated sample records (categories, tempos, keys, notes,
loudness, tags, names with words) and prints, for typical queries with `limit:50`,
p50/p95 latency through `Library.ls` (compile + SQL + records), next to a baseline in the
same run: the same filter done in Python over all rows already in memory. Then times every
query again under each state of the planner's statistics (none: sqlite_stat1 dropped; fresh:
a full ANALYZE of this catalog; stale: the statistics of a 1,000-sample catalog, as a library
has after its first small scan and a bulk write), both through `Library.ls` and through
`Library.query_ids` (the ids of a page, what the server reads before splicing records), and
checks that every state returns the same rows. Then streams `samplemind ls --format jsonl`
over every record and prints its peak RSS.
Targets on 2 cores: p95 <= 5 ms per query in every statistics state; streaming all 100k
records under 150 MB RSS.
"""

from __future__ import annotations

import argparse
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
TAGS = ("dark", "used", "bright", "favourite", "808", "lofi")


def make_rows(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """Generated catalog rows with realistic spreads (a third loops, tags on a third)."""
    rng = random.Random(seed)
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
    return rows


def build_catalog(home: Path, rows: list[dict[str, Any]]) -> float:
    """Insert rows (and tags) in one transaction; returns seconds."""
    started = time.perf_counter()
    with Library(home) as library:
        catalog = library.catalog
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rows = make_rows(args.records)
    with tempfile.TemporaryDirectory(prefix="sm-query-") as scratch:
        home = Path(scratch)
        seconds = build_catalog(home, rows)
        size = (home / "library.db").stat().st_size
        print(f"catalog: {args.records} generated records in {seconds:.1f} s "
              f"({size / 1e6:.0f} MB with the full-text index)")
        print(f"queries: {args.runs} runs each through Library.ls; baseline = the same filter "
              "and order in Python over all rows already in memory")
        table = time_queries(home, rows, args.runs)
        print_table(("query", "rows", "p50 ms", "p95 ms", "python ms", "speed-up", "same"), table)
        print(f"\nstatistics states (p50/p95 ms, {args.runs} runs each; ls = Library.ls, ids = "
              "Library.query_ids, a page's ids): none / fresh / stale")
        stale_rows = stale_statistics(rows)
        states, same = time_states(home, args.runs, stale_rows)
        print_table(("query", *(f"{path} {state}" for path in ("ls", "ids") for state in STATES),
                     "same rows"), states)
        worst = max(float(cell.split("/")[1]) for row in states for cell in row[1:4])
        worst_ids = max(float(cell.split("/")[1]) for row in states for cell in row[4:7])
        set_statistics(home, "fresh", stale_rows)
        records, took, rss = stream_rss(home)
        print(f"ls --format jsonl: {records} records streamed in {took:.1f} s, "
              f"peak RSS {rss / 2**20:.0f} MB")
    print()
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"worst ls p95, any statistics : {worst:.2f} ms   (target <= 5 ms)   "
          f"{'PASS' if worst <= 5 else 'FAIL'}")
    print(f"worst ids p95, any statistics: {worst_ids:.2f} ms   (informational)")
    print(f"same rows in every state     : {'yes' if same else 'NO'}")
    print(f"streaming peak RSS : {rss / 2**20:.0f} MB   (target < 150 MB)   "
          f"{'PASS' if rss < 150 * 2**20 else 'FAIL'}")


if __name__ == "__main__":
    main()
