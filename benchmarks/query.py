"""Query speed: `python benchmarks/query.py` (one command, prints every figure).

Builds a catalog of 100,000 generated sample records (categories, tempos, keys, notes,
loudness, tags, names with words) and prints, for typical queries with `limit:50`,
p50/p95 latency through `Library.ls` (compile + SQL + records), next to a baseline in the
same run: the same filter done in Python over all rows already in memory. Then streams
`samplemind ls --format jsonl` over every record and prints its peak RSS.
Targets on 2 cores: p95 <= 5 ms per query; streaming all 100k records under 150 MB RSS.
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
        headers = ("query", "rows", "p50 ms", "p95 ms", "python ms", "speed-up", "same")
        widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
        for row in table:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        worst = max(float(row[3]) for row in table)
        records, took, rss = stream_rss(home)
        print(f"ls --format jsonl: {records} records streamed in {took:.1f} s, "
              f"peak RSS {rss / 2**20:.0f} MB")
    print()
    print(f"worst p95          : {worst:.2f} ms   (target <= 5 ms)   "
          f"{'PASS' if worst <= 5 else 'FAIL'}")
    print(f"streaming peak RSS : {rss / 2**20:.0f} MB   (target < 150 MB)   "
          f"{'PASS' if rss < 150 * 2**20 else 'FAIL'}")


if __name__ == "__main__":
    main()
