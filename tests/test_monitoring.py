"""monitoring/: the Grafana dashboard and the Prometheus alert rules use only metrics that a
real server exports on /metrics, with the types their queries assume (issue 21)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from server_fixtures import wait_job

from samplemind import Library
from samplemind.server import ServerConfig, make_app

from helpers import write_library

pytestmark = pytest.mark.asyncio

MONITORING = Path(__file__).resolve().parent.parent / "monitoring"
NAME = re.compile(r"\b((?:samplemind|process)_[a-z0-9_]+)\b")
FROM_PROMETHEUS = {"up"}  # made by Prometheus itself for every scrape target


def dashboard_queries() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"]
               for target in panel.get("targets", [])]
    queries += [variable["definition"] for variable in dashboard["templating"]["list"]]
    return queries


def alert_queries() -> list[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    found = [rule for group in rules["groups"] for rule in group["rules"]]
    assert all(rule.get("alert") and rule.get("expr") for rule in found)
    return [str(rule["expr"]) for rule in found]


def exported_series(text: str) -> dict[str, str]:
    """Every series name the exposition can hold -> its family's type (a histogram's
    _bucket, _sum and _count, a counter's _total), from the families it declares."""
    names: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                    "summary": ("_sum", "_count", "")}.get(family.type, ("",))
        for suffix in suffixes:
            names[family.name + suffix] = family.type
    return names


async def test_every_metric_the_dashboard_and_alerts_use_is_exported(aiohttp_client,
                                                                      tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 3)
    home = tmp_path / "home"
    with Library(home, jobs=1) as library:
        assert library.scan([tmp_path / "lib"]).added == 3
    client = await aiohttp_client(make_app(home, config=ServerConfig()))
    # Some of everything: reads, a miss, a job (so labelled series have samples too).
    assert (await client.get("/api/v1/samples/1")).status == 200
    assert (await client.get("/api/v1/samples/99999")).status == 404
    job = await (await client.post("/api/v1/scans", json={"paths": [str(tmp_path / "lib")]})).json()
    assert (await wait_job(client, job["id"]))["status"] == "done"
    response = await client.get("/metrics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    exported = exported_series(text)
    sampled = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
               if line and not line.startswith("#")}

    used: dict[str, set[str]] = {}
    for where, queries in (("dashboard", dashboard_queries()), ("alerts", alert_queries())):
        assert queries, where
        for query in queries:
            for name in NAME.findall(query):
                used.setdefault(name, set()).add(where)
    assert {where for places in used.values() for where in places} == {"dashboard", "alerts"}
    missing = {name: places for name, places in used.items() if name not in exported}
    assert not missing, f"used but not on /metrics: {missing}"
    # rate()/increase() only on counters and histograms; histogram_quantile only on buckets.
    for query in [*dashboard_queries(), *alert_queries()]:
        for function, name in re.findall(r"\b(rate|increase|histogram_quantile)\(.*?"
                                         r"((?:samplemind|process)_[a-z0-9_]+)", query):
            if function == "histogram_quantile":
                assert name.endswith("_bucket") and exported[name] == "histogram", query
            else:
                assert exported[name] in ("counter", "histogram"), (name, query)
    # The series the alerts and the main panels are about carry samples on a live server.
    for name in ("samplemind_http_requests_total", "samplemind_http_request_duration_seconds_bucket",
                 "samplemind_jobs_total", "samplemind_job_duration_seconds_bucket",
                 "samplemind_jobs_active", "samplemind_feature_cache_hits_total",
                 "samplemind_feature_cache_misses_total", "process_resident_memory_bytes"):
        assert name in sampled, name
    # Counts that only go up are counters (Prometheus' naming guide: _total).
    for name in ("samplemind_feature_cache_hits_total", "samplemind_record_cache_misses_total",
                 "samplemind_neighbour_table_hits_total"):
        assert exported[name] == "counter", name
    assert not {name for name in re.findall(r"\b[a-z_]+(?=\{|\[)", " ".join(
        dashboard_queries() + alert_queries())) if not NAME.fullmatch(name)} - FROM_PROMETHEUS - {
        "sum", "rate", "increase", "histogram_quantile", "label_values", "by", "delta"}
