"""Server throughput and latency: `python benchmarks/serve.py` (one command, prints every figure).

Server and load generator run on this machine. A real 100k-sample catalog is bulk-written in a
temporary SAMPLEMIND home (real feature vectors expanded with jitter and full real rows, with
the helpers of benchmarks/similar.py) and its vector index built; then `samplemind serve`
(its defaults: 4 request threads, no accounts) runs as a subprocess on a free loopback port,
next to a baseline server in another process: a bare aiohttp handler returning a constant
JSON body (the bytes of one real sample record, so both send the same amount).

Load comes from wrk (Debian's; installed with apt-get when missing and running as root) with
2 threads and 100 connections, or, without wrk, from an aiohttp client in another process.
Printed, each after a warm-up:
  - requests/s, p50/p99 of: the bare handler; GET /api/v1/samples/{id} (random ids);
    GET /api/v1/samples?q=... (a mix of typical queries, limit:50); GET .../{id}/similar?k=10
  - WebSocket event latency with 100 clients: trigger time (just before the POST that makes
    the event) to the arrival of the frame's last byte at each client (minimal clients
    read by a plain epoll loop, so their own work hardly counts), for job events (POST
    /api/v1/scans of an empty folder: the queued event is published in the request) and,
    informational, for
    samples.updated after a tag write (POST /api/v1/tags: goes through the change poller)
  - 1,000 WebSocket clients held open: connect time, server RSS before/with/after, and the
    job-event latency at 1,000 clients (informational)
  - upload MB/s: POST /api/v1/uploads of 20 x 10 MB WAV files, first byte sent to the 202
    (transfer and store; the analysis is a job afterwards, cancelled here)
  - a py-spy profile of the server during the one-sample GET load (--no-profile skips it)
Targets on 2 cores: one-sample GET >= 60% of the bare handler's rate and >= 3,000 requests/s;
similar >= 1,000 requests/s; p99 < 20 ms for both; WebSocket p99 < 5 ms; upload >= 200 MB/s.
The summary table says PASS/FAIL; the exit code is 0 either way (a benchmark reports, it
doesn't gate).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import multiprocessing
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
import urllib.error
import urllib.parse
import urllib.request
import wave
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

N_SAMPLES = 100_000
CONNECTIONS = 100
WRK_THREADS = 2
WS_CLIENTS = 100
WS_HELD = 1000
WS_PROCESSES = 2  # receiving clients are spread over processes (one Python loop each)
UPLOAD_FILES = 20
UPLOAD_MB = 10
QUERIES = ("cat:kick limit:50", "type:loop bpm:120..128 limit:50", "key:Am~ type:loop limit:50",
           "cat:snare,clap lufs:..-10 sort:lufs- limit:50", "type:loop sort:bpm- limit:50",
           "note:C2..C3 cat:bass limit:50")
TARGET_SAMPLE_RPS = 3000.0
TARGET_SAMPLE_RATIO = 0.60
TARGET_SIMILAR_RPS = 1000.0
TARGET_P99_MS = 20.0
TARGET_WS_P99_MS = 5.0
TARGET_UPLOAD_MBS = 200.0

BARE_SERVER = r"""
import sys
from aiohttp import web
BODY = open(sys.argv[2], "rb").read()
async def handler(request):
    return web.Response(body=BODY, content_type="application/json")
app = web.Application()
app.router.add_get("/api/v1/samples/{id}", handler)
app.router.add_get("/health/live", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

# One request per call of request(): a random id in [lo, hi] between prefix and suffix, or a
# random entry of a list of paths. done() prints the figures as one JSON line.
WRK_LUA = r"""
local lo, hi, prefix, suffix, paths = %(lo)d, %(hi)d, "%(prefix)s", "%(suffix)s", {%(paths)s}
-- a weighted mix: {path or prefix, suffix, lo, hi (0: no id), 1 = a Range request}
local mix = {%(mix)s}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(7919 * (seed or 1))
end
function request()
  if #mix > 0 then
    local e = mix[math.random(#mix)]
    local path = e[1]
    if e[3] > 0 then path = path .. math.random(e[3], e[4]) .. e[2] end
    if e[5] == 1 then return wrk.format("GET", path, {Range = "bytes=0-65535"}) end
    return wrk.format("GET", path)
  end
  if #paths > 0 then
    return wrk.format("GET", paths[math.random(#paths)])
  end
  return wrk.format("GET", prefix .. math.random(lo, hi) .. suffix)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%%d,\"duration_us\":%%d,\"bytes\":%%d,\"p50_us\":%%d,\"p90_us\":%%d," ..
    "\"p99_us\":%%d,\"max_us\":%%d,\"connect\":%%d,\"read\":%%d,\"write\":%%d,\"status\":%%d," ..
    "\"timeout\":%%d}\n",
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, e.connect, e.read, e.write,
    e.status, e.timeout))
end
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def record_cache(base: str, prefix: str = "samplemind_record_cache_") -> dict[str, float]:
    """The server's record cache figures (or another family's), from /metrics: counters
    under their names without `_total` ("hits")."""
    text = http_get(f"{base}/metrics")[1].decode()
    return {line.split()[0][len(prefix):].removesuffix("_total"): float(line.split()[1])
            for line in text.splitlines() if line.startswith(prefix)}


def route_times(base: str) -> dict[str, dict[str, Any]]:
    """The server's own request-duration histogram by route, from /metrics: {route: {"count",
    "sum", "buckets": [(upper bound, cumulative count), ...]}}."""
    text = http_get(f"{base}/metrics")[1].decode()
    routes: dict[str, dict[str, Any]] = {}
    family = "samplemind_http_request_duration_seconds"
    for line in text.splitlines():
        if not line.startswith(family):
            continue
        name_labels, value = line.rsplit(" ", 1)
        labels = dict(part.split("=", 1) for part in
                      name_labels[name_labels.index("{") + 1:name_labels.rindex("}")].split(","))
        route = labels.get("route", "").strip('"')
        entry = routes.setdefault(route, {"count": 0.0, "sum": 0.0, "buckets": []})
        if name_labels.startswith(family + "_bucket"):
            entry["buckets"].append((float(labels["le"].strip('"')), float(value)))
        elif name_labels.startswith(family + "_count"):
            entry["count"] = float(value)
        elif name_labels.startswith(family + "_sum"):
            entry["sum"] = float(value)
    return routes


def print_route_times(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> None:
    """Per route, over one run: requests, mean and the bucket holding the p99 of the time
    the server spent answering (from the handler's start: the wait for the loop before it
    is not in it, so these are lower bounds of what clients saw)."""
    for route, now in sorted(after.items(), key=lambda item: -item[1]["count"]):
        was = before.get(route, {"count": 0.0, "sum": 0.0, "buckets": []})
        count = now["count"] - was["count"]
        if count < 1:
            continue
        earlier = dict(was["buckets"])
        cumulative = [(bound, seen - earlier.get(bound, 0.0)) for bound, seen in now["buckets"]]
        p99 = next((bound for bound, seen in cumulative if seen >= 0.99 * count), float("inf"))
        mean = (now["sum"] - was["sum"]) / count
        print(f"      {route:34} {count:8,.0f} req  mean {mean * 1000:7.2f} ms  "
              f"p99 <= {p99 * 1000:6.1f} ms")


def neighbour_table(base: str) -> dict[str, float]:
    """The server's neighbour table figures, from /metrics."""
    return record_cache(base, "samplemind_neighbour_table_")


