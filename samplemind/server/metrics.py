"""Prometheus metrics in the text exposition format (0.0.4), written by hand.

A few counters, gauges and histograms are all the server needs; the format is small
and stable, so this saves a dependency. Updated from the event loop and from worker
threads, hence the locks (but for the request series, written on the loop only: see
Metrics.request_done).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ANALYSIS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help = help_text
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help_text)
        # Each series' count in a list of one: a frequent caller keeps the list (cell()) and
        # adds to it without hashing the labels again (Metrics.request_done).
        self.values: dict[Labels, list[float]] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add amount to the series with these labels."""
        self.inc_key(tuple(sorted(labels.items())), amount)

    def inc_key(self, key: Labels, amount: float = 1.0) -> None:
        """inc() with the labels already as a sorted tuple."""
        cell = self.cell(key)
        with self._lock:
            cell[0] += amount

    def cell(self, key: Labels) -> list[float]:
        """The count of the series with these labels (a sorted tuple), made at 0 if new."""
        with self._lock:
            cell = self.values.get(key)
            if cell is None:
                cell = self.values[key] = [0.0]
            return cell

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted((k, v[0]) for k, v in self.values.items())
        return [*self.header(), *(f"{self.name}{_labels(k)} {_number(v)}" for k, v in items)]


class Gauge(_Metric):
    """A value read when the metrics are scraped."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, read: Callable[[], Iterable[tuple[Labels, float]]]
                 ) -> None:
        super().__init__(name, help_text)
        self.read = read

    def lines(self) -> list[str]:
        return [*self.header(), *(f"{self.name}{_labels(k)} {_number(v)}" for k, v in self.read())]


class Histogram(_Metric):
    """Observations counted into cumulative buckets, per label set."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        super().__init__(name, help_text)
        self.buckets = buckets
        self.series: dict[Labels, list[float]] = {}  # per-bucket counts, then +Inf, sum

    def observe(self, value: float, **labels: str) -> None:
        """Record one observation."""
        self.observe_key(tuple(sorted(labels.items())), value)

    def observe_key(self, key: Labels, value: float) -> None:
        """observe() with the labels already as a sorted tuple."""
        row = self.row(key)
        position = bisect_left(self.buckets, value)  # the first bucket with value <= bound
        with self._lock:
            row[position] += 1
            row[-1] += value

    def row(self, key: Labels) -> list[float]:
        """The counts of the series with these labels (a sorted tuple), made if new."""
        with self._lock:
            row = self.series.get(key)
            if row is None:
                row = self.series[key] = [0.0] * (len(self.buckets) + 2)
            return row

    def lines(self) -> list[str]:
        out = self.header()
        with self._lock:
            items = sorted((k, list(v)) for k, v in self.series.items())
        for labels, row in items:
            running = 0.0
            for bound, count in zip(self.buckets, row):
                running += count
                out.append(f"{self.name}_bucket{_labels(labels, (('le', _number(bound)),))} "
                           f"{_number(running)}")
            running += row[len(self.buckets)]
            out.append(f"{self.name}_bucket{_labels(labels, (('le', '+Inf'),))} {_number(running)}")
            out.append(f"{self.name}_sum{_labels(labels)} {_number(row[-1])}")
            out.append(f"{self.name}_count{_labels(labels)} {_number(running)}")
        return out


class Metrics:
    """Every metric the server exports."""

    def __init__(self) -> None:
        self.requests = Counter("samplemind_http_requests_total",
                                "HTTP requests by route name, method and status.")
        self.latency = Histogram("samplemind_http_request_duration_seconds",
                                 "Time to answer HTTP requests (to the start of the body for "
                                 "streamed responses), by route name.", LATENCY_BUCKETS)
        self.analysis = Histogram("samplemind_analysis_seconds",
                                  "Wall time of analysis jobs (scans and uploads), by kind.",
                                  ANALYSIS_BUCKETS)
        self.analysed_files = Counter("samplemind_analysed_files_total",
                                      "Files handled by analysis jobs, by outcome.")
        self.jobs = Counter("samplemind_jobs_total", "Jobs finished, by kind and status.")
        self.ws_messages = Counter("samplemind_ws_messages_total",
                                   "WebSocket messages sent, by event type.")
        self.extra: list[_Metric] = []
        # The request count of each (route, method, status) and the latency row of each
        # route, kept: making and hashing their labels took most of request_done.
        self._request_counts: dict[tuple[str, str, int], list[float]] = {}
        self._latency_rows: dict[str, list[float]] = {}

    def request_done(self, route: str, method: str, status: int, seconds: float | None) -> None:
        """Count one answered request and, unless seconds is None, its latency.

        Event loop only: the request series have that one writer (and /metrics reads them
        on the loop too), so they are added to without taking the locks."""
        count = self._request_counts.get((route, method, status))
        if count is None:
            count = self._request_counts[route, method, status] = self.requests.cell(
                (("method", method), ("route", route), ("status", str(status))))
        count[0] += 1
        if seconds is not None:
            row = self._latency_rows.get(route)
            if row is None:
                row = self._latency_rows[route] = self.latency.row((("route", route),))
            row[bisect_left(self.latency.buckets, seconds)] += 1  # the first bound >= seconds
            row[-1] += seconds

    def gauge(self, name: str, help_text: str,
              read: Callable[[], Iterable[tuple[Labels, float]]]) -> None:
        """Register a gauge read at scrape time."""
        self.extra.append(Gauge(name, help_text, read))

    def render(self) -> str:
        """The whole exposition, one metric family after another."""
        lines: list[str] = []
        for metric in (self.requests, self.latency, self.analysis, self.analysed_files, self.jobs,
                       self.ws_messages, *self.extra):
            lines.extend(metric.lines())
        return "\n".join(lines) + "\n"
