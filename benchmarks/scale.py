"""The whole product at a million samples: `python benchmarks/scale.py` (one command).

For each size (default 100k and 1M; `--sizes 100000` runs one) a real catalog is bulk-written
in a temporary SAMPLEMIND home from jittered real vectors (benchmarks/similar.py: the demo pack
analysed for real, each generated row a real sound's vector plus noise and that sound's
descriptors), its vector index built, and a real folder (the demo pack, 49 files) scanned into
it. The post-scan steps (sound consensus, lessons) then run once over every generated row, as
the scans that brought them would have left them (timed and printed), so the figures below pay
only for their own changes. Then, in one run, printed as medians and percentiles (`--only`
picks some parts, e.g. `--only scan,pack,added`):

  - `ls`: p50/p95 of every query of benchmarks/query.py's mix through Library.ls
  - facets: Library.stats() (what the UI's facets show), and GET /api/v1/stats, /tags
  - a scan of the real folder with nothing new (Library.scan), and where its time goes
  - a named pack (the demo pack with another seed) scanned into the library: its names teach
  - one added file end to end: a new WAV in the folder, POST /api/v1/scans, until a WebSocket
    client sees `samples.added` and GET /api/v1/samples/{id} answers it (scan, consensus,
    lessons, index, record cache, event)
  - `dupes` (Library.dupes) and `map` (Library.map_view: cold with projection, a zoomed level,
    a cached answer; the size of the JSON body)
  - `samplemind serve` start-up to /health/ready, and its RSS with the default caches
  - headless Chromium: the first screen (first paint, first rows, facets) and the map of all
    samples (click on Map to first drawing; frames per second while dragging it)

`--keep DIR` keeps each size's built catalog in DIR/<size> (about 5 GB at 1M) and reuses it on
the next run with the same DIR (the build, index and first post-scan round, some 4 minutes at 1M,
are paid once); each run then adds sounds of its own (the added files, the named pack).

Goals at 1M (issue 20): ls p95 <= 5 ms for every query; unchanged scan <= 50 ms; one added
file at every WebSocket client <= 2 s; ready <= 5 s and RSS <= 1.5 GB; first screen <= 1 s;
the map pans at >= 30 frames per second. The summary says PASS/FAIL against them; the exit code
is 0 either way (a benchmark reports, it doesn't gate).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import query as query_bench  # noqa: E402  benchmarks/query.py: the query mix
import serve as serve_bench  # noqa: E402  benchmarks/serve.py: the server's warm-up figures
import similar  # noqa: E402  benchmarks/similar.py: real vectors, jitter, bulk write
from ui import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  benchmarks/ui.py: how Chromium starts here

from samplemind import Library  # noqa: E402
from samplemind.demo import write_demo_pack  # noqa: E402
from samplemind.models import ScanReport  # noqa: E402
from samplemind.scan import refine_categories  # noqa: E402
from samplemind.scanner import is_audio_name  # noqa: E402
from samplemind.similarity import map_levels  # noqa: E402

FINISHED = ("done", "failed", "cancelled")
BUILT = ".built"  # in a kept size's folder (--keep): the catalog there is complete
PARTS = ("ls", "facets", "scan", "pack", "dupes", "map", "serve", "added", "browser")
GOALS = {"ls_p95_ms": 5.0, "rescan_ms": 50.0, "added_s": 2.0, "ready_s": 5.0, "rss_mb": 1536.0,
         "first_screen_ms": 1000.0, "map_fps": 30.0}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def warned(report: Any) -> str:
    return "; warnings: " + "; ".join(w.error for w in report.warnings) if report.warnings else ""


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q)) if values else float("nan")


def timed(call: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def http(url: str, data: Any = None, timeout: float = 120.0) -> tuple[int, bytes]:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers={
        "Accept-Encoding": "gzip", **({"Content-Type": "application/json"} if body else {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def new_wav(path: Path, seed: int) -> None:
    """A sound no catalog has seen: a pitched decaying tone with noise (new bytes, new hash)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    sr = 44100
    t = np.arange(int(sr * 0.6)) / sr
    tone = np.sin(2 * np.pi * rng.uniform(80, 800) * t) * np.exp(-t * rng.uniform(3, 9))
    sf.write(path, (0.6 * tone + 0.02 * rng.standard_normal(len(t))).astype(np.float32), sr)


