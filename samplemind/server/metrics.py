"""Prometheus metrics of the server, exposed with prometheus-client.

Names follow Prometheus' naming guide: a `samplemind_` prefix, the unit as a suffix
(`_seconds`, `_bytes`), `_total` on counters. Counts that only go up (requests, cache hits
and misses) are counters, whether the server counts them itself or reads them from a
component when scraped (`Metrics.reading`); levels (clients, entries, memory) are gauges.
monitoring/grafana-dashboard.json and monitoring/alerts.yml use these names, and a test checks
that every name they use is exported.

Each server has a registry of its own (tests run several in one process). The request
series (a count and a latency per request) are kept by this module in plain lists, written
on the event loop only, without locks, and handed to prometheus-client as metric families
when scraped: its own labelled children cost about 3x as much per request
(benchmarks/metrics.py). The rarer counts (jobs, WebSocket messages) are its Counter and
Histogram, which take their own locks.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes

Labels = tuple[tuple[str, str], ...]
Reader = Callable[[], Iterable[tuple[Labels, float]]]

# The text format has no use for a `_created` series next to each counter (OpenMetrics has).
prometheus_client.disable_created_metrics()


class _Labelled:
    """A labelled counter or histogram called with its labels as keywords:
    ``jobs.inc(kind="scan", status="done")``, ``job_seconds.observe(1.2, kind="scan")``."""

    def __init__(self, metric: Counter | Histogram) -> None:
        self.metric = metric

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.metric.labels(**labels).inc(amount)  # type: ignore[union-attr]

    def observe(self, value: float, **labels: str) -> None:
        self.metric.labels(**labels).observe(value)  # type: ignore[union-attr]


class _Readings:
    """Counters and gauges whose values a component holds, read when /metrics is scraped."""

    def __init__(self) -> None:
        self.readings: list[tuple[str, str, str, Reader]] = []

    def describe(self) -> list[Metric]:
        return []  # read lazily: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        for kind, name, help_text, read in self.readings:
            values = list(read())
            names = sorted({label for labels, _ in values for label, _ in labels})
            family: Metric = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(
                name, help_text, labels=names)
            for labels, value in values:
                given = dict(labels)
                family.add_metric([given.get(label, "") for label in names], value)  # type: ignore[attr-defined]
            yield family


class _RequestSeries:
    """samplemind_http_requests_total and samplemind_http_request_duration_seconds, counted
    on the event loop: a list cell per (method, route, status) and a row of bucket counts
    (then the sum) per route, found by a dict lookup of plain values."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], list[float]] = {}
        self.rows: dict[str, list[float]] = {}

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        # list() of a dict's items or of a row is one step under the GIL: a scrape from a
        # worker thread sees each series whole while the loop goes on counting.
        requests = CounterMetricFamily("samplemind_http_requests", "HTTP requests by route "
                                       "name, method and status.",
                                       labels=["method", "route", "status"])
        for (route, method, status), cell in sorted(list(self.counts.items())):
            requests.add_metric([method, route, str(status)], cell[0])
        yield requests
        latency = HistogramMetricFamily(
            "samplemind_http_request_duration_seconds", "Time to answer HTTP requests (to the "
            "start of the body for streamed responses), by route name.", labels=["route"])
        for route, shared in sorted(list(self.rows.items())):
            row = list(shared)
            running, buckets = 0.0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), row):
                running += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            latency.add_metric([route], buckets, row[-1])
        yield latency


class Metrics:
    """Every metric the server exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        registry = self.registry
        self._requests = _RequestSeries()
        registry.register(self._requests)  # type: ignore[arg-type]
        self.analysis = _Labelled(Histogram(
            "samplemind_job_duration_seconds", "Wall time of finished jobs (scans, uploads, "
            "descriptions), by kind.", ["kind"], buckets=JOB_BUCKETS, registry=registry))
        self.jobs = _Labelled(Counter("samplemind_jobs", "Jobs finished, by kind and status.",
                                      ["kind", "status"], registry=registry))
        self.ws_messages = _Labelled(Counter("samplemind_ws_messages",
                                             "WebSocket messages sent, by event type.", ["type"],
                                             registry=registry))
        self._readings = _Readings()
        registry.register(self._readings)  # type: ignore[arg-type]
        # The standard process_* figures of the server process: CPU seconds, resident memory,
        # open files (Linux /proc).
        ProcessCollector(registry=registry)

    def request_done(self, route: str, method: str, status: int, seconds: float | None) -> None:
        """Count one answered request and, unless seconds is None, its latency. Event loop
        only (the one writer of the request series)."""
        series = self._requests
        count = series.counts.get((route, method, status))
        if count is None:
            count = series.counts[route, method, status] = [0.0]
        count[0] += 1
        if seconds is not None:
            row = series.rows.get(route)
            if row is None:
                row = series.rows[route] = [0.0] * (len(LATENCY_BUCKETS) + 2)
            row[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bound >= seconds
            row[-1] += seconds

    def gauge(self, name: str, help_text: str, read: Reader) -> None:
        """Register a gauge read at scrape time (a level: clients, entries, bytes)."""
        self._readings.readings.append(("gauge", name, help_text, read))

    def counter(self, name: str, help_text: str, read: Reader) -> None:
        """Register a counter read at scrape time: a count that only goes up, held by a
        component (cache hits). name without `_total`: the exposition adds it."""
        self._readings.readings.append(("counter", name, help_text, read))

    def render(self) -> bytes:
        """The whole exposition (text format 0.0.4)."""
        return generate_latest(self.registry)
