"""`ls`: its filters against a real catalog of the demo pack (each one checked against Python),
and queries against the small pack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import ls_names, run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out


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


def test_ls_takes_a_query(pack_home: Path):
    assert ls_names(pack_home, "cat:kick sort:name-") == ["Kick_03.wav", "Kick_02.wav",
                                                          "Kick_01.wav", "Kick_00.wav"]
    assert ls_names(pack_home, "type:loop bpm:115..125") == ["beat_120bpm.wav"]
    assert ls_names(pack_home, "kick -name:Kick_00*") == ["Kick_01.wav", "Kick_02.wav", "Kick_03.wav"]
    assert ls_names(pack_home, "hats limit:2") == ["hat_00.wav", "hat_01.wav"]
    bad = run_cli("ls", "cat:kick bpm:1x0", home=pack_home)
    assert bad.returncode == 2
    assert "bad query" in bad.stderr and "^" in bad.stderr and bad.stdout == ""