# -- in-process figures -------------------------------------------------------------------------


def ls_mix(library: Library, runs: int, budget: float = 8.0) -> list[tuple[str, int, float, float]]:
    """p50/p95 per query of the mix: `runs` runs, or fewer when a query is slow (at most
    about `budget` seconds each, and at least 5 runs)."""
    table = []
    for query, *_ in query_bench.QUERIES:
        started = time.perf_counter()
        rows = len(list(library.ls(query)))
        once = time.perf_counter() - started
        for _ in range(2):
            list(library.ls(query))
        took = timed(lambda q=query: list(library.ls(q)), max(5, min(runs, int(budget / max(once, 1e-4)))))
        table.append((query, rows, pct(took, 50) * 1000, pct(took, 95) * 1000))
    return table


def rescan(library: Library, folder: Path, runs: int) -> tuple[list[float], str]:
    """Scans of a folder with nothing new; the top of a profile of one more."""
    library.scan([folder])  # settles anything the first scan left (statistics, index)
    took = timed(lambda: library.scan([folder]), runs)
    profile = cProfile.Profile()
    profile.enable()
    library.scan([folder])
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(14)
    lines = [line for line in text.getvalue().splitlines() if "samplemind" in line][:10]
    return took, "\n".join("      " + line.strip()[:150] for line in lines)


def map_figures(library: Library) -> dict[str, Any]:
    map_levels._layouts.clear()
    for old in library.index.folder.glob("map-*.npz"):
        old.unlink()
    started = time.perf_counter()
    first = library.map_view()
    cold = time.perf_counter() - started
    body = len(json.dumps(first, separators=(",", ":")))
    map_levels._layouts.clear()  # the projection is on disk now; the layout is built again
    started = time.perf_counter()
    library.map_view()
    layout = time.perf_counter() - started
    level = min(map_levels.MAX_LEVEL, first["level"] + 3)
    x0, y0, x1, y1 = first["extent"]["fit"]
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    rect = (mx - (x1 - x0) / 8, my - (y1 - y0) / 8, mx + (x1 - x0) / 8, my + (y1 - y0) / 8)
    zoomed = timed(lambda: library.map_view(level=level, rect=rect), 1)[0]
    cached = pct(timed(lambda: library.map_view(level=level, rect=rect), 20), 50)
    kicks = timed(lambda: library.map_view("cat:kick"), 1)[0]
    return {"cold": cold, "layout": layout, "zoomed": zoomed, "cached": cached, "kicks": kicks,
            "body": body, "bins": len(first["bins"]["count"]), "points": len(first["points"]["id"]),
            "level": first["level"], "total": first["total"]}


# -- the server ---------------------------------------------------------------------------------


