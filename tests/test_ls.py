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


# -- the Python API and the CLI: the same words, the same rows (issue 21) -------------------

# (CLI arguments, the same as Library.ls arguments): every ls option, alone and combined.
SAME_WORDS = [
    ((), {}),
    (("--type", "loop"), {"type": "loop"}),
    (("--type", "oneshot"), {"type": "oneshot"}),
    (("--category", "Kick"), {"category": "Kick"}),
    (("--category", "kick,snare"), {"category": "kick,snare"}),
    (("--bpm", "118..130"), {"bpm": "118..130"}),
    (("--bpm", "..100"), {"bpm": "..100"}),
    (("--bpm", "120"), {"bpm": "120"}),
    (("--key", "Am"), {"key": "Am"}),
    (("--key", "A minor"), {"key": "A minor"}),
    (("--key", "8A"), {"key": "8A"}),
    (("--key", "Am~"), {"key": "Am~"}),
    (("--type", "loop", "--key", "C major"), {"type": "loop", "key": "C major"}),
    (("--limit", "3"), {"limit": 3}),
    (("cat:bass sort:name-",), {"query": "cat:bass sort:name-"}),
    (("type:loop", "--bpm", "100.."), {"query": "type:loop", "bpm": "100.."}),
    (("--min-confidence", "0.9"), {"min_confidence": 0.9}),
    (("--category", "kick", "--min-confidence", "0.5"), {"category": "kick", "min_confidence": 0.5}),
]


def test_api_and_cli_give_the_same_rows_for_the_same_words(demo_home: Path) -> None:
    from samplemind.library import Library

    with Library(demo_home) as library:
        everything = [s.to_json() for s in library.ls()]
        for args, kwargs in SAME_WORDS:
            api = [s.to_json() for s in library.ls(**kwargs)]
            assert api, (args, "the demo pack has something for every case")
            if kwargs and "limit" not in kwargs and "min_confidence" not in kwargs:
                assert len(api) < len(everything), args  # the filter did filter
            assert _ls(demo_home, *args) == api, args
        # Spellings of one key, a pair and the range's text, the option and the query term.
        assert [s.id for s in library.ls(key="Am")] == [s.id for s in library.ls(key="A minor")] \
            == [s.id for s in library.ls("key:Am")]
        assert [s.id for s in library.ls(bpm=(118, 130))] == \
            [s.id for s in library.ls(bpm="118..130")] == [s.id for s in library.ls("bpm:118..130")]
        assert [s.id for s in library.ls(bpm=(None, 100))] == [s.id for s in library.ls(bpm="..100")]
        # Plain words (--ask) are the built-in translator's query in both.
        words = "dark bass loop"
        query = library.ask(words, use_model=False).query
        assert query
        asked = [s.to_json() for s in library.ls(query)]
        assert asked and _ls(demo_home, "--ask", words, "--no-model") == asked


WRONG_WORDS = [
    (("--key", "H"), {"key": "H"}, "key is wrong: unknown key 'H'"),
    (("--bpm", "fast"), {"bpm": "fast"}, "bpm is wrong: bad number 'fast'"),
    (("--bpm", "130..120"), {"bpm": "130..120"}, "bpm is wrong: bad range '130..120' for bpm: 130 is more"),
    (("--type", "drone"), {"type": "drone"}, None),  # the CLI's choice list refuses it itself
    (("--category", ""), {"category": ""}, "category is wrong: empty value"),
    (("--min-confidence", "1.5"), {"min_confidence": 1.5}, None),
    (("--limit", "-1"), {"limit": -1}, None),
]


@pytest.mark.parametrize("args, kwargs, message", WRONG_WORDS)
def test_a_wrong_value_is_an_error_in_both_never_an_empty_result(
        demo_home: Path, args: tuple[str, ...], kwargs: dict, message: str | None) -> None:
    from samplemind.errors import BadValue
    from samplemind.library import Library

    result = run_cli("ls", *args, home=demo_home)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    if message:
        assert f"--{message}" in result.stderr
    with Library(demo_home) as library, pytest.raises(BadValue) as refused:
        list(library.ls(**kwargs))
    assert refused.value.name == next(iter(kwargs))
    if message:
        assert message in str(refused.value)