def wait_neighbour_table(base: str, timeout: float = 600.0) -> float:
    """Wait until the table of nearest neighbours is built: seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if neighbour_table(base).get("samples", 0) > 0:
            break
        time.sleep(0.25)
    return time.perf_counter() - started


def wait_record_cache(base: str, timeout: float = 120.0) -> tuple[float, dict[str, float]]:
    """Wait until the cache stops growing (its warm-up is done): (seconds, figures). Looks
    every 2 s: on a busy shared machine one warm-up step can take longer than 0.5 s."""
    started = time.perf_counter()
    last = record_cache(base)
    while time.perf_counter() - started < timeout:
        time.sleep(2.0)
        now = record_cache(base)
        if now.get("bytes") == last.get("bytes"):
            return time.perf_counter() - started, now
        last = now
    return time.perf_counter() - started, last


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """VmRSS of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q)) if values else float("nan")


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        with contextlib.suppress(OSError):
            if http_get(url, 2.0)[0] == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- catalog ----------------------------------------------------------------------------------


def make_catalog(home: Path, n: int, jobs: int) -> dict[str, Any]:
    """The real 100k catalog of benchmarks/similar.py, plus its index; facts about it."""
    import similar  # benchmarks/similar.py: real vectors, jitter expansion, bulk write

    real, real_rows, source = similar.real_vectors(jobs, use_eval=True)
    vectors, picked = similar.expand(real, n, 0.2, np.random.default_rng(similar.SEED))
    # Past 200k rows the per-row triggers make the write take most of an hour on a busy
    # machine: write them the way scale.py does (the triggers' own SQL, set-based).
    build = similar.build_catalog_fast if n > 200_000 else similar.build_catalog
    library, insert_s = build(home, vectors, picked, real_rows)
    del vectors
    try:
        started = time.perf_counter()
        info = library.index.rebuild("benchmark").info
        index_s = time.perf_counter() - started
        low, high, count = library.catalog.query("SELECT min(id), max(id), count(*) FROM samples")[0]
        audio_hi = add_audio_files(library, home.parent / "audio", low)
    finally:
        library.close()
    return {"source": source, "insert_s": insert_s, "index_s": index_s, "index": info,
            "lo": low, "hi": high, "count": count, "audio_lo": low, "audio_hi": audio_hi}


def kept_catalog(keep: Path, n: int, jobs: int) -> dict[str, Any]:
    """make_catalog's catalog in keep/home, made once per size and reused: its facts are kept
    beside it in keep/catalog.json (a run that changed the catalog, such as the WebSocket
    section's scans, leaves those changes in it)."""
    facts_file = keep / "catalog.json"
    if facts_file.exists():
        facts = json.loads(facts_file.read_text())
        if facts["count"] == n:
            facts["index"] = types.SimpleNamespace(**facts["index"])
            print(f"(catalog reused from {keep}: the bulk write and index times are those of "
                  "the run that made it)")
            return facts
        shutil.rmtree(keep / "home", ignore_errors=True)
        shutil.rmtree(keep / "audio", ignore_errors=True)
    facts = make_catalog(keep / "home", n, jobs)
    info = facts["index"]
    facts_file.write_text(json.dumps({**facts, "index": {
        "kind": info.kind, "nlist": info.nlist, "nprobe": info.nprobe}}))
    return facts


AUDIO_FILES = 200


def add_audio_files(library: Any, folder: Path, first: int) -> int:
    """Real WAV files (2 s of noise) behind the first AUDIO_FILES samples, so the team mix's
    audio Range requests are served (the generated rows name files that don't exist).
    Returns the last id with a file."""
    folder.mkdir(parents=True, exist_ok=True)
    data = wav_bytes(0.35)  # ~350 KB: 2 s of 16-bit stereo at 44.1 kHz
    catalog = library.catalog
    rows = []
    for sample_id in range(first, first + AUDIO_FILES):
        path = folder / f"audio_{sample_id}.wav"
        path.write_bytes(data)
        stat = path.stat()
        rows.append((str(path), str(folder), stat.st_size, stat.st_mtime_ns, sample_id))
    with catalog.transaction():
        catalog.conn.executemany("UPDATE samples SET path = ?, root = ?, size = ?, mtime_ns = ? "
                                 "WHERE id = ?", rows)
        catalog.note_root(str(folder))
    return first + AUDIO_FILES - 1


def query_mix(catalog: dict[str, Any]) -> list[tuple[str, str, int, int, int]]:
    """The UI's queries (weights in 100ths): a filter's first page with its total (50), the
    next pages (25: 100 samples each; the UI asks 1,000 at a time, which is bandwidth, not
    query work), the figures beside the list (25: /stats and /tags)."""
    from samplemind.server.routes_samples import encode_cursor

    filters = ["", *QUERIES]  # "" = the first screen, every sample
    mix: list[tuple[str, str, int, int, int]] = []
    for i in range(50):
        q = filters[i % len(filters)]
        mix.append((f"/api/v1/samples?q={urllib.parse.quote(q)}&limit=100&total=true", "", 0, 0, 0))
    for i in range(25):
        q = filters[i % len(filters)]
        cursor = encode_cursor(100 * (1 + i % 2), q or None)
        mix.append((f"/api/v1/samples?q={urllib.parse.quote(q)}&limit=100&cursor={cursor}",
                    "", 0, 0, 0))
    for i in range(25):
        mix.append(("/api/v1/stats" if i % 2 else "/api/v1/tags", "", 0, 0, 0))
    return mix


