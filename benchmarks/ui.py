"""Web UI speed: `python benchmarks/ui.py` (one command, prints every figure).

Builds a 10,000-sample catalog (the generated records of benchmarks/query.py) in a temporary
SAMPLEMIND home, runs `samplemind serve` on it as a subprocess on a free loopback port, and
loads the UI in headless Chromium (Debian's /usr/bin/chromium through Playwright), a fresh
browser context each run (nothing cached). Printed, medians of --runs loads:

  - first paint (first-contentful-paint) and first rows (the UI's `samplemind:first-rows`
    mark: the first page of the table is on screen), from navigation start;
  - the same page's baseline: one static HTML file of the same total size as the UI's files,
    with the same first 100 rows already rendered in it as a table, served by a plain
    `python -m http.server` (no API call, no JavaScript): the floor of what a browser needs to
    paint that much.

Then scrolling: a 100,000-sample catalog (--scroll-rows), the table scrolled by mouse wheel
from the top through the pages the UI fetches by cursor; frame intervals while scrolling
(p50/p95/max), how many rows existed in the DOM at most, and how many rows were loaded.

Target (issue 7): first paint under 1 s on a 10k library. The summary says PASS/FAIL; the exit
code is 0 either way (a benchmark reports, it doesn't gate).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from samplemind.server.routes_ui import UI_FILES  # noqa: E402  every file the page loads

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
TARGET_FIRST_PAINT_MS = 1000.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:g} s")


def make_home(folder: Path, count: int) -> Path:
    import query  # benchmarks/query.py: generated records, bulk insert

    home = folder / f"home-{count}"
    seconds = query.build_catalog(home, query.make_rows(count))
    log(f"catalog: {count} generated records in {seconds:.1f} s")
    return home


def serve(home: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "samplemind", "--home", str(home), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wait_ready(f"http://127.0.0.1:{port}/health/ready", proc)
    return proc


def baseline_page(folder: Path, base: str) -> Path:
    """A static page as large as the UI's files together, with the first page of rows in it."""
    ui = ROOT / "samplemind" / "server" / "ui"
    size = sum((ui / name).stat().st_size for name in UI_FILES)
    with urllib.request.urlopen(f"{base}/api/v1/samples?limit=100", timeout=30) as response:
        rows = json.loads(response.read())["samples"]
    cells = ("name", "type", "category", "bpm", "key", "note", "duration", "loudness_lufs", "format")
    body = "".join("<tr>" + "".join(f"<td>{row.get(c) if row.get(c) is not None else ''}</td>"
                                    for c in cells) + "</tr>\n" for row in rows)
    html = ("<!doctype html><html><head><meta charset='utf-8'><title>baseline</title>"
            "<style>body{font:14px system-ui;background:#111418;color:#e6e9ee}td{padding:4px 8px}"
            "</style></head><body><table>" + body + "</table>")
    padding = max(0, size - len(html.encode()) - 40)
    html += "<!-- " + "x" * padding + " --></body></html>"
    page = folder / "baseline" / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(html)
    return page