def start_server(home: Path, folder: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "samplemind", "--home", str(home), "serve", "--port", str(port),
         "--scan-root", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 300
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if http(f"{base}/health/ready", timeout=2)[0] == 200:
                return proc, base, time.perf_counter() - started
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server was not ready after 300 s")
        time.sleep(0.05)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def added_file(base: str, folder: Path, seed: int) -> dict[str, float]:
    """Seconds from POST /scans of a folder with one new file until a WebSocket client has
    `samples.added` for it, and until GET /samples/{id} answers with it."""
    import aiohttp

    path = folder / f"added_{seed}.wav"

    async def run() -> dict[str, float]:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{base.replace('http', 'ws')}/api/v1/ws") as ws:
                await asyncio.sleep(0.3)
                new_wav(path, seed)
                started = time.perf_counter()
                async with session.post(f"{base}/api/v1/scans", json={"paths": [str(folder)]}) as r:
                    job = await r.json()
                    assert r.status == 202, job
                done = event = None
                ids: list[int] = []
                deadline = time.perf_counter() + 120
                while event is None or done is None:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        break
                    try:
                        message = await asyncio.wait_for(ws.receive(), left)
                    except TimeoutError:
                        break
                    data = json.loads(message.data)
                    now = time.perf_counter() - started
                    if data["type"] == "job" and data["data"].get("id") == job["id"] \
                            and data["data"].get("status") in FINISHED and done is None:
                        done = now
                    if data["type"] == "samples.added":
                        event, ids = now, data["data"]["ids"]
                if event is None:  # not within the deadline: say so, don't wait for ever
                    nan = float("nan")
                    return {"event": nan, "record": nan, "job": done if done is not None else nan}
                async with session.get(f"{base}/api/v1/samples/{ids[0]}") as r:
                    record = await r.json()
                got = time.perf_counter() - started
                assert record["name"] == path.name, record
                return {"event": event, "record": got, "job": done if done is not None else float("nan")}

    return asyncio.run(run())


def http_figures(base: str) -> dict[str, float]:
    out = {}
    for name, path in (("first page", "/api/v1/samples?limit=100&total=true"), ("stats", "/api/v1/stats"),
                       ("tags", "/api/v1/tags"), ("facets", "/api/v1/facets"),
                       ("map", "/api/v1/map"), ("map level 0", "/api/v1/map?level=0&points=0"),
                       ("map level 8", "/api/v1/map?level=8")):
        status, _ = http(base + path)
        if status == 404:
            continue
        took = timed(lambda p=path: http(base + p), 5)
        out[name] = pct(took, 50)
    return out


# -- the browser ----------------------------------------------------------------------------------


def browser_figures(base: str, pans: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            loads = [first_screen(browser, base) for _ in range(4)][1:]  # the first warms up
            for key in loads[0]:
                out[key] = statistics.median(load[key] for load in loads)
            out.update(map_in_browser(browser, base, pans))
        finally:
            browser.close()
    return out


def first_screen(browser: Any, base: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    try:
        page = context.new_page()
        page.goto(base + "/")
        page.wait_for_selector(".tr[data-id]", timeout=120_000)
        page.wait_for_selector("#facet-category *", timeout=120_000)
        facets = page.evaluate("performance.now()")
        deadline = time.monotonic() + 60
        while True:
            times = page.evaluate("""() => {
                const paint = performance.getEntriesByName('first-contentful-paint')[0];
                const rows = performance.getEntriesByName('samplemind:first-rows')[0];
                return [paint ? paint.startTime : null, rows ? rows.startTime : null]; }""")
            if None not in times or time.monotonic() > deadline:
                break
            page.wait_for_timeout(20)
        return {"first_paint": times[0], "first_rows": times[1], "facets": facets}
    finally:
        context.close()


def map_in_browser(browser: Any, base: str, pans: int) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    try:
        page = context.new_page()
        page.goto(base + "/")
        page.wait_for_selector(".tr[data-id]", timeout=120_000)
        page.evaluate("() => { window.__clicked = performance.now();"
                      " document.querySelector('#tab-map').click(); }")
        deadline = time.monotonic() + 600
        while not page.evaluate("performance.getEntriesByName('samplemind:map-drawn').length"):
            if time.monotonic() > deadline:
                status = page.evaluate("document.querySelector('#map-status').textContent")
                return {"map_drawn": float("nan"), "map_status": status}
            page.wait_for_timeout(20)
        drawn = page.evaluate("performance.getEntriesByName('samplemind:map-drawn')[0].startTime"
                              " - window.__clicked")
        shown = page.evaluate("""() => { const d = document.querySelector('#map').soundMap.data;
            return [d.total, d.bins.count.length, d.points.id.length, d.level]; }""")
        box = page.locator("#map").bounding_box()
        page.evaluate("""() => { window.__frames = []; let last = performance.now(); window.__run = true;
            const tick = (now) => { window.__frames.push(now - last); last = now;
              if (window.__run) requestAnimationFrame(tick); };
            requestAnimationFrame(tick); }""")
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        started = time.perf_counter()
        for step in range(pans):  # a slow circle: what a person dragging the map does
            angle = step / pans * 2 * np.pi
            page.mouse.move(cx + 200 * np.sin(angle), cy + 120 * (1 - np.cos(angle)))
            page.wait_for_timeout(8)
        page.mouse.up()
        seconds = time.perf_counter() - started
        frames = page.evaluate("() => { window.__run = false; return window.__frames.slice(2); }")
        page.wait_for_timeout(1500)  # the finer level loads after the pan
        dom = page.evaluate("document.querySelectorAll('*').length")
        return {"map_drawn": drawn, "map_shown": shown, "pan_frames": frames, "pan_seconds": seconds,
                "dom_nodes": dom}
    finally:
        context.close()


# -- one size ---------------------------------------------------------------------------------------


def bench_size(n: int, real: np.ndarray, real_rows: list[dict[str, Any]], folder: Path,
               args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"n": n}
    kept = Path(args.keep).resolve() / str(n) if args.keep else None
    with (contextlib.nullcontext(str(kept)) if kept else
          tempfile.TemporaryDirectory(prefix=f"sm-scale-{n}-")) as scratch:
        home = Path(scratch) / "home"
        if kept and (kept / BUILT).exists():
            folder = kept / "pack"
            run = reuse_catalog(kept)
            library = Library(home)
            print(f"\n== {n:,} samples ==")
            print(f"catalog: kept in {kept} and reused (run {run}; built as: "
                  f"{(kept / BUILT).read_text().strip()})")
            measure_size(n, home, library, folder, args, out, run)
            return out
        if kept:
            shutil.rmtree(kept, ignore_errors=True)
            kept.mkdir(parents=True)
            folder = kept / "pack"
            write_demo_pack(folder)
        # The real folder first, into the empty catalog: scanned into a big one, the scan's
        # teaching step (similarity/teach.py) would search the whole library (see the notes).
        started = time.perf_counter()
        with Library(home) as first:
            report = first.scan([folder])
        scan_s = time.perf_counter() - started
        vectors, picked = similar.expand(real, n, 0.2, np.random.default_rng(similar.SEED))
        library, insert_s = similar.build_catalog_fast(home, vectors, picked, real_rows)
        del vectors
        gc.collect()
        started = time.perf_counter()
        library.index.rebuild("benchmark")
        index_s = time.perf_counter() - started
        # What the scans that brought these rows would have left: the post-scan steps (sound
        # consensus, lessons) over every generated row, once (else the first added file pays it)
        started = time.perf_counter()
        settled = ScanReport()
        refine_categories(library.catalog, library.index, settled)
        settle_s = time.perf_counter() - started
        size = (home / "library.db").stat().st_size if (home / "library.db").exists() else sum(
            p.stat().st_size for p in home.rglob("library.db"))
        print(f"\n== {n:,} samples ==")
        print(f"catalog: {n:,} generated rows in {insert_s:.1f} s ({size / 1e9:.2f} GB); index "
              f"built in {index_s:.1f} s; the real folder ({report.seen} files) scanned in {scan_s:.1f} s")
        print(f"post-scan steps over every generated row once (as their scans would have left "
              f"them): {settle_s:.1f} s ({settled.agreed:,} categories agreed, {settled.taught:,} "
              f"taught{warned(settled)})")
        if kept:
            library.close()
            (kept / BUILT).write_text(
                f"{n:,} generated rows in {insert_s:.1f} s, index {index_s:.1f} s, post-scan "
                f"steps {settle_s:.1f} s\n")
            library = Library(home)
        measure_size(n, home, library, folder, args, out, 0)
    return out


def reuse_catalog(kept: Path) -> int:
    """The number of this run of a kept catalog (counted in the kept folder): it picks new
    sounds for the added files and the named pack, so each run adds files no run has seen."""
    runs = kept / "runs"
    run = int(runs.read_text()) + 1 if runs.exists() else 1
    runs.write_text(str(run))
    return run


def measure_size(n: int, home: Path, library: Library, folder: Path, args: argparse.Namespace,
                 out: dict[str, Any], run: int) -> None:
    seen = sum(1 for p in folder.rglob("*") if is_audio_name(p.name))

    if "ls" in args.only:
        print(f"ls, the query mix of benchmarks/query.py (up to {args.runs} runs each, Library.ls):")
        table = ls_mix(library, args.runs)
        for query, rows, p50, p95 in table:
            print(f"  {query:48s} {rows:>6} rows   p50 {p50:7.2f}   p95 {p95:7.2f} ms")
        out["ls_p95_ms"] = max(row[3] for row in table)

    if "facets" in args.only:
        facets = timed(library.stats, 5)
        print(f"facets (Library.stats): p50 {ms(pct(facets, 50))}")
        out["stats_ms"] = pct(facets, 50) * 1000

    if "scan" in args.only:
        took, profile = rescan(library, folder, args.runs_scan)
        out["rescan_ms"] = pct(took, 50) * 1000
        print(f"scan of a folder with nothing new ({seen} files): p50 {ms(pct(took, 50))}   "
              f"min {ms(min(took))}   ({len(took)} runs)")
        print("    where one such scan spends its time (cumulative, samplemind functions):")
        print(profile)

    if "pack" in args.only:  # a named pack scanned into the library: new teachers
        pack = folder.parent / (f"pack-{n}" if not run else f"pack-{n}-run{run}")
        write_demo_pack(pack, seed=8 + run)
        started = time.perf_counter()
        scanned = library.scan([pack])
        out["pack_s"] = time.perf_counter() - started
        print(f"a named pack scanned into it ({scanned.added} new files, their names teach): "
              f"{out['pack_s']:.2f} s ({scanned.agreed} categories agreed, {scanned.taught} "
              f"taught{warned(scanned)})")

    library.close()
    if "dupes" in args.only:  # in a process of its own, so a slow one can be cut short
        dupes_figures(home, args, out)
    if "map" in args.only:
        with Library(home) as library:
            figures = map_figures(library)
        out["map"] = figures
        print(f"map (Library.map_view): cold {ms(figures['cold'])} (projection + layout), layout "
              f"only {ms(figures['layout'])}, a zoomed region {ms(figures['zoomed'])}, cached "
              f"{ms(figures['cached'])}, cat:kick {ms(figures['kicks'])}")
        print(f"    all samples at level {figures['level']}: {figures['bins']:,} bins + "
              f"{figures['points']:,} points for {figures['total']:,} samples; JSON "
              f"{figures['body'] / 1e6:.2f} MB (uncompressed)")
    del library
    gc.collect()
    if {"serve", "added", "browser"} & args.only:
        server_figures(home, folder, args, out, run)


def dupes_figures(home: Path, args: argparse.Namespace, out: dict[str, Any]) -> None:
    code = ("import sys, time; from samplemind import Library; lib = Library(sys.argv[1]); "
            "t = time.perf_counter(); groups = lib.dupes(); "
            "print(len(groups), time.perf_counter() - t)")
    try:
        done = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True,
                              text=True, timeout=args.dupes_timeout, cwd=ROOT)
        groups, dupes_s = done.stdout.split()
        print(f"dupes: {groups} groups in {float(dupes_s):.2f} s")
        out["dupes_s"] = float(dupes_s)
    except subprocess.TimeoutExpired:
        print(f"dupes: not done after {args.dupes_timeout:.0f} s (stopped)")
        out["dupes_s"] = float("inf")


def server_figures(home: Path, folder: Path, args: argparse.Namespace, out: dict[str, Any],
                   run: int = 0) -> None:
    proc, base, ready_s = start_server(home, folder)
    try:
        out["ready_s"] = ready_s
        out["rss_ready"] = rss_mb(proc.pid)
        print(f"serve: ready in {ready_s:.2f} s, RSS {out['rss_ready']:.0f} MB")
        started = time.perf_counter()
        serve_bench.wait_neighbour_table(base, args.warm_timeout)
        _, cache = serve_bench.wait_record_cache(base, args.warm_timeout)
        warm_s = time.perf_counter() - started
        print(f"  then warm (neighbour table, record cache of {cache.get('records', 0):,.0f} "
              f"records) {warm_s:.1f} s later, RSS {rss_mb(proc.pid):.0f} MB")
        if "serve" in args.only:
            for name, seconds in http_figures(base).items():
                print(f"  GET {name:12s} p50 {ms(seconds)}")
        if "added" in args.only:
            first = run * 1000  # a kept catalog's earlier runs added seeds below this
            runs = [added_file(base, folder, seed) for seed in range(first, first + args.added)]
            out["added_s"] = statistics.median(r["record"] for r in runs)
            print(f"one added file, POST /scans -> samples.added at a WebSocket client -> record: "
                  f"event p50 {statistics.median(r['event'] for r in runs):.2f} s, record p50 "
                  f"{out['added_s']:.2f} s (job done p50 {statistics.median(r['job'] for r in runs):.2f} s;"
                  f" {len(runs)} files)")
            print("    each file: " + ", ".join(f"event {r['event']:.2f} s record {r['record']:.2f} s "
                                              f"job {r['job']:.2f} s" for r in runs))
        if "browser" in args.only and not args.no_browser:
            started = time.perf_counter()
            http(base + "/api/v1/map?level=0&points=0")
            http(base + "/api/v1/map?level=7")
            print(f"  the map's first two requests (cold), as the UI sends them: "
                  f"{time.perf_counter() - started:.2f} s")
            browser = browser_figures(base, args.pans)
            if "map_status" in browser:
                print(f"Chromium: the map was not drawn within 600 s; it says {browser['map_status']!r}")
                browser.update(map_shown=(0, 0, 0, 0), pan_frames=[float("nan")], pan_seconds=0,
                               dom_nodes=0)
            out["browser"] = browser
            frames = browser["pan_frames"]
            fps = 1000 / statistics.median(frames) if frames else float("nan")
            out["map_fps"] = fps
            out["first_screen_ms"] = max(browser["first_rows"], browser["facets"])
            print(f"Chromium, first screen (median of 3): first paint {browser['first_paint']:.0f} ms, "
                  f"first rows {browser['first_rows']:.0f} ms, facets {browser['facets']:.0f} ms")
            total, bins, points, level = browser["map_shown"]
            print(f"Chromium, map of all samples: drawn {browser['map_drawn']:.0f} ms after the "
                  f"click ({total:,} samples as {bins:,} bins + {points:,} points, level {level}); "
                  f"DOM nodes on the page {browser['dom_nodes']:,}")
            print(f"    panning ({args.pans} drag steps in {browser['pan_seconds']:.1f} s): "
                  f"{fps:.0f} frames/s (median interval {statistics.median(frames):.1f} ms, p95 "
                  f"{pct(frames, 95):.1f} ms, max {max(frames):.1f} ms, {len(frames)} frames)")
        out["rss_after"] = rss_mb(proc.pid)
        print(f"serve: RSS after all that {out['rss_after']:.0f} MB")
    finally:
        stop_server(proc)
    out["rss_mb"] = max(out["rss_ready"], out["rss_after"])


def summary(results: list[dict[str, Any]]) -> None:
    print("\nsummary (goals of issue 20, quoted at 1M; PASS/FAIL per size)")
    rows = [("ls p95, worst query of the mix", "ls_p95_ms", "ms", "<="),
            ("scan of an unchanged folder", "rescan_ms", "ms", "<="),
            ("one added file, at a WebSocket client + record", "added_s", "s", "<="),
            ("server ready", "ready_s", "s", "<="),
            ("server RSS (default caches)", "rss_mb", "MB", "<="),
            ("first screen (rows and facets)", "first_screen_ms", "ms", "<="),
            ("map panning", "map_fps", "fps", ">=")]
    for label, key, unit, sense in rows:
        cells = []
        for result in results:
            value = result.get(key)
            if value is None:
                cells.append(f"{result['n']:>9,}: (not run)")
                continue
            good = value <= GOALS[key] if sense == "<=" else value >= GOALS[key]
            cells.append(f"{result['n']:>9,}: {value:8.2f} {unit:3s} {'PASS' if good else 'FAIL'}")
        print(f"  {label:48s} goal {sense} {GOALS[key]:g} {unit:3s} | " + " | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="catalog sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=100, help="runs of each ls query")
    parser.add_argument("--runs-scan", type=int, default=7, help="runs of the unchanged scan")
    parser.add_argument("--added", type=int, default=3, help="files added one at a time")
    parser.add_argument("--pans", type=int, default=120, help="mouse steps while dragging the map")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dupes-timeout", type=float, default=300.0)
    parser.add_argument("--warm-timeout", type=float, default=300.0,
                        help="longest wait for the server's warm-up before the HTTP figures")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep each size's built catalog (and its real folder) in DIR/<size> "
                             "and reuse it on the next run with the same DIR instead of building "
                             "it again; each run adds its own new files to it. A newer samplemind "
                             "migrates a kept catalog forward (copy DIR to compare versions)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"the parts to run, comma-separated, of {','.join(PARTS)} (default "
                             "all; serve, added and browser start the server)")
    args = parser.parse_args()
    args.only = set(args.only.split(","))
    if args.only - set(PARTS):
        parser.error(f"--only: unknown parts {','.join(sorted(args.only - set(PARTS)))}")
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"machine: {os.cpu_count()} cpus, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
    real, real_rows, source = similar.real_vectors(args.jobs, use_eval=False)
    print(f"real vectors: {source}")
    results = []
    with tempfile.TemporaryDirectory(prefix="sm-scale-folder-") as scratch:
        folder = Path(scratch) / "pack"
        for n in sizes:
            shutil.rmtree(folder, ignore_errors=True)
            write_demo_pack(folder)
            results.append(bench_size(n, real, real_rows, folder, args))
    summary(results)


if __name__ == "__main__":
    main()