def team_mix(catalog: dict[str, Any]) -> list[tuple[str, str, int, int, int]]:
    """A team's load: 70% the UI's queries, 15% one sample, 10% similar, 5% audio Range."""
    lo, hi = catalog["lo"], catalog["hi"]
    queries = query_mix(catalog)
    mix = [queries[(i * 10) // 7 % len(queries)] for i in range(70)]
    mix += [("/api/v1/samples/", "", lo, hi, 0)] * 15
    mix += [("/api/v1/samples/", "/similar?k=10", lo, hi, 0)] * 10
    mix += [("/api/v1/samples/", "/audio", catalog["audio_lo"], catalog["audio_hi"], 1)] * 5
    return mix


MIX_CONNECTIONS = (100, 1000)
TARGET_QUERY_RPS = 3000.0
TARGET_QUERY_P99 = 50.0
TARGET_TEAM_RPS = 4000.0
TARGET_TEAM_P99 = 50.0
TARGET_TEAM_P99_1000 = 250.0


def mix_section(load: Load, server_pid: int, base: str, catalog: dict[str, Any],
                seconds: float, warmup: float) -> dict[str, Any]:
    """The query mix alone and the team mix, at 100 and 1,000 connections."""
    print(f"\n== mixed load: {load.name.split(' -c')[0]}, {seconds:g} s each after a "
          f"{warmup:g} s warm-up ==")
    print("  query mix: 50% a filter's first page with total (the 6 queries and none), 25% next "
          "pages (cursor, 100 each), 25% /stats and /tags")
    print("  team mix: 70% the query mix, 15% one sample, 10% similar k=10, 5% audio "
          "(Range: bytes=0-65535 of 200 real WAV files)")
    print(f"  {'load':24} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'non-2xx':>8} {'sock err':>8} {'srv CPU':>8} {'us/req':>7}")
    results: dict[str, Any] = {}
    for name, mix in (("query mix", query_mix(catalog)), ("team mix", team_mix(catalog))):
        for connections in MIX_CONNECTIONS:
            spec = {"mix": mix}
            load.run(base, spec, warmup, connections)
            times_before = route_times(base)
            cpu_before = cpu_seconds(server_pid)
            started = time.perf_counter()
            result = load.run(base, spec, seconds, connections)
            result["server_cores"] = (cpu_seconds(server_pid) - cpu_before) / (
                time.perf_counter() - started)
            label = f"{name} @{connections}"
            results[label] = result
            print(f"  {label:24} {result['rps']:9,.0f} {result['p50']:8.2f} {result['p90']:8.2f} "
                  f"{result['p99']:8.2f} {result['max']:8.1f} {result['non2xx']:8d} "
                  f"{result['errors']:8d} {result['server_cores']:7.2f}c "
                  f"{result['server_cores'] * 1e6 / max(result['rps'], 1e-9):7.0f}")
            if name == "team mix":
                print("    by route, as the server timed them (handler start to answer):")
                print_route_times(times_before, route_times(base))
    print("  (us/req: server CPU per request, the figure a busy shared machine distorts least)")
    figures = record_cache(base, "samplemind_query_cache_")
    if figures:
        print(f"  query cache: {figures.get('hits', 0):,.0f} hits, {figures.get('misses', 0):,.0f} "
              f"misses, {figures.get('pages', 0):,.0f} pages kept")
    return results


# -- load generators --------------------------------------------------------------------------


def find_wrk() -> str | None:
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    log("wrk is missing: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "install", "-y", "-q", "wrk"],
                    ["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "wrk"]):
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        if shutil.which("wrk"):
            break
    return shutil.which("wrk")


def lua_script(folder: Path, spec: dict[str, Any]) -> Path:
    paths = ", ".join(json.dumps(p) for p in spec.get("paths", ()))
    mix = ", ".join(f"{{{json.dumps(e[0])}, {json.dumps(e[1])}, {e[2]:d}, {e[3]:d}, {e[4]:d}}}"
                    for e in spec.get("mix", ()))
    text = WRK_LUA % {"lo": spec.get("lo", 1), "hi": spec.get("hi", 1),
                      "prefix": spec.get("prefix", ""), "suffix": spec.get("suffix", ""),
                      "paths": paths, "mix": mix}
    path = folder / f"wrk-{abs(hash(text))}.lua"
    path.write_text(text)
    return path


def run_wrk(wrk: str, base: str, spec: dict[str, Any], seconds: float, folder: Path,
            connections: int = CONNECTIONS) -> dict[str, Any]:
    script = lua_script(folder, spec)
    command = [wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "10s", "-s", str(script), base]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    data = json.loads(line[len("WRKJSON "):])
    duration = data["duration_us"] / 1e6
    errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return {"rps": data["requests"] / duration, "p50": data["p50_us"] / 1000,
            "p90": data["p90_us"] / 1000, "p99": data["p99_us"] / 1000,
            "max": data["max_us"] / 1000, "requests": data["requests"],
            "non2xx": data["status"], "errors": errors,
            "kb_per_response": data["bytes"] / max(1, data["requests"]) / 1024}


def _spec_paths(spec: dict[str, Any], rng: Any) -> str:
    if spec.get("mix"):  # the aiohttp fallback sends the mix without Range headers
        path, suffix, lo, hi, _ = spec["mix"][rng.randrange(len(spec["mix"]))]
        return f"{path}{rng.randint(lo, hi)}{suffix}" if hi else path
    if spec.get("paths"):
        return spec["paths"][rng.randrange(len(spec["paths"]))]
    return f"{spec['prefix']}{rng.randint(spec['lo'], spec['hi'])}{spec.get('suffix', '')}"


def aiohttp_load(base: str, spec: dict[str, Any], seconds: float, connections: int,
                 ) -> dict[str, Any]:
    """The fallback load generator (runs in its own process): `connections` workers, each
    sending requests back to back on its own keep-alive connection."""
    import random

    import aiohttp

    async def main() -> dict[str, Any]:
        latencies: list[float] = []
        counts = Counter()
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector,
                                         headers={"Accept-Encoding": "identity"}) as session:
            end = time.perf_counter() + seconds

            async def worker(seed: int) -> None:
                rng = random.Random(seed)
                while time.perf_counter() < end:
                    started = time.perf_counter()
                    try:
                        async with session.get(base + _spec_paths(spec, rng)) as response:
                            await response.read()
                            counts["ok" if response.status < 400 else "non2xx"] += 1
                    except aiohttp.ClientError:
                        counts["errors"] += 1
                        continue
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            await asyncio.gather(*(worker(i) for i in range(connections)))
            duration = time.perf_counter() - started
        ms = [x * 1000 for x in latencies]
        return {"rps": len(ms) / duration, "p50": pct(ms, 50), "p90": pct(ms, 90),
                "p99": pct(ms, 99), "max": max(ms, default=float("nan")), "requests": len(ms),
                "non2xx": counts["non2xx"], "errors": counts["errors"], "kb_per_response": 0.0}

    return asyncio.run(main())


class Load:
    """wrk if there is one, else the aiohttp client in another process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.wrk = find_wrk()
        self.name = (f"wrk ({self.wrk}) -t{WRK_THREADS} -c{CONNECTIONS}" if self.wrk else
                     f"aiohttp client in another process, {CONNECTIONS} connections (no wrk)")

    def run(self, base: str, spec: dict[str, Any], seconds: float,
            connections: int = CONNECTIONS) -> dict[str, Any]:
        if self.wrk:
            return run_wrk(self.wrk, base, spec, seconds, self.folder, connections)
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            return pool.apply(aiohttp_load, (base, spec, seconds, connections))


def http_section(load: Load, server_pid: int, bare_pid: int, base: str, bare_base: str,
                 catalog: dict[str, Any], seconds: float, warmup: float) -> dict[str, Any]:
    """requests/s and latency of the bare handler and the four catalog routes (audio: a
    64 KB Range request of one of 200 real WAV files)."""
    lo, hi = catalog["lo"], catalog["hi"]
    runs = [
        ("bare handler", bare_base, bare_pid,
         {"prefix": "/api/v1/samples/", "lo": lo, "hi": hi}),
        ("GET one sample", base, server_pid, {"prefix": "/api/v1/samples/", "lo": lo, "hi": hi}),
        ("GET query (mix)", base, server_pid,
         {"paths": [f"/api/v1/samples?q={urllib.parse.quote(q)}" for q in QUERIES]}),
        ("GET similar k=10", base, server_pid,
         {"prefix": "/api/v1/samples/", "lo": lo, "hi": hi, "suffix": "/similar?k=10"}),
        ("GET audio Range", base, server_pid,
         {"mix": [("/api/v1/samples/", "/audio", catalog["audio_lo"], catalog["audio_hi"], 1)]}),
    ]
    print(f"\n== HTTP: {load.name}, {seconds:g} s each after a {warmup:g} s warm-up ==")
    print(f"  {'route':18} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'KB/resp':>8} {'non-2xx':>8} {'sock err':>8} {'srv CPU':>8}")
    results: dict[str, Any] = {}
    for name, url, pid, spec in runs:
        load.run(url, spec, warmup)
        cache_before = record_cache(base)
        table_before = neighbour_table(base)
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        result = load.run(url, spec, seconds)
        result["server_cores"] = (cpu_seconds(pid) - cpu_before) / (time.perf_counter() - started)
        cache_after = record_cache(base)
        hits = cache_after["hits"] - cache_before["hits"]
        misses = cache_after["misses"] - cache_before["misses"]
        result["cache_hit_rate"] = hits / (hits + misses) if hits + misses else None
        table_after = neighbour_table(base)
        looked_up = table_after["hits"] - table_before["hits"]
        searched = table_after["misses"] - table_before["misses"]
        result["table_hit_rate"] = looked_up / (looked_up + searched) \
            if looked_up + searched else None
        results[name] = result
        print(f"  {name:18} {result['rps']:9,.0f} {result['p50']:8.2f} {result['p90']:8.2f} "
              f"{result['p99']:8.2f} {result['max']:8.1f} {result['kb_per_response']:8.2f} "
              f"{result['non2xx']:8d} {result['errors']:8d} {result['server_cores']:7.2f}c")
    print("  (srv CPU: CPU seconds the serving process used per wall second, in cores; the "
          "load generator shares the same cores)")
    one = results.get("GET one sample", {})
    bare = results.get("bare handler", {})
    if one.get("cache_hit_rate") is not None and bare:
        per_request = {key: run["server_cores"] * 1e6 / run["rps"] for key, run in
                       (("one", one), ("bare", bare))}
        print(f"  one sample: {one['cache_hit_rate']:.0%} of the answers came from the record "
              f"cache; server CPU per request {per_request['one']:.0f} us (bare handler "
              f"{per_request['bare']:.0f} us)")
    similar_run = results.get("GET similar k=10", {})
    if similar_run.get("table_hit_rate") is not None:
        print(f"  similar: {similar_run['table_hit_rate']:.0%} of the answers were looked up in "
              "the table of nearest neighbours (the rest searched live); server CPU per request "
              f"{similar_run['server_cores'] * 1e6 / similar_run['rps']:.0f} us")
    print(f"  closed loop: {CONNECTIONS} connections always waiting, so latency >= "
          f"{CONNECTIONS}/throughput (Little's law): at 1,000 req/s that is 100 ms")
    print("  query mix, each query alone (sequential, no other load; median of 3):")
    for query in QUERIES:
        times, size = [], 0
        for _ in range(3):
            started = time.perf_counter()
            status, body = http_get(f"{base}/api/v1/samples?q={urllib.parse.quote(query)}", 30)
            times.append((time.perf_counter() - started) * 1000)
            size = len(body)
        print(f"    {pct(times, 50):8.1f} ms  {size / 1024:6.1f} KB  status {status}  {query}")
    return results


# -- WebSocket --------------------------------------------------------------------------------


def _record(event: dict[str, Any], now: int, got: dict[str, list[int]]) -> None:
    """Note when a timed event arrived (job queued, or samples.updated per id)."""
    data = event.get("data") or {}
    if event.get("type") == "job" and data.get("status") == "queued":
        got[f"job:{data['id']}"].append(now)
    elif event.get("type") == "samples.updated" and data.get("ids"):
        for sample_id in data["ids"]:
            got[f"upd:{sample_id}"].append(now)


def _take_frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Remove the complete WebSocket frames at the start of buffer: [(opcode, payload)]."""
    out = []
    while len(buffer) >= 2:
        opcode, size, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
        if size == 126:
            if len(buffer) < 4:
                break
            size, start = int.from_bytes(buffer[2:4], "big"), 4
        elif size == 127:
            if len(buffer) < 10:
                break
            size, start = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < start + size:
            break
        out.append((opcode, bytes(buffer[start:start + size])))
        del buffer[:start + size]
    return out


def _pong(payload: bytes) -> bytes:
    """The masked pong a client answers a ping with."""
    mask = os.urandom(4)
    return bytes((0x8A, 0x80 | len(payload))) + mask + \
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _receive(sockets: list[socket.socket], buffers: list[bytearray], stop_event: Any,
             ) -> list[list[tuple[int, bytes]]]:
    """Read every socket with epoll until stop_event is set: per socket, [(ns when the
    frame's last byte was read, text payload)]. A plain loop, not asyncio: per readable
    socket it costs a few us, so the 50th socket of a process is not late by the
    receiver's own work (asyncio's callbacks cost ~30 us a socket)."""
    poller = select.epoll()
    by_fd = {}
    for position, sock in enumerate(sockets):
        sock.setblocking(False)
        poller.register(sock.fileno(), select.EPOLLIN)
        by_fd[sock.fileno()] = position
    frames: list[list[tuple[int, bytes]]] = [[] for _ in sockets]
    try:
        while not stop_event.is_set():
            for fd, _ in poller.poll(0.05):
                position = by_fd[fd]
                try:
                    data = sockets[position].recv(1 << 16)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                now = time.monotonic_ns()
                if not data:
                    poller.unregister(fd)
                    continue
                buffer = buffers[position]
                buffer += data
                for opcode, payload in _take_frames(buffer):
                    if opcode == 1:
                        frames[position].append((now, payload))
                    elif opcode == 9:
                        sockets[position].sendall(_pong(payload))
    finally:
        poller.close()
    return frames


class _RawWebSocket(asyncio.Protocol):
    """A minimal WebSocket client that stamps each frame with the time its last byte
    arrived and defers all parsing of the JSON: with 50 connections in one Python process,
    a full client's per-message work (aiohttp's reader, json.loads) would make the 50th
    socket's event look late by a few ms that are the load generator's, not the server's."""

    def __init__(self, request: bytes, handshake: asyncio.Future) -> None:
        self.request = request
        self.handshake = handshake
        self.buffer = bytearray()
        self.upgraded = False
        self.frames: list[tuple[int, bytes]] = []  # (arrival ns, text payload)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            ok = self.buffer.startswith(b"HTTP/1.1 101")
            del self.buffer[:end + 4]
            self.upgraded = True
            if not self.handshake.done():
                self.handshake.set_result(ok)
        for opcode, payload in _take_frames(self.buffer):
            if opcode == 1:
                self.frames.append((now, payload))
            elif opcode == 9 and self.transport is not None:  # ping
                self.transport.write(_pong(payload))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_result(False)


def ws_receivers(url: str, count: int, ready: Any, stop_event: Any, results: Any) -> None:
    """`count` WebSocket clients in this process (_RawWebSocket); each records when it got
    which event. Puts (connect seconds, failed connects, {key: [monotonic ns, ...]}) on
    results."""
    import base64

    parts = urllib.parse.urlsplit(url)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def connect() -> _RawWebSocket:
            key = base64.b64encode(os.urandom(16)).decode()
            request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
            handshake = loop.create_future()
            _, protocol = await loop.create_connection(
                lambda: _RawWebSocket(request.encode(), handshake), parts.hostname, parts.port)
            if not await asyncio.wait_for(handshake, 30):
                raise ConnectionError("the WebSocket handshake failed")
            return protocol

        started = time.perf_counter()
        sockets = await asyncio.gather(*(connect() for _ in range(count)),
                                       return_exceptions=True)
        connect_s = time.perf_counter() - started
        good = [ws for ws in sockets if not isinstance(ws, BaseException)]
        # The handshakes are done: asyncio lets go of the sockets, an epoll loop reads them.
        held = []
        for ws in good:
            ws.transport.pause_reading()
            held.append(socket.socket(fileno=os.dup(ws.transport.get_extra_info("socket").fileno())))
        return connect_s, len(good), held, [ws.buffer for ws in good], \
            [ws.frames for ws in good], [ws.transport for ws in good]

    connect_s, connected, held, buffers, early, transports = asyncio.run(main())
    ready.set()
    frames = _receive(held, buffers, stop_event)
    got: dict[str, list[int]] = defaultdict(list)
    for before, after in zip(early, frames):
        for now, payload in (*before, *after):
            _record(json.loads(payload), now, got)
    for sock in held:
        sock.close()
    del transports
    results.put((connect_s, count - connected, dict(got)))


class Receivers:
    """WebSocket clients spread over a few processes."""

    def __init__(self, url: str, clients: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop_event = context.Event()
        self.results = context.Queue()
        self.readies = []
        self.procs = []
        share = [clients // processes + (i < clients % processes) for i in range(processes)]
        for count in share:
            ready = context.Event()
            proc = context.Process(target=ws_receivers,
                                   args=(url, count, ready, self.stop_event, self.results))
            proc.start()
            self.readies.append(ready)
            self.procs.append(proc)

    def wait_ready(self, timeout: float = 120.0) -> float:
        started = time.perf_counter()
        for ready in self.readies:
            if not ready.wait(max(0.1, timeout - (time.perf_counter() - started))):
                raise RuntimeError("WebSocket clients did not connect in time")
        return time.perf_counter() - started

    def finish(self) -> tuple[float, int, dict[str, list[int]]]:
        self.stop_event.set()
        connect_s, failed, merged = 0.0, 0, defaultdict(list)
        for _ in self.procs:
            seconds, lost, got = self.results.get(timeout=60)
            connect_s = max(connect_s, seconds)
            failed += lost
            for key, stamps in got.items():
                merged[key].extend(stamps)
        for proc in self.procs:
            proc.join(30)
        return connect_s, failed, merged


async def trigger_jobs(base: str, folder: str, count: int, interval: float) -> dict[str, int]:
    """POST /api/v1/scans of an empty folder `count` times: {"job:<id>": ns before the POST}."""
    import aiohttp

    sent: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            started = time.monotonic_ns()
            async with session.post(f"{base}/api/v1/scans", json={"paths": [folder]}) as response:
                body = await response.json()
            if response.status == 202:
                sent[f"job:{body['id']}"] = started
            await asyncio.sleep(interval)
    return sent


async def trigger_tags(base: str, ids: list[int], interval: float) -> dict[str, int]:
    """POST /api/v1/tags on one sample at a time: {"upd:<id>": ns before the POST}."""
    import aiohttp

    sent: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        for sample_id in ids:
            started = time.monotonic_ns()
            async with session.post(f"{base}/api/v1/tags",
                                    json={"ids": [sample_id], "tags": ["bench-ws"]}) as response:
                await response.read()
            if response.status == 200:
                sent[f"upd:{sample_id}"] = started
            await asyncio.sleep(interval)
    return sent


def latencies(sent: dict[str, int], got: dict[str, list[int]], clients: int,
              ) -> tuple[list[float], int]:
    """Per (event, client) ms from trigger to receipt, and how many deliveries are missing."""
    ms: list[float] = []
    missing = 0
    for key, at in sent.items():
        stamps = got.get(key, [])
        ms.extend((stamp - at) / 1e6 for stamp in stamps)
        missing += max(0, clients - len(stamps))
    return ms, missing


def catalog_generation(base: str) -> int:
    """The catalog generation, from /health/ready."""
    return int(json.loads(http_get(f"{base}/health/ready")[1])["checks"]["catalog"]["generation"])


def fmt_lat(ms: list[float]) -> str:
    if not ms:
        return "no deliveries"
    return (f"p50 {pct(ms, 50):6.2f}  p90 {pct(ms, 90):6.2f}  p99 {pct(ms, 99):6.2f}  "
            f"max {max(ms):6.1f} ms")


def ws_section(base: str, server_pid: int, scan_folder: str, catalog: dict[str, Any],
               args: argparse.Namespace) -> dict[str, Any]:
    ws_url = base.replace("http://", "ws://") + "/api/v1/ws"
    out: dict[str, Any] = {}
    print(f"\n== WebSocket: {WS_CLIENTS} clients in {WS_PROCESSES} processes ==")
    receivers = Receivers(ws_url, 1, 1)
    try:
        receivers.wait_ready()
        time.sleep(0.5)
        sent_jobs = asyncio.run(trigger_jobs(base, scan_folder, 20, 0.1))
        time.sleep(0.5)
    finally:
        _, _, got = receivers.finish()
    one_ms, _ = latencies(sent_jobs, got, 1)
    print(f"  reference, 1 client: job event {fmt_lat(one_ms)}  ({len(sent_jobs)} events)")
    receivers = Receivers(ws_url, WS_CLIENTS, WS_PROCESSES)
    try:
        receivers.wait_ready()
        time.sleep(0.5)
        generation = catalog_generation(base)
        sent_jobs = asyncio.run(trigger_jobs(base, scan_folder, args.ws_events, 0.1))
        moves = catalog_generation(base) - generation
        time.sleep(0.5)
        rng = np.random.default_rng(3)
        tag_ids = rng.choice(np.arange(catalog["lo"], catalog["hi"] + 1), args.tag_events,
                             replace=False).tolist()
        sent_tags = asyncio.run(trigger_tags(base, tag_ids, 1.0))
        time.sleep(2.0)
    finally:
        _, failed, got = receivers.finish()
    job_ms, job_missing = latencies(sent_jobs, got, WS_CLIENTS)
    tag_ms, tag_missing = latencies(sent_tags, got, WS_CLIENTS)
    out["ws_p99"] = pct(job_ms, 99)
    print(f"  job event (POST /scans -> 'queued' at each client): {fmt_lat(job_ms)}  "
          f"({len(sent_jobs)} events x {WS_CLIENTS} clients, {job_missing} missing, "
          f"{failed} failed connects)")
    firsts = [(min(got[key]) - at) / 1e6 for key, at in sent_jobs.items() if got.get(key)]
    spreads = [(max(got[key]) - min(got[key])) / 1e6 for key in sent_jobs if got.get(key)]
    if firsts:
        print(f"    per event: first client p50 {pct(firsts, 50):5.2f} p99 {pct(firsts, 99):5.2f} ms; "
              f"first to last of {WS_CLIENTS} p50 {pct(spreads, 50):5.2f} p99 "
              f"{pct(spreads, 99):5.2f} ms")
    print(f"  the catalog generation moved {moves} times during those {len(sent_jobs)} scan jobs "
          "(each move makes the change poller read the change feed since its last generation)")
    print(f"  samples.updated after POST /tags (through the change poller): {fmt_lat(tag_ms)}  "
          f"({len(sent_tags)} events, {tag_missing} missing; informational)")
    out["tag_p99"] = pct(tag_ms, 99)

    print(f"\n== {WS_HELD:,} WebSocket clients held open ==")
    rss_before = rss_mb(server_pid)
    started = time.perf_counter()
    receivers = Receivers(ws_url, WS_HELD, WS_PROCESSES)
    try:
        receivers.wait_ready()
        connect_s = time.perf_counter() - started
        time.sleep(1.0)
        rss_with = rss_mb(server_pid)
        sent_jobs = asyncio.run(trigger_jobs(base, scan_folder, 20, 0.25))
        time.sleep(0.5)
    finally:
        _, failed, got = receivers.finish()
    time.sleep(1.0)
    rss_after = rss_mb(server_pid)
    held_ms, held_missing = latencies(sent_jobs, got, WS_HELD)
    out.update(rss_before=rss_before, rss_with=rss_with, rss_after=rss_after)
    print(f"  connected {WS_HELD - failed:,}/{WS_HELD:,} in {connect_s:.1f} s (incl. starting "
          f"{WS_PROCESSES} client processes)")
    print(f"  server RSS: before {rss_before:.1f} MB, with {WS_HELD:,} clients {rss_with:.1f} MB "
          f"(+{rss_with - rss_before:.1f} MB, {(rss_with - rss_before) * 1024 / WS_HELD:.1f} "
          f"KB/client), after they left {rss_after:.1f} MB")
    print(f"  job event to {WS_HELD:,} clients: {fmt_lat(held_ms)}  ({len(sent_jobs)} events, "
          f"{held_missing} missing; informational)")
    return out


# -- upload -----------------------------------------------------------------------------------


def wav_bytes(megabytes: float) -> bytes:
    """A WAV of noise, 44.1 kHz stereo 16-bit, about `megabytes` MB."""
    frames = int(megabytes * 1_000_000) // 4
    samples = np.random.default_rng(5).integers(-8000, 8000, frames * 2, dtype=np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(44100)
        handle.writeframes(samples.tobytes())
    return buffer.getvalue()


async def upload_once(base: str, data: bytes, round_: int) -> tuple[float, int, dict[str, Any]]:
    import aiohttp

    form = aiohttp.FormData()
    for i in range(UPLOAD_FILES):
        form.add_field("file", data, filename=f"bench_{round_}_{i:02d}.wav",
                       content_type="audio/wav")
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.post(f"{base}/api/v1/uploads", data=form) as response:
            body = await response.json()
        seconds = time.perf_counter() - started
        if response.status == 202:
            # The analysis is not what is measured: cancel it and wait until it stops, so
            # the next round does not share the cores with it.
            async with session.delete(f"{base}/api/v1/jobs/{body['id']}") as cancelled:
                await cancelled.read()
            for _ in range(600):
                async with session.get(f"{base}/api/v1/jobs/{body['id']}") as job:
                    state = await job.json()
                if state.get("status") in ("done", "failed", "cancelled"):
                    break
                await asyncio.sleep(0.1)
    return seconds, response.status, body


def upload_section(base: str, rounds: int) -> dict[str, Any]:
    data = wav_bytes(UPLOAD_MB)
    total_mb = len(data) * UPLOAD_FILES / 1e6
    print(f"\n== upload: POST /api/v1/uploads, {UPLOAD_FILES} x {len(data) / 1e6:.1f} MB WAV "
          f"({total_mb:.0f} MB) per request, {rounds} rounds ==")
    rates = []
    for round_ in range(rounds):
        seconds, status, body = asyncio.run(upload_once(base, data, round_))
        rate = total_mb / seconds
        if status == 202:
            rates.append(rate)
        print(f"  round {round_ + 1}: {seconds:.2f} s, {rate:,.0f} MB/s, status {status}"
              + ("" if status == 202 else f" {body}"))
    print("  (first byte sent to the 202 response: transfer and store in the upload folder; "
          "the analysis job is cancelled)")
    return {"upload_mbs": max(rates) if rates else float("nan"),
            "upload_median": pct(rates, 50)}


# -- profile ----------------------------------------------------------------------------------


def profile_section(load: Load, server_pid: int, base: str, catalog: dict[str, Any],
                    seconds: float, folder: Path) -> None:
    """py-spy (sampling, non-blocking, only the thread holding the GIL) of the server under
    one-sample GET load, then under similar load."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.path.exists(spy):
        print("\n(profile skipped: py-spy is not installed)")
        return
    lo, hi = catalog["lo"], catalog["hi"]
    for name, spec in (("GET one sample", {"prefix": "/api/v1/samples/", "lo": lo, "hi": hi}),
                       ("GET similar k=10", {"prefix": "/api/v1/samples/", "lo": lo, "hi": hi,
                                             "suffix": "/similar?k=10"})):
        print(f"\n== profile: py-spy --gil of the server during {name} ({seconds:g} s) ==")
        raw = folder / "profile.txt"
        raw.unlink(missing_ok=True)
        duration = int(seconds) + 1
        spy_proc = subprocess.Popen([spy, "record", "--pid", str(server_pid), "--rate",
                                     str(PROFILE_RATE), "--duration", str(duration), "--format",
                                     "raw", "--threads", "--gil", "--nonblocking", "--output",
                                     str(raw)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        result = load.run(base, spec, seconds)
        _, err = spy_proc.communicate(timeout=60)
        if not raw.exists():
            print(f"  py-spy failed: {err.strip()[-300:]}")
            return
        print(f"  (under the profiler: {result['rps']:,.0f} req/s, p99 {result['p99']:.2f} ms)")
        summarise_profile(raw.read_text(), PROFILE_RATE * duration)


PROFILE_RATE = 250
# Frames every stack of a thread starts with: not worth listing as inclusive time.
ROOT_FRAMES = re.compile(r"\((threading|runpy|<frozen runpy>|typer/|_click/|click/|samplemind/"
                         r"__main__|samplemind/cli|samplemind/commands/serve|aiohttp/web\.py)|"
                         r"^(Thread\.|_worker |BaseEventLoop\.run_|BaseEventLoop\._run_once|"
                         r"_run_module_as_main|_run_code|<module>)")


def _function(frame: str) -> str:
    """'name (path/to/file.py:12)' -> 'name (file.py)'."""
    match = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not match:
        return frame
    name, path = match.groups()
    parts = Path(path).parts
    short = "/".join(parts[parts.index("samplemind"):]) if "samplemind" in parts \
        else "/".join(parts[-2:])
    return f"{name} ({short})"


def summarise_profile(text: str, possible: int) -> None:
    """Share of GIL-holding samples by thread group; own and inclusive time in each."""
    groups: dict[str, tuple[Counter[str], Counter[str]]] = {}
    sizes: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0]
        group = ("event loop (MainThread)" if "MainThread" in thread else
                 "request threads (samplemind-req)" if "samplemind-req" in thread else
                 re.sub(r"\s*\(0x[0-9a-f]+\)|thread \(\d+\):?\s*", "", thread) or "other")
        own, inclusive = groups.setdefault(group, (Counter(), Counter()))
        total += count
        sizes[group] += count
        names = [_function(f) for f in frames[1:]]
        if names:
            own[names[-1]] += count
        for name in set(names):
            if not ROOT_FRAMES.search(name):
                inclusive[name] += count
    if not total:
        print("  no samples")
        return
    print(f"  GIL held in {total / possible:.0%} of the samples ({total} of {possible} at "
          f"{PROFILE_RATE} Hz); shares below are of the GIL-holding samples")
    for group, size in sizes.most_common():
        own, inclusive = groups[group]
        print(f"  {size / total:6.1%}  {group}")
        print("     own time, top 12:")
        for name, count in own.most_common(12):
            print(f"      {count / total:6.1%}  {name}")
        print("     inclusive, top 15:")
        for name, count in inclusive.most_common(15):
            print(f"      {count / total:6.1%}  {name}")


# -- summary ----------------------------------------------------------------------------------


def summary(http: dict[str, Any], ws: dict[str, Any], upload: dict[str, Any],
            mixed: dict[str, Any]) -> None:
    lines: list[tuple[str, str, str, bool | None]] = []
    bare = http.get("bare handler")
    one = http.get("GET one sample")
    similar_ = http.get("GET similar k=10")
    query = http.get("GET query (mix)")
    if bare:
        lines.append(("bare handler req/s", f"{bare['rps']:,.0f}", "baseline", None))
    if one:
        lines.append(("one sample req/s", f"{one['rps']:,.0f}", f">= {TARGET_SAMPLE_RPS:,.0f}",
                      one["rps"] >= TARGET_SAMPLE_RPS))
        if bare:
            ratio = one["rps"] / bare["rps"]
            lines.append(("one sample / bare", f"{ratio:.0%}", f">= {TARGET_SAMPLE_RATIO:.0%}",
                          ratio >= TARGET_SAMPLE_RATIO))
        lines.append(("one sample p99", f"{one['p99']:.2f} ms", f"< {TARGET_P99_MS:g} ms",
                      one["p99"] < TARGET_P99_MS))
    if similar_:
        lines.append(("similar req/s", f"{similar_['rps']:,.0f}", f">= {TARGET_SIMILAR_RPS:,.0f}",
                      similar_["rps"] >= TARGET_SIMILAR_RPS))
        lines.append(("similar p99", f"{similar_['p99']:.2f} ms", f"< {TARGET_P99_MS:g} ms",
                      similar_["p99"] < TARGET_P99_MS))
    if query:
        lines.append(("query mix req/s", f"{query['rps']:,.0f}", "-", None))
        lines.append(("query mix p99", f"{query['p99']:.2f} ms", "-", None))
    if "ws_p99" in ws:
        lines.append(("WebSocket event p99", f"{ws['ws_p99']:.2f} ms",
                      f"< {TARGET_WS_P99_MS:g} ms", ws["ws_p99"] < TARGET_WS_P99_MS))
        lines.append(("tag -> samples.updated p99", f"{ws['tag_p99']:.1f} ms", "-", None))
    if "rss_with" in ws:
        lines.append((f"RSS with {WS_HELD:,} WS", f"{ws['rss_with']:.0f} MB",
                      f"+{ws['rss_with'] - ws['rss_before']:.0f} MB", None))
    for label, rps, p99 in (("query mix @100", TARGET_QUERY_RPS, TARGET_QUERY_P99),
                            ("team mix @100", TARGET_TEAM_RPS, TARGET_TEAM_P99)):
        run = mixed.get(label)
        if run:
            lines.append((f"{label} req/s", f"{run['rps']:,.0f}", f">= {rps:,.0f}",
                          run["rps"] >= rps))
            lines.append((f"{label} p99", f"{run['p99']:.1f} ms", f"<= {p99:g} ms",
                          run["p99"] <= p99))
    for label in ("query mix @1000", "team mix @1000"):
        run = mixed.get(label)
        if run:
            errors = run["errors"] + run["non2xx"]
            lines.append((f"{label} req/s", f"{run['rps']:,.0f}", "-", None))
            lines.append((f"{label} errors", f"{errors:,}", "0", errors == 0))
            lines.append((f"{label} p99", f"{run['p99']:.1f} ms",
                          f"<= {TARGET_TEAM_P99_1000:g} ms", run["p99"] <= TARGET_TEAM_P99_1000))
    if "upload_mbs" in upload:
        lines.append(("upload MB/s (best)", f"{upload['upload_mbs']:,.0f}",
                      f">= {TARGET_UPLOAD_MBS:g}", upload["upload_mbs"] >= TARGET_UPLOAD_MBS))
    print("\nsummary")
    print(f"  {'figure':28} {'value':>12}  {'target':>10}  result")
    for figure, value, target, ok in lines:
        verdict = "-" if ok is None else ("PASS" if ok else "FAIL")
        print(f"  {figure:28} {value:>12}  {target:>10}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=N_SAMPLES, help="catalog size")
    parser.add_argument("--seconds", type=float, default=10.0, help="each HTTP load run")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up before each run")
    parser.add_argument("--ws-events", type=int, default=100, help="job events for the p99")
    parser.add_argument("--tag-events", type=int, default=10, help="tag writes (informational)")
    parser.add_argument("--upload-rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2, help="workers for the real-feature scan")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--table-timeout", type=float, default=600.0,
                        help="seconds to wait for the table of nearest neighbours (at 1M it "
                             "takes 3-4 minutes; similar searches live until then)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the catalog in DIR and reuse it when run again with the "
                             "same --samples (a 1M catalog takes minutes to write)")
    parser.add_argument("--only", default="http,mix,ws,upload,profile",
                        help="comma-separated sections to run")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    if args.no_profile:
        sections.discard("profile")
    (HERE / "out").mkdir(exist_ok=True)

    load_avg = os.getloadavg()
    print(f"machine: {os.cpu_count()} cpus, load average {load_avg[0]:.2f} {load_avg[1]:.2f} "
          f"{load_avg[2]:.2f} at start; python {sys.version.split()[0]}")
    begun = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="sm-bench-serve-"))
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    server = bare = None
    http: dict[str, Any] = {}
    ws: dict[str, Any] = {}
    upload: dict[str, Any] = {}
    mixed: dict[str, Any] = {}
    try:
        home = work / "home"
        catalog = (make_catalog(home, args.samples, args.jobs) if args.keep is None
                   else kept_catalog(args.keep, args.samples, args.jobs))
        if args.keep is not None:
            home = args.keep / "home"
        info = catalog["index"]
        print(f"catalog: {catalog['count']:,} samples ({catalog['source']}, jittered), bulk "
              f"write {catalog['insert_s']:.1f} s, index {info.kind} nlist {info.nlist} nprobe "
              f"{info.nprobe} built in {catalog['index_s']:.1f} s")

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_log = open(work / "server.log", "w")  # noqa: SIM115 (closed with the run)
        server = subprocess.Popen(
            [sys.executable, "-m", "samplemind", "serve", "--port", str(port)],
            env={**os.environ, "SAMPLEMIND_HOME": str(home)}, cwd=ROOT,
            stdout=server_log, stderr=subprocess.STDOUT)
        started = time.perf_counter()
        wait_ready(f"{base}/health/ready", server)
        print(f"server: `samplemind serve --port {port}` (defaults: 4 request threads), pid "
              f"{server.pid}, ready in {time.perf_counter() - started:.1f} s, RSS "
              f"{rss_mb(server.pid):.0f} MB")
        warm_s, cached = wait_record_cache(base)
        print(f"record cache: filled in the background in {warm_s:.1f} s after ready: "
              f"{cached['entries']:,.0f} of {catalog['count']:,} records, "
              f"{cached['bytes'] / 2**20:.0f} MB; server RSS {rss_mb(server.pid):.0f} MB")
        table_s = wait_neighbour_table(base, args.table_timeout)
        table = neighbour_table(base)
        print(f"neighbour table: {table.get('samples', 0):,.0f} samples, "
              f"{table.get('bytes', 0) / 2**20:.0f} MB, built in the background (ready "
              f"{warm_s + table_s:.1f} s after the server); server RSS {rss_mb(server.pid):.0f} MB")
        status, body = http_get(f"{base}/api/v1/samples/{catalog['lo']}")
        assert status == 200, f"GET one sample answered {status}: {body[:200]!r}"
        (work / "bare.json").write_bytes(body)
        bare_port = free_port()
        bare_base = f"http://127.0.0.1:{bare_port}"
        bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(bare_port),
                                 str(work / "bare.json")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_ready(f"{bare_base}/health/live", bare)
        print(f"baseline: bare aiohttp handler in another process, a constant {len(body):,}-byte "
              "JSON body (one real sample record, as the server sends it)")
        load = Load(work)

        if "http" in sections:
            http = http_section(load, server.pid, bare.pid, base, bare_base, catalog,
                                args.seconds, args.warmup)
        stop(bare)
        if "mix" in sections:
            mixed = mix_section(load, server.pid, base, catalog, args.seconds, args.warmup)
        if "ws" in sections:
            from samplemind.config import resolve_paths

            # The upload folder (the serve default) is one the server may scan: an empty
            # folder inside it makes cheap scan jobs, whose events are what is timed.
            scan_folder = resolve_paths(home).data_dir / "uploads" / "empty"
            scan_folder.mkdir(parents=True, exist_ok=True)
            try:
                ws = ws_section(base, server.pid, str(scan_folder), catalog, args)
            except Exception as exc:  # each section stands alone
                print(f"  WebSocket section failed: {type(exc).__name__}: {exc}")
        if "upload" in sections:
            try:
                upload = upload_section(base, args.upload_rounds)
            except Exception as exc:
                print(f"  upload section failed: {type(exc).__name__}: {exc}")
        if "profile" in sections:
            try:
                profile_section(load, server.pid, base, catalog, args.seconds, work)
            except Exception as exc:
                print(f"  profile failed: {type(exc).__name__}: {exc}")
        print(f"\nserver RSS after the runs: {rss_mb(server.pid):.0f} MB")
    finally:
        stop(bare)
        stop(server)
        if server is not None and server.returncode not in (0, None, -signal.SIGINT):
            print(f"(server exited with {server.returncode}; log tail:)\n"
                  + (work / "server.log").read_text()[-2000:])
        shutil.rmtree(work, ignore_errors=True)
    load_avg = os.getloadavg()
    print(f"\nload average at the end {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}; "
          f"the run took {time.perf_counter() - begun:.0f} s")
    summary(http, ws, upload, mixed)
    print("(one run on a shared machine, load generator on the same cores: expect noise)")


if __name__ == "__main__":
    main()