def paint_times(browser: Any, url: str, mark: str | None) -> tuple[float, float]:
    """(first-contentful-paint ms, mark ms or FCP) of one fresh load."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(url)
        if mark:
            page.wait_for_selector(".tr[data-id]")
        deadline = time.monotonic() + 30
        while True:
            times = page.evaluate("""mark => {
                const paint = performance.getEntriesByName('first-contentful-paint')[0];
                const rows = mark ? performance.getEntriesByName(mark)[0] : paint;
                return [paint ? paint.startTime : null, rows ? rows.startTime : null];
            }""", mark)
            if times[0] is not None and times[1] is not None:
                return times[0], times[1]
            if time.monotonic() > deadline:
                raise SystemExit(f"no paint timing for {url}: {times}")
            page.wait_for_timeout(20)
    finally:
        context.close()


def scroll_figures(browser: Any, url: str, steps: int) -> dict[str, Any]:
    """Wheel-scroll the table; frame intervals, rows in the DOM, rows loaded."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(".tr[data-id]")
        page.evaluate("""() => {
            window.__frames = []; window.__most = 0;
            let last = performance.now();
            const tick = (now) => {
                window.__frames.push(now - last); last = now;
                window.__most = Math.max(window.__most, document.querySelectorAll('.tr').length);
                requestAnimationFrame(tick);
            };
            requestAnimationFrame(tick);
        }""")
        box = page.locator(".viewport").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        started = time.perf_counter()
        for _ in range(steps):
            page.mouse.wheel(0, 2400)
            page.wait_for_timeout(16)
        seconds = time.perf_counter() - started
        frames = page.evaluate("window.__frames.slice(2)")
        return {"frames": frames, "most": page.evaluate("window.__most"),
                "loaded": page.evaluate("document.querySelector('#result-count').textContent"),
                "scrolled": page.evaluate("document.querySelector('.viewport').scrollTop"),
                "seconds": seconds}
    finally:
        context.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="catalog size for first paint")
    parser.add_argument("--scroll-rows", type=int, default=100_000, help="catalog size for scrolling "
                        "(0 skips it)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--scroll-steps", type=int, default=150)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"machine: {os.cpu_count()} cpus, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
    with tempfile.TemporaryDirectory(prefix="samplemind-ui-bench-") as temp:
        folder = Path(temp)
        home = make_home(folder, args.rows)
        port = free_port()
        server = serve(home, port)
        static_port = free_port()
        base = f"http://127.0.0.1:{port}"
        page = baseline_page(folder, base)
        static = subprocess.Popen([sys.executable, "-m", "http.server", str(static_port), "--bind",
                                   "127.0.0.1", "--directory", str(page.parent)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(f"http://127.0.0.1:{static_port}/index.html", static)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                ui_times = [paint_times(browser, base + "/", "samplemind:first-rows")
                            for _ in range(args.runs + 1)][1:]  # the first load warms the server
                base_times = [paint_times(browser, f"http://127.0.0.1:{static_port}/index.html", None)
                              for _ in range(args.runs + 1)][1:]
                server.terminate()
                server.wait(30)
                scroll = None
                if args.scroll_rows:
                    big = make_home(folder, args.scroll_rows)
                    server = serve(big, port)
                    scroll = scroll_figures(browser, base + "/", args.scroll_steps)
                browser.close()
        finally:
            for proc in (server, static):
                proc.terminate()
                proc.wait(30)
    ui_fcp = statistics.median(t[0] for t in ui_times)
    ui_rows = statistics.median(t[1] for t in ui_times)
    base_fcp = statistics.median(t[0] for t in base_times)
    size = sum((ROOT / "samplemind" / "server" / "ui" / name).stat().st_size for name in UI_FILES)
    print(f"UI files: {len(UI_FILES)} files, {size / 1024:.0f} KiB uncompressed; runs={args.runs}, "
          f"fresh context each")
    print(f"== first paint, {args.rows:,}-sample library (median ms from navigation start) ==")
    print(f"samplemind UI   : first paint {ui_fcp:7.1f}   first rows {ui_rows:7.1f}   "
          f"(all runs: {', '.join(f'{t[1]:.0f}' for t in ui_times)})")
    print(f"static baseline : first paint {base_fcp:7.1f}   (same bytes, 100 rows pre-rendered, "
          f"no API call)")
    print(f"  first rows - baseline first paint = {ui_rows - base_fcp:+.1f} ms")
    if scroll:
        frames = scroll["frames"]
        print(f"== scrolling, {args.scroll_rows:,}-sample library ==")
        print(f"{args.scroll_steps} wheel steps in {scroll['seconds']:.1f} s, scrolled to "
              f"{scroll['scrolled'] / 28:,.0f} rows; result line: {scroll['loaded']}")
        print(f"frame interval  : p50 {pct(frames, 50):5.1f}  p95 {pct(frames, 95):5.1f}  max "
              f"{max(frames):5.1f} ms over {len(frames)} frames")
        print(f"rows in the DOM : at most {scroll['most']}")
    print("summary")
    print(f"  first rows on a {args.rows:,} library   {ui_rows:7.1f} ms   target < "
          f"{TARGET_FIRST_PAINT_MS:.0f} ms   {'PASS' if ui_rows < TARGET_FIRST_PAINT_MS else 'FAIL'}")


if __name__ == "__main__":
    main()
