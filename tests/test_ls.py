"""`ls` filters against a real catalog of the demo pack: each one checked against Python."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_cli


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo pack, scanned once for the whole module."""
    base = tmp_path_factory.mktemp("ls")
    result = run_cli("demo", str(base / "pack"), "-f", "jsonl", home=base / "home")
    assert result.returncode == 0, result.stderr
    return base / "home"


def _ls(home: Path, *args: str) -> list[dict]:
    result = run_cli("ls", "-f", "jsonl", *args, home=home)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_filters_select_exactly_the_matching_records(demo_home: Path) -> None:
    everything = _ls(demo_home)
    cases = [
        (("--type", "loop"), lambda r: r["type"] == "loop"),
        (("--type", "oneshot"), lambda r: r["type"] == "oneshot"),
        (("--category", "Kick"), lambda r: r["category"] == "kick"),
        (("--bpm", "118..130"), lambda r: r["bpm"] is not None and 118 <= r["bpm"] <= 130),
        (("--bpm", "..100"), lambda r: r["bpm"] is not None and r["bpm"] <= 100),
        (("--key", "Am"), lambda r: r["key"] == "A minor"),
        (("--type", "loop", "--key", "C major"),
         lambda r: r["type"] == "loop" and r["key"] == "C major"),
    ]
    for args, wanted in cases:
        expected = [r["path"] for r in everything if wanted(r)]
        assert expected, args  # the demo pack has something for every filter
        assert [r["path"] for r in _ls(demo_home, *args)] == expected, args
    assert len(_ls(demo_home, "--limit", "3")) == 3
